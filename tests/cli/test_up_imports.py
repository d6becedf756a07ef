"""``ragapi up`` refuses to start when a service does not import, and says why."""

from __future__ import annotations

import os
from pathlib import Path

from tests.cli.stack import run_cli
from tests.support.servers import free_port


async def test_a_service_that_does_not_import_stops_up_with_the_import_error(
    tmp_path: Path,
) -> None:
    # A ragapi_ocr package earlier on the path, needing a module that is not installed:
    # what a missing extra looks like to the process.
    shadow = tmp_path / "shadow"
    (shadow / "ragapi_ocr").mkdir(parents=True)
    (shadow / "ragapi_ocr" / "__init__.py").write_text("import ragapi_extra_not_installed\n")
    path = os.pathsep.join(p for p in (str(shadow), os.environ.get("PYTHONPATH", "")) if p)
    data_dir = tmp_path / "data"

    code, out, err = await run_cli(
        "up", "--port", str(free_port()), "--data-dir", str(data_dir), PYTHONPATH=path
    )

    assert code == 1, (out, err)
    assert "service ocr cannot be imported" in err
    assert "No module named 'ragapi_extra_not_installed'" in err
    assert "ragapi is up" not in out
    assert not data_dir.exists(), "nothing was written or started before the check"
