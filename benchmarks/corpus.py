"""The benchmarks' workload: a seeded, densely cross-linked corpus and unique questions.

Every document is about one fictional company, person, place or product and
cross-links 5 to 10 others by name, so the knowledge graph LightRAG builds from
the fake provider's extraction (every capitalised phrase and every CJK run an
entity, entities of one sentence related) is dense: each entity is mentioned in
several documents, and a mix query pulls many entities, relations and chunks
into its context. Documents are 1.5-3 KB of UTF-8; about 15 % are in Chinese.
Questions each name one or two entities and never repeat, so no LLM cache can
answer for the model.

    python -m benchmarks.corpus [--docs 200] [--seed 7]          # statistics (JSON)
    python -m benchmarks.corpus --out DIR                         # one .txt per document
    python -m benchmarks.corpus --questions 5                     # a few questions

Pure standard library: the Locust file imports it too.
"""

# ruff: noqa: RUF001  (the Chinese templates use full-width punctuation on purpose)
from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

KINDS = ("company", "person", "place", "product")
CHINESE_SHARE = 0.15
MIN_BYTES, MAX_BYTES = 1500, 3000
LINKS = (5, 10)

# fmt: off
_SYLLABLES = ("ka", "lo", "mi", "ren", "to", "va", "sel", "dor", "qui", "an", "bel", "cor",
              "fen", "gil", "har", "ist", "jun", "kel", "mor", "nav")
_SURNAMES = ("Okafor", "Lindqvist", "Tanaka", "Moreau", "Haddad", "Iyer", "Costa", "Mensah",
             "Varga", "Novak", "Quispe")
_COMPANY_TAIL = ("Dynamics", "Labs", "Holdings", "Systems", "Works", "Foundry", "Analytics")
_PLACE_HEAD = ("Port", "Lake", "Mount", "Cape", "Fort", "Glen", "Saint")
_PRODUCT_TAIL = ("One", "Pro", "Max", "Lite", "Mark", "Prime")
_ZH_CHARS = "星河云海山川金石光明远华天宇青松白鹭锦绣长安龙凤瑞祥晨曦"
_ZH_SUFFIX = {"company": "科技", "person": "", "place": "市", "product": "号"}
_ZH_SURNAMES = "李王张刘陈杨黄赵周吴"
_WORDS = ("tidal turbines", "soil sensors", "glacier radar", "fog nets", "battery packs",
          "river barges", "seed banks", "cargo drones", "wind lidar", "salt farms",
          "grid storage", "water meters", "rail sleepers", "kelp fibre", "solar glass",
          "coral surveys", "bridge cables", "harbour cranes")
_ZH_WORDS = ("潮汐发电", "土壤传感", "冰川雷达", "储能电池", "货运无人机", "海藻纤维", "太阳能玻璃",
             "港口起重")
_VERBS = ("expanded", "reorganised", "audited", "financed", "rebuilt", "licensed", "relocated",
          "merged")
# fmt: on


@dataclass(frozen=True)
class Entity:
    name: str
    kind: str
    chinese: bool


@dataclass(frozen=True)
class Document:
    name: str
    subject: Entity
    links: tuple[Entity, ...]
    text: str


def _latin_name(kind: str, rnd: random.Random) -> str:
    stem = "".join(rnd.choice(_SYLLABLES) for _ in range(rnd.randint(2, 3))).capitalize()
    if kind == "company":
        return f"{stem} {rnd.choice(_COMPANY_TAIL)}"
    if kind == "person":
        return f"{stem} {rnd.choice(_SURNAMES)}"
    if kind == "place":
        return f"{rnd.choice(_PLACE_HEAD)} {stem}"
    return f"{stem} {rnd.choice(_PRODUCT_TAIL)}"


def _chinese_name(kind: str, rnd: random.Random) -> str:
    """Two to five CJK characters, none of them the fake extractor's function characters."""
    if kind == "person":
        return rnd.choice(_ZH_SURNAMES) + "".join(rnd.sample(_ZH_CHARS, 2))
    return "".join(rnd.sample(_ZH_CHARS, 2)) + _ZH_SUFFIX[kind]


