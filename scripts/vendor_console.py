"""Vendor the console's browser libraries from the npm registry at pinned versions.

For each package: download its tarball, check it against the registry's ``sha512`` integrity
(and the one pinned here, so a re-published tarball is noticed), then copy its browser ES
module build and its licence files into ``libs/common/ragapi_common/console/static/vendor``.
No Node toolchain: plain Python, run by a developer when a pin changes; the output is
committed. ``python scripts/vendor_console.py [--check]`` (``--check``: compare only).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
VENDOR = Path(__file__).resolve().parents[1] / "libs/common/ragapi_common/console/static/vendor"

# name, version, sha512 integrity, {file in the tarball: name in vendor/}
PINS = (
    (
        "cytoscape",
        "3.35.0",
        "sha512-sMvBIXiGMnhkCaWz2R06FwF/27MNlS+Tqvi17foO9UhnUg3XGZccKjxsvEqQFAQYMSSZmN5SxYzUYlQ0DOJJ3g==",
        {"dist/cytoscape.esm.min.mjs": "cytoscape.esm.min.js", "LICENSE": "cytoscape.LICENSE"},
    ),
    (
        "marked",
        "18.3.0",
        "sha512-ed8zmPXlBb3UfGXN5iHMQyMhFpdqLgoV5umUXx/Q1R+FW3q8VpqpyoKUwlENL9appo2UMvNLURDVaT3AMOryGA==",
        {"lib/marked.esm.js": "marked.esm.js", "LICENSE": "marked.LICENSE"},
    ),
    (
        "dompurify",
        "3.5.0",
        "sha512-LYC0ZkE8P1V42JsRYTwMdme/2ET8SpOc5AA2eOFjP/IadvRd2fwiT4TVz5vkfy0XUx12aS2UaRkTnfVPNOv9vw==",
        {
            "dist/purify.es.mjs": "purify.es.js",
            "LICENSE": "dompurify.LICENSE",
        },
    ),
)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310 (https only)
        data: bytes = answer.read()
    return data


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _files(name: str, version: str, pinned: str, wanted: dict[str, str]) -> dict[str, bytes]:
    meta = json.loads(_get(f"{REGISTRY}/{name}/{version}"))
    published = meta["dist"]["integrity"]
    if published != pinned:
        raise SystemExit(f"{name}@{version}: registry says {published}, pinned {pinned}")
    tarball = _get(meta["dist"]["tarball"])
    if _integrity(tarball) != pinned:
        raise SystemExit(f"{name}@{version}: the tarball does not match its integrity")
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for member, target in wanted.items():
            extracted = tar.extractfile(f"package/{member}")
            if extracted is None:
                raise SystemExit(f"{name}@{version}: no {member}")
            data = extracted.read()
            # The source maps are not vendored: drop the comment that points at them.
            lines = data.split(b"\n")
            kept = [line for line in lines if not line.startswith(b"//# sourceMappingURL=")]
            out[target] = b"\n".join(kept)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with vendor/")
    args = parser.parse_args()
    VENDOR.mkdir(parents=True, exist_ok=True)
    stale = []
    manifest = {}
    for name, version, integrity, wanted in PINS:
        manifest[name] = {
            "version": version,
            "integrity": integrity,
            "files": sorted(wanted.values()),
        }
        for target, data in _files(name, version, integrity, wanted).items():
            path = VENDOR / target
            if args.check:
                if not path.exists() or path.read_bytes() != data:
                    stale.append(target)
            else:
                path.write_bytes(data)
    text = json.dumps(manifest, indent=2) + "\n"
    if args.check:
        if (VENDOR / "versions.json").read_text() != text:
            stale.append("versions.json")
        for target in stale:
            print(f"stale: {target}", file=sys.stderr)
        return 1 if stale else 0
    (VENDOR / "versions.json").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
