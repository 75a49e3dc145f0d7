"""When the store is written and the cookie sent: only for real changes,
exactly once, and before the response can reach the client."""

from __future__ import annotations

import pytest

from sessions import CookieOptions
from tests.behaviour.harness import MakeServer, Server, session_config


def test_untouched_traffic_writes_nothing(server: Server) -> None:
    client = server.client()

    replies = [client.get("/?ignore=1") for _ in range(200)]

    assert {reply.status for reply in replies} == {200}
    assert all(reply.set_cookie_fields == () for reply in replies)
    assert server.store.calls == []
    assert server.store.memory.length() == 0


def test_read_only_traffic_writes_nothing(server: Server) -> None:
    client = server.client()

    replies = [client.get("/") for _ in range(200)]

    assert all(reply.is_new and reply.data == {} for reply in replies)
    assert all(reply.set_cookie_fields == () for reply in replies)
    assert server.store.calls == []


def test_modify_modify_read_modify(server: Server) -> None:
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


def test_nested_in_place_change_is_saved(server: Server) -> None:
    cookie = server.seed({"cart": [{"sku": "tea", "qty": 1}]})
    client = server.client()

    client.get('/?append=cart:{"sku":"jam","qty":2}', cookie=cookie)
    reply = client.get("/", cookie=cookie)

    assert reply.data == {"cart": [{"sku": "tea", "qty": 1}, {"sku": "jam", "qty": 2}]}
    assert server.store.count("set") == 1


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("append=cart:2", {"a": 1, "cart": [1, 2]}),
        ("delete=a", {"cart": [1]}),
        ("pop=a", {"cart": [1]}),
        ('update={"b":2}', {"a": 1, "cart": [1], "b": 2}),
        ("clear=1", {}),
        ("set=a:5", {"a": 5, "cart": [1]}),
    ],
)
def test_every_mutator_writes_exactly_once(
    server: Server, action: str, expected: dict[str, object]
) -> None:
    cookie = server.seed({"a": 1, "cart": [1]})
    client = server.client()

    client.get(f"/?{action}", cookie=cookie)
    after = client.get("/", cookie=cookie)

    assert server.store.ids("set") == ["seeded-session"]
    assert after.data == expected


def test_change_back_to_the_loaded_data_writes_nothing(server: Server) -> None:
    cookie = server.seed({"a": 1})

    reply = server.client().get("/?set=a:2&set=a:1", cookie=cookie)

    assert reply.data == {"a": 1}
    assert server.store.count("set") == 0
    assert reply.set_cookie_fields == ()


@pytest.mark.parametrize("rolling", [False, True])
def test_uninitialised_session_is_not_saved(
    make_server: MakeServer, rolling: bool
) -> None:
    server = make_server(config=session_config(rolling=rolling))

    reply = server.client().get("/")

    assert reply.is_new
    assert reply.set_cookie_fields == ()
    assert server.store.calls == []


def test_save_uninitialized_stores_an_untouched_session(
    make_server: MakeServer,
) -> None:
    server = make_server(config=session_config(save_uninitialized=True))

    reply = server.client().get("/")

    assert server.store.ids("set") == [reply.session_id]
    cookie = reply.session_cookie
    assert cookie is not None
    assert server.verify(cookie.value) == reply.session_id


def test_unchanged_returning_session_is_left_alone(server: Server) -> None:
    cookie = server.seed({"a": 1})

    reply = server.client().get("/", cookie=cookie)

    assert reply.data == {"a": 1}
    assert reply.set_cookie_fields == ()
    assert server.store.count("set") == 0
    assert server.store.count("destroy") == 0


def test_resave_writes_an_unchanged_session_without_a_cookie(
    make_server: MakeServer,
) -> None:
    server = make_server(config=session_config(resave=True))
    cookie = server.seed({"a": 1})

    reply = server.client().get("/", cookie=cookie)

    assert server.store.ids("set") == ["seeded-session"]
    assert reply.set_cookie_fields == ()


def test_browser_session_cookie_is_sent_only_once(make_server: MakeServer) -> None:
    server = make_server(config=session_config(cookie=CookieOptions(max_age=None)))
    client = server.client()

    first = client.get("/?set=a:1")
    second = client.get("/?set=b:2")

    cookie = first.session_cookie
    assert cookie is not None
    assert (cookie.max_age, cookie.expires) == (None, None)
    assert second.set_cookie_fields == ()
    assert second.data == {"a": 1, "b": 2}
    assert server.store.ids("set") == [first.session_id] * 2


def test_explicit_save_without_later_change_writes_once(server: Server) -> None:
    client = server.client()

    first = client.get("/?set=a:1&save=1")
    second = client.get("/?set=b:2&save=1")

    assert first.session_cookie is not None
    assert server.store.ids("set") == [first.session_id] * 2
    assert second.data == {"a": 1, "b": 2}


def test_change_after_explicit_save_is_saved_again(server: Server) -> None:
    reply = server.client().get("/?set=a:1&save=1&set=b:2")

    assert server.store.ids("set") == [reply.session_id] * 2
    record = server.store.peek(reply.session_id)
    assert record is not None
    assert record.data == {"a": 1, "b": 2}


def test_redirect_never_outruns_a_slow_store(server: Server) -> None:
    server.store.delay("set", 0.2)
    client = server.client()

    reply = client.get("/?set=user:ada&redirect=/", follow=True)

    assert [earlier.status for earlier in reply.history] == [302]
    assert reply.history[0].session_cookie is not None
    assert reply.data == {"user": "ada"}
    assert not reply.is_new
