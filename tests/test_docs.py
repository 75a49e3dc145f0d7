"""The documentation stays true to the code it describes."""

from __future__ import annotations

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
