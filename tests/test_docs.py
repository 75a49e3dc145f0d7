"""The documentation stays true to the code it describes."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import attrs
import pytest

from sessions import CookieOptions, SessionConfig
from sessions.cycle import TRANSITIONS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def transition_table() -> str:
    """The Markdown table of the cycle's transitions, rendered from code."""
    rows = ["| state | event | next state |", "| --- | --- | --- |"]
    rows += [
        f"| `{state.value}` | {event.value} | `{target.value}` |"
        for (state, event), target in TRANSITIONS.items()
    ]
    return "\n".join(rows)


def test_concepts_page_shows_the_transition_table_of_the_code() -> None:
    text = (DOCS / "concepts.md").read_text(encoding="utf-8")
    found = re.search(
        r"<!-- transitions:start -->\n(.*?)\n<!-- transitions:end -->", text, re.S
    )
    assert found is not None, "docs/concepts.md lost its transition table markers"
    assert found.group(1) == transition_table(), (
        "docs/concepts.md is out of date; replace the table with:\n"
        + transition_table()
    )


@pytest.mark.parametrize("options", [SessionConfig, CookieOptions])
def test_configuration_page_documents_every_option(options: type) -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `(\w+)` \| ([^|]+) \|", text, re.M)
    }
    for field in attrs.fields(options):
        assert field.name in rows, f"docs/configuration.md misses {field.name}"


def test_configuration_page_states_the_real_defaults() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    config = SessionConfig(secret="documentation")
    cookie = config.cookie
    expected = {
        "name": f'`"{config.name}"`',
        "trust_proxy": f"`{config.trust_proxy}`",
        "rolling": f"`{config.rolling}`",
        "resave": f"`{config.resave}`",
        "save_uninitialized": f"`{config.save_uninitialized}`",
        "unset": f'`"{config.unset}"`',
        "idle_timeout": f"`{config.idle_timeout}` (one day)",
        "absolute_timeout": f"`{config.absolute_timeout}`",
        "touch_after": f"`{config.touch_after}`",
        "store_outage": f'`"{config.store_outage}"`',
        "path": f'`"{cookie.path}"`',
        "domain": f"`{cookie.domain}`",
        "http_only": f"`{cookie.http_only}`",
        "secure": f'`"{cookie.secure}"`',
        "same_site": f'`"{cookie.same_site}"`',
        "max_age": f"`{cookie.max_age}`",
        "partitioned": f"`{cookie.partitioned}`",
        "priority": f"`{cookie.priority}`",
    }
    for name, default in expected.items():
        assert f"| `{name}` | {default} |" in text, f"default of {name} is wrong"


# -- docs/behaviours.md: every behaviour mapped to tests that exist -----------

ROOT = DOCS.parent
SPECIFICATIONS = ROOT.parent / "shared" / "behaviours"
PARITY_LINES = range(1, 45)
FIELD_KINDS = [
    "One malformed neighbour hides the session cookie",
    "Separators and whitespace",
    "Empty value",
    "Bytes that do not decode",
    "Hostile size",
    "The same name twice",
    "Every malformed shape is a miss, not a 500",
    "Rotation",
    "Zero and negative",
    "Rolling with no max-age",
    "Cookie and store agree",
    "Untouched traffic writes nothing",
    "Every mutator counts",
    "Never adopt a client's id",
    "Regenerate deletes",
    "Deletion mirrors creation",
    "List-valued forwarded headers",
    "Injection",
    "A store outage is not a logout",
    "A failed save is not a success",
    "No silent conversion",
    "Expiry survives a JSON store",
    "Writes after commit are not lost silently",
]
NODE_ID = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def behaviour_rows(heading: str) -> dict[str, list[tuple[str, str]]]:
    """The rows of the table under ``## heading`` in docs/behaviours.md: the
    first cell that names the behaviour (the line number, or the kind) and
    the test node ids of the last cell, as (file, function) pairs."""
    text = (DOCS / "behaviours.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[tuple[str, str]]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if not line.startswith("|") or cells[0] in ("line", "section", "---"):
            continue
        key = cells[0] if heading.startswith("Parity") else cells[1]
        assert key not in rows, f"{key!r} has two rows in docs/behaviours.md"
        rows[key] = NODE_ID.findall(cells[-1])
    return rows


def parity_rows() -> dict[str, list[tuple[str, str]]]:
    return behaviour_rows("Parity with express-session")


def field_rows() -> dict[str, list[tuple[str, str]]]:
    return behaviour_rows("Field reports")


def test_the_lists_of_behaviours_here_match_the_specifications() -> None:
    # The specifications sit beside the project; where they are, the lists
    # this module checks against must follow them.
    parity = SPECIFICATIONS / "express-parity.md"
    field = SPECIFICATIONS / "field-reports.md"
    if not (parity.is_file() and field.is_file()):
        pytest.skip("the behaviour specifications are not beside the project")
    numbers = re.findall(r"^(\d+)\. ", parity.read_text(encoding="utf-8"), re.M)
    kinds = re.findall(r"^- \*\*(.+?)\.?\*\*", field.read_text(encoding="utf-8"), re.M)
    assert [int(number) for number in numbers] == list(PARITY_LINES)
    assert kinds == FIELD_KINDS


def test_behaviours_page_maps_every_parity_line_and_field_kind() -> None:
    assert list(parity_rows()) == [str(line) for line in PARITY_LINES]
    assert list(field_rows()) == FIELD_KINDS
    unproven = [
        key for key, tests in {**parity_rows(), **field_rows()}.items() if not tests
    ]
    assert unproven == [], "rows without a test"


def _test_function(path: str, name: str) -> object:
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return getattr(module, name, None)


def test_every_test_the_behaviours_page_names_exists() -> None:
    named = {test for tests in parity_rows().values() for test in tests}
    named |= {test for tests in field_rows().values() for test in tests}
    missing = sorted(
        f"{path}::{name}"
        for path, name in named
        if not (name.startswith("test_") and callable(_test_function(path, name)))
    )
    assert missing == []


def _behaviour_tests(prefix: str) -> set[tuple[str, str]]:
    """Every test function named ``<prefix>...`` in the behaviour suite."""
    found = set()
    for path in sorted((ROOT / "tests" / "behaviour").glob("test_*.py")):
        relative = path.relative_to(ROOT).as_posix()
        module = importlib.import_module(relative.removesuffix(".py").replace("/", "."))
        found |= {(relative, name) for name in vars(module) if name.startswith(prefix)}
    return found


def test_every_parity_test_is_listed_under_its_line() -> None:
    rows = parity_rows()
    misplaced = sorted(
        f"{path}::{name}"
        for path, name in _behaviour_tests("test_p")
        if (path, name) not in rows.get(name[6:].split("_", 1)[0], [])
    )
    assert misplaced == [], "a test_pNN_ test missing from row NN"


def test_every_field_test_is_listed_under_a_kind() -> None:
    listed = {test for tests in field_rows().values() for test in tests}
    unlisted = sorted(
        f"{path}::{name}"
        for path, name in _behaviour_tests("test_f_")
        if (path, name) not in listed
    )
    assert unlisted == []