def entities(count: int, seed: int) -> list[Entity]:
    """``count`` distinct entities, kinds in turn, about 15 % with Chinese names."""
    rnd = random.Random(seed)
    in_chinese = set(rnd.sample(range(count), k=round(count * CHINESE_SHARE)))
    found: dict[str, Entity] = {}
    while len(found) < count:
        kind = KINDS[len(found) % len(KINDS)]
        chinese = len(found) in in_chinese
        name = _chinese_name(kind, rnd) if chinese else _latin_name(kind, rnd)
        found.setdefault(name, Entity(name, kind, chinese))
    return list(found.values())


def _mention(entity: Entity, in_chinese: bool) -> str:
    """A Latin name inside Chinese text stands between spaces (else it fuses with the CJK)."""
    return f" {entity.name} " if in_chinese and not entity.chinese else entity.name


_EN_LINK = [
    "{s} signed a supply agreement with {o} in {year}, worth {n} million euros.",
    "{o} has worked closely with {s} since {year}, mostly on {w}.",
    "In {year}, {s} and {o} shared a test site for {w}.",
    "{s} was audited alongside {o} after a dispute over {w} in {year}.",
    "{s} hired former staff of {o} to run its {w} programme.",
    "{o} bought a {n} percent stake related to {s} during {year}.",
]
_EN_FILL = [
    "{s} {v} its {w} division in {year} and reported {n} thousand units shipped.",
    "{s} spent {n} million euros on {w} between {year} and {year2}, say local records.",
    "{s} depends too much on {w}, critics say: it made up {n} percent of its output.",
    "The archive of {s} lists {n} projects on {w}, most of them finished before {year2}.",
]
_ZH_LINK = [
    "{s}在{year}年和{o}的团队签订了关于{w}的协议，金额为{n}百万元。",
    "{o}从{year}年起与{s}一起合作，主要方向是{w}。",
    "据{year}年的报道，{s}与{o}一同建设了{w}试验场。",
    "{o}的前员工目前负责{s}的{w}项目。",
]
_ZH_FILL = [
    "{s}在{year}年调整了{w}部门，当年交付{n}千台设备。",
    "地方档案显示，{s}在{year}年到{year2}年间为{w}投入了{n}百万元。",
    "有评论认为{s}的业务过于依赖{w}，其占产出的{n}%。",
]


def _sentence(template: str, s: str, o: str, rnd: random.Random, zh: bool) -> str:
    year = rnd.randint(1988, 2021)
    what = rnd.choice(_ZH_WORDS if zh else _WORDS)
    return template.format(
        s=s, o=o, w=what, v=rnd.choice(_VERBS), n=rnd.randint(3, 97),
        year=year, year2=year + rnd.randint(1, 6),
    )  # fmt: skip


def _opening(subject: Entity, rnd: random.Random) -> str:
    noun = {
        "company": "a company",
        "person": "an engineer",
        "place": "a town",
        "product": "a device",
    }
    if subject.chinese:
        zh = {"company": "公司", "person": "工程师", "place": "城镇", "product": "设备"}
        unit = "位" if subject.kind == "person" else "家"
        return f"{subject.name}是一{unit}以{rnd.choice(_ZH_WORDS)}闻名的{zh[subject.kind]}。"
    return f"{subject.name} is {noun[subject.kind]} known for {rnd.choice(_WORDS)}."


