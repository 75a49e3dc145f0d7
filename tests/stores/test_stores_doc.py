"""The worked example of docs/stores.md runs as the complete test module it
claims to be."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "stores.md"


def worked_example() -> str:
    text = DOC.read_text(encoding="utf-8")
    blocks: list[str] = re.findall(r"```python\n(.*?)```", text, re.S)
    (module,) = [block for block in blocks if "import pytest" in block]
    return module


def test_the_worked_example_is_a_test_module_that_passes(tmp_path: Path) -> None:
    module = tmp_path / "test_my_store.py"
    module.write_text(worked_example(), encoding="utf-8")
    # Enough checks to prove the fixtures work; the whole kit runs against
    # these stores in test_sqlite_conformance.py.
    quick = "fixture_gives or unknown_id_is_none or replaces or clear_deletes"
    pytest_run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]

    run = subprocess.run(
        [*pytest_run, "-W", "error", "-k", quick, str(module)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"\b8 passed\b", run.stdout), run.stdout
