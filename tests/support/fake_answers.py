"""What the fake provider answers: deterministic stand-ins for an LLM, embedder and reranker.

The chat answers follow LightRAG 1.5.7's prompts (``lightrag/prompt.py``) and
parse as its ``operate.py`` parses a real model's:

- entity extraction -> ``entity<|#|>name<|#|>type<|#|>description`` and
  ``relation<|#|>a<|#|>b<|#|>keywords<|#|>description`` rows ending with
  ``<|COMPLETE|>`` (or the JSON object of the JSON extraction mode). Entities are
  capitalised phrases and CJK runs of the input text, typed ``concept``,
  described by their sentence; entities of one sentence are related;
- the gleaning ("continue") prompt -> nothing missed: ``<|COMPLETE|>`` only;
- keyword extraction -> ``{"high_level_keywords", "low_level_keywords"}``;
- description summaries -> the first descriptions, joined;
- multimodal analysis (``lightrag/prompt_multimodal.py``: table, equation,
  image) -> the JSON object ``analyze_multimodal`` validates
  (``{"name", "description"}``, plus ``"equation"`` or ``"type"``), naming the
  item after its caption and describing it with its caption, body and a marker
  (:data:`TABLE_MARKER`, :data:`EQUATION_MARKER`, :data:`IMAGE_MARKER`);
  :func:`malformed_analysis` is what a model that ignores the schema says;
- anything else (the RAG answer) -> quotes the first sentence of each context
  chunk with its reference id, so a test can tell which chunks reached the LLM.

Embeddings hash word tokens (and CJK characters and bigrams) into a normalised
vector: texts sharing words are close.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Collection, Sequence
from typing import Any

TUPLE = "<|#|>"
#: Every answer to a message with an image part carries this marker.
IMAGE_MARKER = "FAKE-VLM-DESCRIPTION"
#: Every table / equation analysis answer carries its marker.
TABLE_MARKER = "FAKE-TABLE-ANALYSIS"
EQUATION_MARKER = "FAKE-EQUATION-ANALYSIS"
#: The first line of each of LightRAG 1.5.7's analysis prompts, by item kind.
ANALYSIS_PROMPTS = {
    "table": "You are an expert table analyzer.",
    "equation": "You are an expert analyzer of mathematical and chemical equations.",
    "image": "You are an expert image analyzer.",
}
COMPLETE = "<|COMPLETE|>"

_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s*|\n+")
_CAPITALISED = re.compile(r"\b[A-Z][\w'-]*(?:\s+(?:of\s+|de\s+)?[A-Z][\w'-]*)*")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_CJK_FUNCTION_CHARS = re.compile(r"[的是在和了与于由为有把被将对从到及并也都而这那个一]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "in",
        "on",
        "at",
        "of",
        "for",
        "to",
        "from",
        "by",
        "with",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "as",
        "into",
        "about",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "why",
        "when",
        "where",
        "does",
        "do",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "there",
        "their",
        "they",
        "them",
        "he",
        "she",
        "his",
        "her",
        "we",
        "our",
        "you",
        "your",
        "i",
        "me",
        "my",
        "not",
        "no",
        "yes",
        "if",
        "then",
        "than",
        "so",
        "such",
        "also",
    ]
)
_MAX_ENTITIES = 24
_MAX_RELATIONS = 24


def sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()]


def entity_names(sentence: str) -> list[str]:
    """Capitalised phrases (minus a leading stopword) and CJK runs, in order, unique."""
    found: list[str] = []
    for match in _CAPITALISED.finditer(sentence):
        words = match.group(0).split()
        while words and words[0].lower() in _STOP:
            words = words[1:]
        if words and len(" ".join(words)) > 1:
            found.append(" ".join(words))
    for run in _CJK_RUN.findall(sentence):
        found.extend(piece[:6] for piece in _CJK_FUNCTION_CHARS.split(run) if len(piece) >= 2)
    return list(dict.fromkeys(found))


def _clean(text: str, limit: int = 300) -> str:
    return " ".join(text.replace("<|", "<").replace("|>", ">").split())[:limit]


def extract(text: str) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(name, description) entities and (a, b, description) relations of ``text``."""
    entities: dict[str, str] = {}
    relations: dict[tuple[str, str], str] = {}
    for sentence in sentences(text):
        names = [name for name in entity_names(sentence) if len(entities) < _MAX_ENTITIES]
        for name in names:
            entities.setdefault(name, f"{name} appears in the text: {_clean(sentence)}")
        named = [name for name in names if name in entities]
        for left, right in itertools.pairwise(named):
            if len(relations) < _MAX_RELATIONS and left != right:
                relations.setdefault((left, right), f"{left} and {right}: {_clean(sentence)}")
    return list(entities.items()), [(a, b, d) for (a, b), d in relations.items()]


