"""A new session is created, stored and sent; a returning one is found again;
an id the store does not know is never adopted."""

from __future__ import annotations

from functools import partial

from sessions import InvalidSessionIdError
from tests.behaviour.client import Client
from tests.behaviour.harness import MakeServer, Server, parallel, session_config


def test_new_session_is_stored_once_and_sent(server: Server, client: Client) -> None:
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


def test_returning_session_sees_same_data_and_id(
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


def test_cookie_value_round_trips_byte_exactly(server: Server, client: Client) -> None:
    sent = client.get("/?set=n:1").session_cookie
    assert sent is not None

    assert client.session_cookie == sent.value
    assert client.get("/").session_id == server.verify(sent.value)


def test_signed_id_unknown_to_the_store_gets_a_new_id(server: Server) -> None:
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


def test_unknown_id_and_no_write_sends_nothing(server: Server) -> None:
    reply = server.client().get("/", cookie=server.cookie("chosen-by-the-client"))

    assert reply.is_new
    assert reply.set_cookie_fields == ()
    assert server.store.count("set") == 0


def test_session_expired_in_the_store_starts_afresh(server: Server) -> None:
    cookie = server.seed({"user": "ada"})
    server.store.advance(61)

    reply = server.client().get("/?set=n:1", cookie=cookie)

    assert reply.is_new
    assert reply.data == {"n": 1}
    assert reply.session_id != "seeded-session"
    assert server.store.ids("set") == [reply.session_id]


def test_parallel_first_requests_get_distinct_sessions(server: Server) -> None:
    clients = [server.client(), server.client()]

    replies = parallel([partial(client.get, "/?set=n:1") for client in clients])

    ids = {reply.session_id for reply in replies}
    assert len(ids) == 2
    assert sorted(server.store.ids("set")) == sorted(ids)


def test_keys_named_like_session_methods_are_plain_data(
    server: Server, client: Client
) -> None:
    client.get('/?set=save:1&set=destroy:2&set=cookie:{"max_age":1}&set=id:"x"')

    reply = client.get("/?save=1&set=n:3")

    expected = {"save": 1, "destroy": 2, "cookie": {"max_age": 1}, "id": "x", "n": 3}
    assert reply.data == expected
    assert reply.session_id != "x"
    assert reply.max_age is not None
    assert 50 < reply.max_age <= 60
    record = server.store.peek(reply.session_id)
    assert record is not None
    assert record.data == expected


def test_custom_cookie_name(make_server: MakeServer) -> None:
    server = make_server(config=session_config(name="session_id"))
    client = server.client()

    first = client.get("/?set=n:1")
    again = client.get("/")

    assert [cookie.name for cookie in first.set_cookies] == ["session_id"]
    assert again.session_id == first.session_id
    assert again.data == {"n": 1}


def test_broken_id_factory_is_an_error_not_a_missing_session(
    make_server: MakeServer,
) -> None:
    server = make_server(config=session_config(genid=lambda: ""))

    reply = server.client().get("/?set=user:ada")

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    assert server.probe.handled == []
    errors = server.probe.take_errors()
    assert [type(error) for error in errors] == [InvalidSessionIdError]