def _text(subject: Entity, links: list[Entity], rnd: random.Random) -> str:
    """Link sentences for every linked entity (once or twice), then filler, to the size."""
    zh = subject.chinese
    link_t, fill_t = (_ZH_LINK, _ZH_FILL) if zh else (_EN_LINK, _EN_FILL)
    target = rnd.randint(MIN_BYTES, MAX_BYTES)
    parts = [_opening(subject, rnd)]
    mentions = links + rnd.sample(links, k=len(links) // 2)
    rnd.shuffle(mentions)
    for other in mentions:
        parts.append(_sentence(rnd.choice(link_t), subject.name, _mention(other, zh), rnd, zh))
    while True:
        nxt = _sentence(rnd.choice(fill_t), subject.name, "", rnd, zh)
        joined = ("" if zh else " ").join(parts)
        if len(joined.encode()) >= MIN_BYTES and len(joined.encode() + nxt.encode()) > target:
            return joined
        parts.append(nxt)


def corpus(docs: int = 200, seed: int = 7) -> list[Document]:
    """``docs`` documents, one per entity, each linking 5-10 of the others."""
    people = entities(docs, seed)
    rnd = random.Random(seed + 1)
    out = []
    for i, subject in enumerate(people):
        others = [e for e in people if e is not subject]
        links = rnd.sample(others, k=min(len(others), rnd.randint(*LINKS)))
        text = _text(subject, links, rnd)
        out.append(Document(f"doc-{i:04d}-{subject.kind}.txt", subject, tuple(links), text))
    return out


_EN_ONE = [
    "What is {a} known for?",
    "Which partners does {a} depend on?",
    "What happened to {a} in its most recent reported year?",
    "How much did {a} invest, according to the records?",
    "Who has worked with {a}, and on what?",
    "Summarise what the documents say about {a}.",
]
_EN_TWO = [
    "How is {a} related to {b}?",
    "What agreement links {a} and {b}?",
    "Did {a} ever share a site with {b}?",
    "Compare the work of {a} with that of {b}.",
]
_ZH_ONE = ["{a}的主要业务是什么？", "{a}的合作伙伴有哪些？", "{a}的投资规模有多大？"]
_ZH_TWO = ["{a}和{b}有什么关系？", "{a}与{b}的协议是什么？"]


def _question(doc: Document, rnd: random.Random) -> str:
    a, zh = doc.subject, doc.subject.chinese
    if rnd.random() < 0.5:
        return rnd.choice(_ZH_ONE if zh else _EN_ONE).format(a=a.name)
    b = rnd.choice(doc.links)
    return rnd.choice(_ZH_TWO if zh else _EN_TWO).format(a=a.name, b=_mention(b, zh))


def questions(docs: list[Document], seed: int = 11) -> Iterator[str]:
    """An endless stream of distinct questions, each naming one or two entities.

    Once every combination of template and entities has been asked, the same
    questions come back with a distinguishing suffix: still distinct texts.
    """
    rnd = random.Random(seed)
    seen: set[str] = set()
    misses = 0
    while True:
        question = _question(rnd.choice(docs), rnd)
        if misses > 50:
            question = f"{question} (#{len(seen)})"
        if question in seen:
            misses += 1
            continue
        misses = 0
        seen.add(question)
        yield question


def statistics(docs: list[Document]) -> dict[str, float]:
    """Sizes and density of the corpus: what a run's figures were measured on."""
    sizes = [len(d.text.encode()) for d in docs]
    mentioned: dict[str, int] = {}
    for doc in docs:
        for link in doc.links:
            mentioned[link.name] = mentioned.get(link.name, 0) + 1
    return {
        "documents": len(docs),
        "chinese_share": round(sum(d.subject.chinese for d in docs) / len(docs), 3),
        "bytes_min": min(sizes),
        "bytes_mean": round(sum(sizes) / len(sizes)),
        "bytes_max": max(sizes),
        "links_per_document": round(sum(len(d.links) for d in docs) / len(docs), 2),
        "documents_mentioning_an_entity": round(sum(mentioned.values()) / len(docs), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="write one .txt file per document here")
    parser.add_argument("--questions", type=int, default=0, help="print this many questions")
    args = parser.parse_args()
    docs = corpus(args.docs, args.seed)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for doc in docs:
            (args.out / doc.name).write_text(doc.text, encoding="utf-8")
    stream = questions(docs)
    for _ in range(args.questions):
        print(next(stream))
    print(json.dumps(statistics(docs), indent=2))


if __name__ == "__main__":
    main()
