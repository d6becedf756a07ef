"""Importing the LightRAG adapter leaves out what ragapi never uses (docs/decisions/0502)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import ragapi_common.rag._lightrag
import lightrag.utils
assert lightrag.utils._PYPINYIN_AVAILABLE is False, "LightRAG found pypinyin"
print(sorted(n for n in sys.modules if n.split(".")[0] == "pypinyin" and sys.modules[n]))
"""


def test_the_lightrag_adapter_does_not_load_pypinyin_nor_warn_about_it() -> None:
    # A fresh interpreter: this test process may have imported anything already.
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert "pypinyin" not in done.stderr
