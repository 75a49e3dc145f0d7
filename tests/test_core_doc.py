"""docs/core.md, the guide to writing an adapter, stays true to the code: its
snippets run as the one program they say they are, and it covers every
decision and state the cycle has."""

from __future__ import annotations

import importlib
import logging
import re
from pathlib import Path

import pytest

import sessions.cycle
from sessions import CycleState

PAGE = Path(__file__).resolve().parent.parent / "docs" / "core.md"
SNIPPET = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)
INCLUDE = re.compile(r"--8<--\n([^\n]+)\n--8<--\n")
"""A snippet that shows a file of the repository: pymdownx.snippets' block
form, which, unlike the one-line form, ruff's Markdown formatting leaves
alone (it does not parse as Python)."""


def snippets() -> list[tuple[int, str]]:
    """Each Python snippet of the page, with the line it starts on."""
    text = PAGE.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, match.start(1)), match.group(1))
        for match in SNIPPET.finditer(text)
    ]


def test_the_snippets_run_in_order_as_one_program(
    caplog: pytest.LogCaptureFixture,
) -> None:
    found = snippets()
    namespace: dict[str, object] = {"__name__": "core_doc"}

    assert len(found) >= 8, "docs/core.md lost its snippets"
    for line, code in found:
        include = INCLUDE.fullmatch(code)
        if include is not None:
            # A file shown as it is: it has tests of its own.
            assert (PAGE.parent.parent / include.group(1)).is_file()
            continue
        # Padding puts a traceback on the page's own line numbers.
        exec(compile("\n" * line + code, str(PAGE), "exec"), namespace)

    # The snippets' own requests were all fine: nothing was logged as lost.
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []


DECISIONS = [
    "RequestFacts",
    "NoSession",
    "SessionReady",
    "LoadSession",
    "Save",
    "Update",
    "Touch",
    "Destroy",
    "SetCookie",
    "ClearCookie",
    "CookieWithheld",
    "ChangesDropped",
    "SyncRunner",
    "AsyncRunner",
]


def test_the_page_covers_every_decision_and_effect() -> None:
    text = PAGE.read_text(encoding="utf-8")

    assert set(DECISIONS) <= set(sessions.cycle.__all__) | {"SyncRunner", "AsyncRunner"}
    assert [name for name in DECISIONS if f"`{name}" not in text] == []


def test_the_states_table_lists_every_state() -> None:
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("\n## The states\n", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([a-z-]+)` \|", section, re.M)

    assert listed == [state.value for state in CycleState]


def test_every_name_the_page_lists_is_importable_where_it_says() -> None:
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("\n## The names\n", 1)[1]
    from_package, from_modules = section.split("From their modules:", 1)
    from_package = from_package.split(":", 1)[1]  # after "importable from ..."
    places = [("sessions", re.findall(r"`(\w+)`", from_package))]
    places += [
        (module, re.findall(r"`(\w+)`", names))
        for names, module in re.findall(
            r"((?:`\w+`(?:,\s+|\s+and\s+)?)+)\s+\(`([\w.]+)`\)", from_modules
        )
    ]
    missing = [
        f"{module}.{name}"
        for module, names in places
        for name in names
        if not hasattr(importlib.import_module(module), name)
    ]

    assert sum(len(names) for _, names in places) >= 30  # the parse found them
    assert missing == []
