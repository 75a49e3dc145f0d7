"""Express parity, new, returning, tampered and expired sessions (lines
8-14): a new session is stored once and sent, a returning one is found
again, and anything else starts afresh under a new id."""

from __future__ import annotations

from functools import partial

from tests.behaviour.client import Client
from tests.behaviour.harness import Server, parallel
from tests.behaviour.tampering import TAMPERINGS, tampered

SEEDED = {"user": "ada"}


def test_p8_new_session_written_by_the_handler_is_stored_once_and_sent(
    server: Server, client: Client
) -> None:
    reply = client.get("/?set=user:ada")

    assert reply.status == 200
    assert reply.is_new
    assert reply.data == {"user": "ada"}
    cookie = reply.session_cookie
    assert cookie is not None
    assert server.verify(cookie.value) == reply.session_id
    assert (cookie.path, cookie.max_age, cookie.http_only) == ("/", 60, True)
    assert cookie.same_site == "Lax"
    assert not cookie.secure
    assert server.store.ids("set") == [reply.session_id]
    assert server.store.count("get") == 0
    record = server.store.peek(reply.session_id)
    assert record is not None
    assert record.data == {"user": "ada"}


def test_p9_returning_cookie_sees_the_same_data_and_id(
    server: Server, client: Client
) -> None:
    first = client.get("/?set=user:ada")

    again = client.get("/")

    assert again.status == 200
    assert again.session_id == first.session_id
    assert again.data == {"user": "ada"}
    assert not again.is_new
    assert server.store.ids("get") == [first.session_id]
    assert server.store.count("set") == 1


def test_p10_signed_id_unknown_to_the_store_gets_a_new_id(server: Server) -> None:
    client = server.client()
    stranger = server.cookie("chosen-by-the-client")

    reply = client.get("/?set=user:ada", cookie=stranger)

    assert reply.is_new
    assert reply.session_id != "chosen-by-the-client"
    assert server.store.ids("get") == ["chosen-by-the-client"]
    assert server.store.ids("set") == [reply.session_id]
    cookie = reply.session_cookie
    assert cookie is not None
    assert server.verify(cookie.value) == reply.session_id
    assert server.store.peek("chosen-by-the-client") is None


def test_p10_unknown_id_and_no_write_sends_nothing(server: Server) -> None:
    reply = server.client().get("/", cookie=server.cookie("chosen-by-the-client"))

    assert reply.is_new
    assert reply.set_cookie_fields == ()
    assert server.store.count("set") == 0


def test_p11_tampered_cookie_is_absent_without_lookup_or_error(
    server: Server,
) -> None:
    server.seed(SEEDED, session_id="abc")
    client = server.client()
    wrong: dict[object, object] = {}

    for tampering in TAMPERINGS:
        reply = client.get("/", cookie=f"sid={tampered(server, tampering)}")
        seen = (reply.status, reply.is_new, reply.data, reply.set_cookie_fields)
        if seen != (200, True, {}, ()):
            wrong[tampering] = seen

    assert wrong == {}
    assert server.store.calls == []


def test_p12_session_expired_in_the_store_starts_afresh(server: Server) -> None:
    cookie = server.seed(SEEDED)
    server.store.advance(61)
    client = server.client()

    read = client.get("/", cookie=cookie)
    written = client.get("/?set=n:1", cookie=cookie)

    assert read.is_new
    assert read.data == {}
    assert read.session_id != "seeded-session"
    assert written.data == {"n": 1}
    assert written.session_id not in ("seeded-session", read.session_id)
    assert server.store.ids("get") == ["seeded-session"] * 2
    assert server.store.ids("set") == [written.session_id]


def test_p13_parallel_first_requests_get_distinct_sessions(server: Server) -> None:
    clients = [server.client() for _ in range(4)]

    replies = parallel([partial(client.get, "/?set=n:1") for client in clients])

    ids = {reply.session_id for reply in replies}
    assert len(ids) == len(clients)
    assert sorted(server.store.ids("set")) == sorted(ids)
    for client, reply in zip(clients, replies, strict=True):
        assert client.get("/").session_id == reply.session_id


def test_p14_keys_named_like_session_methods_are_plain_data(
    server: Server, client: Client
) -> None:
    client.get(
        '/?set=save:1&set=destroy:2&set=cookie:{"max_age":1}&set=id:"x"'
        '&set=prefs:{"cookie":{"expires":null},"regenerate":true}'
    )

    reply = client.get("/?save=1&set=n:3")

    expected = {
        "save": 1,
        "destroy": 2,
        "cookie": {"max_age": 1},
        "id": "x",
        "prefs": {"cookie": {"expires": None}, "regenerate": True},
        "n": 3,
    }
    assert reply.data == expected
    assert reply.session_id != "x"
    assert reply.max_age is not None
    assert 50 < reply.max_age <= 60
    record = server.store.peek(reply.session_id)
    assert record is not None
    assert record.data == expected


def test_p14_stored_keys_named_like_session_methods_load_as_data(
    server: Server,
) -> None:
    stored = {
        "touch": "t",
        "reload": [1],
        "regenerate": {"keep_data": True},
        "cookie": {"max_age": 0, "expires": "1970-01-01T00:00:00+00:00"},
        "is_new": True,
    }
    cookie = server.seed(stored)

    reply = server.client().get("/?touch=1", cookie=cookie)

    assert reply.data == stored
    assert reply.session_id == "seeded-session"
    assert not reply.is_new
    sent = reply.session_cookie
    assert sent is not None
    assert sent.max_age == 60
    assert server.store.count("set") == 0
