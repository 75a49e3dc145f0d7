"""Field reports, header emission: nothing a configuration or an id factory
can hold ever puts a separator, a line break or a non-ASCII character into
a ``Set-Cookie`` header."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from sessions import ConfigError, CookieOptions, InvalidSessionIdError, SessionConfig
from tests.behaviour.harness import SECRET, MakeServer, session_config

INJECTIONS = [
    ({"name": "sid; Domain=evil.example"}, "name"),
    ({"name": "sid\r\nSet-Cookie: admin=1"}, "name"),
    ({"name": "sid\n"}, "name"),
    ({"name": "s\u00efd"}, "name"),
    ({"name": "a,b"}, "name"),
    ({"cookie": {"path": "/app; HttpOnly=0"}}, "cookie.path"),
    ({"cookie": {"path": "/app\r\nX-Injected: 1"}}, "cookie.path"),
    ({"cookie": {"path": "/app,/other"}}, "cookie.path"),
    ({"cookie": {"path": "/caf\u00e9"}}, "cookie.path"),
    ({"cookie": {"path": "/app "}}, "cookie.path"),
    ({"cookie": {"domain": "example.com;Secure"}}, "cookie.domain"),
    ({"cookie": {"domain": "example.com\r\n"}}, "cookie.domain"),
    ({"cookie": {"domain": "example.com,evil.example"}}, "cookie.domain"),
    ({"cookie": {"domain": "ex ample.com"}}, "cookie.domain"),
    ({"cookie": {"domain": "b\u00fccher.example"}}, "cookie.domain"),
]


@pytest.mark.parametrize(("options", "field"), INJECTIONS)
def test_f_injection_through_the_configuration_is_a_config_error(
    options: dict[str, Any], field: str
) -> None:
    cookie = options.pop("cookie", {})
    with pytest.raises(ConfigError) as caught:
        SessionConfig(secret=SECRET, cookie=CookieOptions(**cookie), **options)

    assert caught.value.field == field


INJECTED_IDS = [
    "a;b",
    "a,b",
    "abc\r\nSet-Cookie: admin=1",
    "abc\n",
    "a b",
    "caf\u00e9",
    "a=b",
    'a"b',
    "a\\b",
]


def test_f_injection_through_an_id_is_refused_where_the_id_is_made(
    make_server: MakeServer,
) -> None:
    ids: Iterator[str] = iter(INJECTED_IDS)
    server = make_server(config=session_config(genid=lambda: next(ids)))

    replies = [server.client().get("/?set=user:ada") for _ in INJECTED_IDS]

    assert [reply.status for reply in replies] == [500] * len(INJECTED_IDS)
    assert all(reply.set_cookie_fields == () for reply in replies)
    assert all("admin" not in str(reply.headers) for reply in replies)
    assert server.store.calls == []
    errors = server.probe.take_errors()
    assert [type(error) for error in errors] == [InvalidSessionIdError] * len(
        INJECTED_IDS
    )


# A session Set-Cookie field: the name, a cookie-octet value, then attributes
# whose values hold no ";", "," or anything outside printable ASCII; only the
# Expires date has its own comma and spaces.
SAFE_FIELD = re.compile(
    r"sid=[!#-+\--:<-\[\]-~]*"
    r"(?:; (?:Expires=[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} "
    r"[0-9]{2}:[0-9]{2}:[0-9]{2} GMT|[A-Za-z-]+(?:=[!-+\--:<-~]+)?))*"
)


def test_f_injection_impossible_in_any_emitted_cookie(
    make_server: MakeServer,
) -> None:
    server = make_server(
        config=session_config(
            cookie=CookieOptions(
                max_age=60, domain="example.com", path="/", priority="medium"
            )
        )
    )
    client = server.client()
    fields: list[str] = []
    held = ""

    for query in ["set=a:1", "touch=1", "regenerate=1", "max_age=120", "destroy=1"]:
        reply = client.get(f"/?{query}", cookie=f"sid={held}")
        fields += reply.set_cookie_fields
        held = reply.sent_cookie.value

    assert len(fields) == 5
    assert [field for field in fields if not SAFE_FIELD.fullmatch(field)] == []