def extraction_records(text: str) -> str:
    entities, relations = extract(text)
    rows = [f"entity{TUPLE}{name}{TUPLE}concept{TUPLE}{desc}" for name, desc in entities]
    rows += [
        f"relation{TUPLE}{a}{TUPLE}{b}{TUPLE}related,co-occurrence{TUPLE}{d}"
        for a, b, d in relations
    ]
    return "\n".join([*rows, COMPLETE])


def extraction_json(text: str) -> str:
    entities, relations = extract(text)
    return json.dumps(
        {
            "entities": [{"name": n, "type": "concept", "description": d} for n, d in entities],
            "relationships": [
                {"source": a, "target": b, "keywords": "related", "description": d}
                for a, b, d in relations
            ],
        },
        ensure_ascii=False,
    )


def keywords(query: str) -> str:
    names = entity_names(query)
    words = [w for w in _WORD.findall(query) if w.lower() not in _STOP and len(w) > 2]
    low = list(dict.fromkeys([*names, *words]))[:8]
    high = list(dict.fromkeys(w.lower() for w in words if not _CJK_RUN.fullmatch(w)))[:3]
    return json.dumps({"high_level_keywords": high, "low_level_keywords": low}, ensure_ascii=False)


def summary(prompt: str) -> str:
    name = _between(prompt, " Name: ", "\n") or "The subject"
    descriptions = []
    for line in (_between(prompt, "Description List:\n\n```\n", "\n```") or "").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and item.get("description"):
            descriptions.append(str(item["description"]))
    return f"{name.strip()}: " + " ".join(descriptions[:3])[:600]


def _context_records(system: str) -> list[dict[str, Any]]:
    """The JSON-lines records of LightRAG's context (chunks, entities, relations)."""
    records = []
    for line in system.splitlines():
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def rag_answer(system: str, query: str) -> str:
    """Quote the first sentence of every context chunk, citing its reference id.

    With no chunk in the context, the entities' descriptions are quoted instead.
    """
    records = _context_records(system)
    quotes = []
    for chunk in (r for r in records if "content" in r and "reference_id" in r):
        first = sentences(str(chunk["content"]))
        if first:
            quotes.append(f"- {first[0]} [{chunk['reference_id']}]")
    if not quotes:
        quotes = [
            f"- {r['description']}" for r in records if r.get("entity") and r.get("description")
        ]
    if not quotes:
        return f"I do not have enough information to answer: {_clean(query, 200)}"
    references = [line for line in system.splitlines() if re.match(r"^\[\d+\] ", line)]
    body = "From the retrieved context:\n\n" + "\n".join(quotes[:5])
    if references:
        body += "\n\n### References\n\n" + "\n".join(f"- {ref}" for ref in references[:5])
    return body


def text_of(content: Any) -> str:
    """A message's text: the string, or the text parts of OpenAI content parts."""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return "\n".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


def _has_image(messages: Sequence[dict[str, Any]]) -> bool:
    return any(
        isinstance(p, dict) and p.get("type") == "image_url"
        for m in messages
        if isinstance(m.get("content"), list)
        for p in m["content"]
    )


def analysis_kind(messages: Sequence[dict[str, Any]]) -> str | None:
    """``"table"``, ``"equation"`` or ``"image"`` for an analysis prompt, else None."""
    text = "\n".join(text_of(m.get("content")) for m in messages)
    return next((kind for kind, head in ANALYSIS_PROMPTS.items() if head in text), None)


def _slug(text: str) -> str:
    words = [w.lower() for w in _WORD.findall(text) if w.lower() not in _STOP]
    return "_".join(words[:6])


def _fenced_after(prompt: str, heading: str) -> str:
    section = _between(prompt, heading, "================ ADDITIONAL") or ""
    return (_between(section, "```\n", "\n```") or "").strip()


