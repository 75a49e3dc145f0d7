"""Express parity, ``save_uninitialized``, ``resave`` and ``rolling`` (lines
15-22): the store is written and the cookie sent only for real changes, or
when an option asks for it."""

from __future__ import annotations

import pytest

from sessions import CookieOptions
from tests.behaviour.client import expiry
from tests.behaviour.harness import MakeServer, Server, session_config


@pytest.mark.parametrize("rolling", [False, True])
def test_p15_uninitialised_session_is_not_saved(
    make_server: MakeServer, rolling: bool
) -> None:
    server = make_server(config=session_config(rolling=rolling))
    client = server.client()

    replies = [client.get("/"), client.get("/", cookie="theme=dark"), client.get("/")]

    assert all(reply.is_new for reply in replies)
    assert all(reply.set_cookie_fields == () for reply in replies)
    assert server.store.calls == []
    assert server.store.memory.length() == 0


def test_p16_save_uninitialized_stores_an_untouched_session(
    make_server: MakeServer,
) -> None:
    server = make_server(config=session_config(save_uninitialized=True))
    client = server.client()

    reply = client.get("/")
    again = client.get("/")

    assert server.store.ids("set") == [reply.session_id]
    cookie = reply.session_cookie
    assert cookie is not None
    assert server.verify(cookie.value) == reply.session_id
    assert again.session_id == reply.session_id
    assert again.set_cookie_fields == ()


def test_p17_unchanged_returning_session_is_not_written(server: Server) -> None:
    cookie = server.seed({"a": 1})

    reply = server.client().get("/", cookie=cookie)

    assert reply.data == {"a": 1}
    assert reply.set_cookie_fields == ()
    assert server.store.count("set") == 0
    assert server.store.count("destroy") == 0


def test_p18_resave_writes_an_unchanged_session_without_a_cookie(
    make_server: MakeServer,
) -> None:
    server = make_server(config=session_config(resave=True))
    cookie = server.seed({"a": 1})

    reply = server.client().get("/", cookie=cookie)

    assert server.store.ids("set") == ["seeded-session"]
    assert reply.set_cookie_fields == ()
    record = server.store.peek("seeded-session")
    assert record is not None
    assert record.data == {"a": 1}


def test_p19_rolling_resends_the_cookie_and_moves_the_stored_expiry(
    make_server: MakeServer,
) -> None:
    server = make_server(config=session_config(rolling=True))
    cookie = server.seed({"a": 1}, max_age=60, expires_in=10)

    reply = server.client().get("/", cookie=cookie)

    sent = reply.sent_cookie
    assert sent.max_age == 60
    expires = expiry(sent)
    assert reply.dated(expires, 60)
    assert server.store.count("set") == 0
    assert server.store.ids("touch") == ["seeded-session"]
    assert server.store.agrees_with("seeded-session", sent)


def test_p20_modify_modify_read_modify(server: Server) -> None:
    client = server.client()

    replies = [
        client.get("/?set=a:1"),
        client.get("/?set=b:2"),
        client.get("/"),
        client.get("/?set=c:3"),
    ]

    sent = [reply.session_cookie is not None for reply in replies]
    assert sent == [True, True, False, True]
    session_id = replies[0].session_id
    assert {reply.session_id for reply in replies} == {session_id}
    assert server.store.ids("set") == [session_id] * 3
    assert replies[3].data == {"a": 1, "b": 2, "c": 3}


def test_p20_a_change_saved_explicitly_still_resends_the_cookie(
    server: Server,
) -> None:
    cookie = server.seed({"a": 1}, max_age=60, expires_in=10)

    reply = server.client().get("/?set=b:2&save=1", cookie=cookie)

    sent = reply.sent_cookie
    assert sent.max_age == 60
    assert server.store.ids("set") == ["seeded-session"]
    record = server.store.peek("seeded-session")
    assert record is not None
    assert record.data == {"a": 1, "b": 2}
    assert server.store.agrees_with("seeded-session", sent)


@pytest.mark.parametrize(
    ("stored", "action", "expected"),
    [
        (
            {"cart": [{"sku": "tea", "qty": 1}]},
            'append=cart:{"sku":"jam","qty":2}',
            {"cart": [{"sku": "tea", "qty": 1}, {"sku": "jam", "qty": 2}]},
        ),
        (
            {"prefs": {"tags": ["a"], "theme": "dark"}},
            'append=prefs.tags:"b"',
            {"prefs": {"tags": ["a", "b"], "theme": "dark"}},
        ),
        (
            {"a": {"b": {"c": []}}},
            "append=a.b.c:1",
            {"a": {"b": {"c": [1]}}},
        ),
    ],
    ids=["list", "list in a dict", "three levels down"],
)
def test_p21_in_place_change_is_saved(
    server: Server,
    stored: dict[str, object],
    action: str,
    expected: dict[str, object],
) -> None:
    cookie = server.seed(stored)
    client = server.client()

    changed = client.get(f"/?{action}", cookie=cookie)
    reply = client.get("/", cookie=cookie)

    assert changed.session_cookie is not None
    assert reply.data == expected
    assert server.store.ids("set") == ["seeded-session"]


def test_p22_browser_session_cookie_is_sent_only_once(make_server: MakeServer) -> None:
    server = make_server(config=session_config(cookie=CookieOptions(max_age=None)))
    client = server.client()

    first = client.get("/?set=a:1")
    second = client.get("/?set=b:2")
    third = client.get("/?append=c:3")

    cookie = first.session_cookie
    assert cookie is not None
    assert (cookie.max_age, cookie.expires) == (None, None)
    assert second.set_cookie_fields == ()
    assert third.set_cookie_fields == ()
    assert third.data == {"a": 1, "b": 2, "c": [3]}
    assert server.store.ids("set") == [first.session_id] * 3


def test_change_back_to_the_loaded_data_writes_nothing(server: Server) -> None:
    cookie = server.seed({"a": 1})

    reply = server.client().get("/?set=a:2&set=a:1", cookie=cookie)

    assert reply.data == {"a": 1}
    assert server.store.count("set") == 0
    assert reply.set_cookie_fields == ()
