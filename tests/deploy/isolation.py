"""Which installed modules an image for one service does not carry.

Run as ``python -m tests.deploy.isolation SERVICE BLOCKED_JSON`` it makes those modules
unimportable, imports the service the way ``ragapi serve`` does, and prints what failed.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import json
import pkgutil
import re
import sys
import tomllib
from collections.abc import Iterable
from typing import Any

from tests.deploy.manifests import ROOT


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(extras: Iterable[str]) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = list(project["dependencies"])
    for extra in extras:
        found += project["optional-dependencies"][extra]
    return found


def closure(extras: Iterable[str]) -> set[str]:
    """Canonical names of every distribution the project's base plus ``extras`` pull in."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    pending = [Requirement(r) for r in _requirements(extras)]
    while pending:
        requirement = pending.pop()
        name = _canonical(requirement.name)
        key = name + "[" + ",".join(sorted(requirement.extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            child = Requirement(text)
            wanted = requirement.extras or {""}
            if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in wanted):
                pending.append(child)
    return {key.partition("[")[0] for key in seen}


def blocked_modules(extras: Iterable[str], every_extra: Iterable[str]) -> list[str]:
    """Top-level modules installed here only for extras the image leaves out."""
    allowed = closure(extras) | {"ragapi"}
    absent = closure(every_extra) - allowed
    blocked = []
    for module, dists in metadata.packages_distributions().items():
        owners = {_canonical(d) for d in dists}
        if owners & absent and not owners & allowed:
            blocked.append(module)
    return sorted(blocked)


class _Absent:
    """A finder that answers "not installed" for the blocked top-level modules."""

    def __init__(self, blocked: set[str]) -> None:
        self.blocked = blocked

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.partition(".")[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named {name!r} in this image", name=name)


def _import_all(package: str) -> list[str]:
    """Import the package and every submodule; answer the failures."""
    failures = []
    for info in _walk(package):
        try:
            importlib.import_module(info.name)
        except ImportError as error:
            failures.append(f"{info.name}: {error}")
    return failures


def main(service: str, blocked: list[str]) -> None:
    sys.meta_path.insert(0, _Absent(set(blocked)))
    from ragapi_cli import main as cli_main  # noqa: F401 - the console script's module
    from ragapi_cli.services import spec_of

    spec = spec_of(service)
    failures = _import_all(spec.package)
    # What `ragapi serve` imports lazily for this service.
    lazy = [f"{spec.package}.app", f"{spec.package}.settings"]
    if spec.uses_rag:
        lazy += [info.name for info in _walk("ragapi_common.rag")]
    for name in lazy:
        try:
            importlib.import_module(name)
        except ImportError as error:
            failures.append(f"{name}: {error}")
    print(json.dumps(failures))


def _walk(package: str) -> list[pkgutil.ModuleInfo]:
    module = importlib.import_module(package)
    return list(pkgutil.walk_packages(module.__path__, prefix=package + "."))


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]))
