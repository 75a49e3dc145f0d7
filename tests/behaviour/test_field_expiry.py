"""Field reports, expiry: no lifetime of zero or less ever reaches a cookie or
a store, a rolling browser-session cookie stays one, and after every response
the store keeps a session exactly as long as the client's cookie lasts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sessions import ConfigError, CookieOptions
from tests.behaviour.harness import MakeServer, Server, session_config

EPOCH_EXPIRES = "Thu, 01 Jan 1970 00:00:00 GMT"


# -- zero and negative -----------------------------------------------------------


@pytest.mark.parametrize(
    "max_age", [0, -1, -3600, timedelta(0), timedelta(seconds=-5)], ids=repr
)
def test_f_zero_and_negative_max_age_is_a_config_error(max_age: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        CookieOptions(max_age=max_age)

    assert caught.value.field == "cookie.max_age"
    assert "None" in str(caught.value)


ENDINGS = [
    "expires_past=1",
    "max_age=0",
    "max_age=-60",
    "set=a:2&expires_past=1",
    "max_age=0&save=1",
    "max_age=-1&save=1&set=c:3",
    "touch=1&max_age=0",
]


DELETION = f"sid=; Path=/; Max-Age=0; Expires={EPOCH_EXPIRES}; HttpOnly; SameSite=Lax"


def test_f_zero_and_negative_lifetime_from_the_handler_ends_it_like_destroy(
    server: Server,
) -> None:
    wrong: dict[str, object] = {}

    for number, query in enumerate(ENDINGS):
        session_id = f"session-{number}"
        cookie = server.seed({"a": 1}, session_id=session_id)
        calls = len(server.store.calls)
        reply = server.client().get(f"/?{query}", cookie=cookie)
        replay = server.client().get("/", cookie=cookie)
        operations = [call.operation for call in server.store.calls[calls:]]
        seen = (reply.status, operations, reply.set_cookie_fields, replay.is_new)
        if seen != (200, ["get", "destroy", "get"], (DELETION,), True):
            wrong[query] = seen
        if server.store.peek(session_id) is not None:
            wrong[query] = "still stored"

    assert wrong == {}


def test_f_zero_and_negative_lifetime_of_a_new_session_stores_nothing(
    server: Server,
) -> None:
    replies = {query: server.client().get(f"/?set=b:1&{query}") for query in ENDINGS}

    assert {query: reply.status for query, reply in replies.items()} == dict.fromkeys(
        ENDINGS, 200
    )
    assert [query for query, reply in replies.items() if reply.set_cookie_fields] == []
    assert server.store.calls == []


# -- rolling with no max-age -----------------------------------------------------


@pytest.mark.parametrize("query", ["", "set=b:2", "touch=1"])
def test_f_rolling_with_no_max_age_keeps_a_browser_cookie_and_refreshes_the_store(
    make_server: MakeServer, query: str
) -> None:
    server = make_server(
        config=session_config(
            cookie=CookieOptions(max_age=None), rolling=True, idle_timeout=3600
        )
    )
    cookie = server.seed({"a": 1}, max_age=None, expires_in=10)

    reply = server.client().get(f"/?{query}", cookie=cookie)

    sent = reply.sent_cookie
    assert (sent.max_age, sent.expires) == (None, None)
    assert "max-age" not in sent.attributes
    record = server.store.peek("seeded-session")
    assert record is not None
    assert record.max_age is None
    assert reply.dated(record.expires, 3600)


def test_f_rolling_with_no_max_age_on_a_new_session(make_server: MakeServer) -> None:
    server = make_server(
        config=session_config(
            cookie=CookieOptions(max_age=None), rolling=True, idle_timeout=3600
        )
    )
    client = server.client()

    created = client.get("/?set=a:1")
    again = client.get("/")

    for reply in (created, again):
        sent = reply.sent_cookie
        assert (sent.max_age, sent.expires) == (None, None)
    assert again.session_id == created.session_id
    record = server.store.peek(created.session_id)
    assert record is not None
    assert again.dated(record.expires, 3600)


# -- cookie and store agree ------------------------------------------------------

STEPS = [
    "set=a:1",
    "",
    "max_age=120",
    "set=b:2",
    "touch=1",
    "",
    "set=c:3&save=1",
    "save=1",
    "reload=1",
    "regenerate_keep=1",
    "append=d:1",
    "max_age=30&save=1",
    "regenerate=1&set=e:1&save=1",
    "",
]


@pytest.mark.parametrize(
    "options",
    [{}, {"rolling": True}, {"resave": True}, {"save_uninitialized": True}],
    ids=["default", "rolling", "resave", "save_uninitialized"],
)
def test_f_cookie_and_store_agree_after_every_response(
    make_server: MakeServer, options: dict[str, Any]
) -> None:
    server = make_server(config=session_config(**options))
    client = server.client()
    last_sent = None
    disagreements: dict[int, str] = {}

    for step, query in enumerate(STEPS):
        reply = client.get(f"/?{query}")
        last_sent = reply.session_cookie or last_sent
        assert last_sent is not None, query
        if server.verify(last_sent.value) != reply.session_id:
            disagreements[step] = "the client holds another id"
        elif not server.store.agrees_with(reply.session_id, last_sent):
            disagreements[step] = query

    assert disagreements == {}
