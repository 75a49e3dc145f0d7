"""docs/testing.md shows the worked example exactly as the suite runs it,
and names every strategy and client it documents."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from sessions.testing import strategies

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "testing.md"
EXAMPLE = re.compile(
    r"<!-- example: (?P<path>\S+) -->\n"
    r"```python\n(?P<code>.*?)```\n"
    r"<!-- example: end -->",
    re.S,
)


def test_the_worked_example_is_the_test_module_itself() -> None:
    found = EXAMPLE.search(DOC.read_text(encoding="utf-8"))
    assert found is not None, "docs/testing.md lost its example markers"

    module = ROOT / found.group("path")
    assert found.group("code") == module.read_text(encoding="utf-8"), (
        f"docs/testing.md shows an old copy of {found.group('path')}; paste the "
        "file between the markers again"
    )


@pytest.mark.parametrize(
    "name",
    sorted(
        name
        for name in strategies.__all__
        if inspect.isfunction(getattr(strategies, name)) or name == "CookieHeader"
    ),
)
def test_every_strategy_is_documented(name: str) -> None:
    text = DOC.read_text(encoding="utf-8")

    assert re.search(rf"`(sst\.)?{name}\b", text), f"docs/testing.md misses {name}"


@pytest.mark.parametrize(
    "name", ["WSGIClient", "ASGIClient", "AiohttpClient", "TornadoClient"]
)
def test_every_client_is_documented(name: str) -> None:
    assert f"`{name}(" in DOC.read_text(encoding="utf-8")