def _label(kind: str, prompt: str) -> str:
    """The item's caption, else the text line next to it (before a table or an
    equation, after an image), as a model reading the context would name it."""
    caption = (_between(prompt, "- Captions: ", "\n") or "n/a").strip()
    if caption != "n/a":
        return caption
    side = "- Trailing Text:" if kind == "image" else "- Leading Text:"
    context = _between(
        _between(prompt, side, "\n- ") or prompt[prompt.find(side) :], "```\n", "\n```"
    )
    lines = [line.strip("# ").strip() for line in (context or "").splitlines()]
    lines = [line for line in lines if line and line != "n/a" and not line.startswith("<")]
    if not lines:
        return ""
    return lines[0] if kind == "image" else lines[-1]


def analysis(kind: str, prompt: str) -> str:
    """The JSON object LightRAG's ``analyze_multimodal`` accepts for one item.

    The description repeats the caption (its capitalised phrases become graph
    entities) and the item's body, and carries the kind's marker.
    """
    label = _label(kind, prompt)
    if kind == "table":
        body = _fenced_after(prompt, "TABLE CONTENT ================")
        name = f"{_slug(label or body) or 'unnamed'}_table"
        description = f"{label}. The table lists {_clean(body, 400)}. {TABLE_MARKER}"
        return json.dumps({"name": name, "description": description}, ensure_ascii=False)
    if kind == "equation":
        body = _fenced_after(prompt, "EQUATION BODY ================")
        name = f"{_slug(label or body) or 'unnamed'}_equation"
        description = f"{label}. The equation states {_clean(body, 300)}. {EQUATION_MARKER}"
        answer = {"name": name, "equation": body, "description": description}
        return json.dumps(answer, ensure_ascii=False)
    name = f"{_slug(label) or 'unnamed'}_figure"
    description = f"{label}. An image described for the index. {IMAGE_MARKER}"
    answer = {"name": name, "type": "Illustration", "description": description}
    return json.dumps(answer, ensure_ascii=False)


def malformed_analysis(kind: str) -> str:
    """An answer that ignores the analysis schema (no ``name``): LightRAG rejects it."""
    return f"Here is my analysis of the {kind}: it looks important."


def chat_answer(messages: Sequence[dict[str, Any]], malformed: Collection[str] = ()) -> str:
    """The answer LightRAG expects for whichever of its prompts ``messages`` carry.

    ``malformed``: analysis kinds (``"table"``, ``"equation"``, ``"image"``)
    answered with :func:`malformed_analysis` instead.
    """
    system = "\n".join(text_of(m.get("content")) for m in messages if m.get("role") == "system")
    users = [text_of(m.get("content")) for m in messages if m.get("role") == "user"]
    last = users[-1] if users else ""
    kind = analysis_kind(messages)
    if kind is not None:
        if kind in malformed:
            return malformed_analysis(kind)
        return analysis(kind, "\n".join([system, last]))
    if _has_image(messages):
        return f"An image described for the index. {IMAGE_MARKER} Prompt: {_clean(last, 300)}"
    json_mode = "JSON Contract" in system
    if "Based on the last extraction task" in last:
        return json.dumps({"entities": [], "relationships": []}) if json_mode else COMPLETE
    if "---Input Text---" in last:
        text = _between(last, "---Input Text---\n```\n", "\n```") or ""
        return extraction_json(text) if json_mode else extraction_records(text)
    if "Description List:" in last:
        return summary(last)
    if "high_level_keywords" in last and "User Query:" in last:
        return keywords(_between(last, "User Query:", "\n---Output---") or "")
    return rag_answer(system, last)


def _between(text: str, start: str, end: str) -> str | None:
    begin = text.find(start)
    if begin < 0:
        return None
    begin += len(start)
    stop = text.find(end, begin)
    return text[begin:] if stop < 0 else text[begin:stop]


def _tokens(text: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(text) if not _CJK_RUN.fullmatch(w)]
    for run in _CJK_RUN.findall(text):
        words.extend(run)
        words.extend(run[i : i + 2] for i in range(len(run) - 1))
    return words


def embedding(text: str, dim: int) -> list[float]:
    """A deterministic, normalised bag-of-hashed-tokens vector."""
    vector = [0.0] * dim
    vector[0] = 0.05  # never the zero vector (cosine of an empty text stays defined)
    for token in _tokens(text):
        digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % dim
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def relevance(query: str, document: str) -> float:
    """Share of the query's tokens found in the document (0..1)."""
    wanted = set(_tokens(query))
    if not wanted:
        return 0.0
    return len(wanted & set(_tokens(document))) / len(wanted)
