"""regenerate(), destroy(), detaching with ``unset``, and reload()."""

from __future__ import annotations

from sessions import CookieOptions, SessionNotFoundError
from tests.behaviour.harness import MakeServer, Server, session_config

EPOCH_EXPIRES = "Thu, 01 Jan 1970 00:00:00 GMT"


def test_regenerate_moves_to_a_new_id_and_destroys_the_old(server: Server) -> None:
    old_cookie = server.seed({"user": "ada"})
    client = server.client()

    reply = client.get("/?regenerate=1", cookie=old_cookie)

    new_id = reply.session_id
    assert new_id != "seeded-session"
    assert reply.data == {}
    assert server.store.ids("destroy") == ["seeded-session"]
    assert server.store.ids("set") == [new_id]
    sent = reply.session_cookie
    assert sent is not None
    assert server.verify(sent.value) == new_id
    assert server.store.peek("seeded-session") is None


def test_old_cookie_after_regenerate_gets_an_empty_session(server: Server) -> None:
    old_cookie = server.seed({"user": "ada"})
    server.client().get("/?regenerate=1", cookie=old_cookie)

    replay = server.client().get("/", cookie=old_cookie)

    assert replay.is_new
    assert replay.data == {}
    assert replay.session_id != "seeded-session"


def test_regenerate_keep_data_carries_the_data_over(server: Server) -> None:
    old_cookie = server.seed({"user": "ada"})
    client = server.client()

    reply = client.get("/?regenerate_keep=1&set=role:admin", cookie=old_cookie)
    later = client.get("/")

    assert reply.data == {"user": "ada", "role": "admin"}
    assert server.store.ids("destroy") == ["seeded-session"]
    assert server.store.ids("set") == [reply.session_id]
    assert later.session_id == reply.session_id
    assert later.data == {"user": "ada", "role": "admin"}


def test_destroy_deletes_and_clears_the_cookie_once(server: Server) -> None:
    client = server.client()
    created = client.get("/?set=user:ada")
    held_before = client.session_cookie

    reply = client.get("/?destroy=1")

    assert server.store.ids("destroy") == [created.session_id]
    assert server.store.ids("set") == [created.session_id]
    assert len(reply.set_cookie_fields) == 1
    sent = reply.session_cookie
    assert sent is not None
    assert (sent.value, sent.max_age, sent.expires) == ("", 0, EPOCH_EXPIRES)
    assert (sent.path, sent.http_only, sent.same_site) == ("/", True, "Lax")
    assert held_before is not None
    assert client.session_cookie is None
    assert server.store.peek(created.session_id) is None


def test_deletion_cookie_mirrors_the_session_cookie(make_server: MakeServer) -> None:
    server = make_server(
        config=session_config(
            cookie=CookieOptions(
                max_age=60,
                domain="example.com",
                path="/app",
                secure=True,
                same_site="none",
            ),
            trust_proxy=True,
        )
    )
    https = {"X-Forwarded-Proto": "https"}
    client = server.client()

    created = client.get("/app?set=user:ada", headers=https)
    cookie = server.cookie(created.session_id)
    destroyed = client.get("/app?destroy=1", headers=https, cookie=cookie)

    assert destroyed.set_cookie_fields == (
        "sid=; Domain=example.com; Path=/app; Max-Age=0; "
        f"Expires={EPOCH_EXPIRES}; HttpOnly; Secure; SameSite=None",
    )
    made = created.session_cookie
    assert made is not None
    assert made.attributes == (
        "domain",
        "path",
        "max-age",
        "expires",
        "httponly",
        "secure",
        "samesite",
    )
    assert server.store.ids("destroy") == [created.session_id]


def test_destroy_then_write_starts_a_new_session(server: Server) -> None:
    cookie = server.seed({"user": "ada"})

    reply = server.client().get("/?destroy=1&set=n:1", cookie=cookie)

    assert reply.data == {"n": 1}
    assert reply.session_id != "seeded-session"
    assert server.store.ids("destroy") == ["seeded-session"]
    assert server.store.ids("set") == [reply.session_id]
    sent = reply.session_cookie
    assert sent is not None
    assert server.verify(sent.value) == reply.session_id


def test_detach_with_unset_keep_leaves_the_store_alone(server: Server) -> None:
    cookie = server.seed({"user": "ada"})

    reply = server.client().get("/?set=user:eve&detach=1", cookie=cookie)

    assert reply.status == 200
    assert reply.set_cookie_fields == ()
    assert [call.operation for call in server.store.calls] == ["get"]
    record = server.store.peek("seeded-session")
    assert record is not None
    assert record.data == {"user": "ada"}


def test_detach_with_unset_destroy_deletes_it(make_server: MakeServer) -> None:
    server = make_server(config=session_config(unset="destroy"))
    cookie = server.seed({"user": "ada"})

    reply = server.client().get("/?set=user:eve&detach=1", cookie=cookie)

    assert server.store.ids("destroy") == ["seeded-session"]
    assert server.store.count("set") == 0
    sent = reply.session_cookie
    assert sent is not None
    assert (sent.value, sent.max_age, sent.expires) == ("", 0, EPOCH_EXPIRES)
    assert server.store.peek("seeded-session") is None


def test_reload_sees_what_another_request_stored(server: Server) -> None:
    cookie = server.seed({"n": 1})
    other = server.client()
    seen_by_other: list[int] = []

    def another_request() -> None:
        seen_by_other.append(other.get("/?set=n:2", cookie=cookie).data["n"])

    server.store.after_get(another_request)

    reply = server.client().get("/?reload=1", cookie=cookie)

    assert seen_by_other == [2]
    assert reply.data == {"n": 2}
    assert server.store.ids("get") == ["seeded-session"] * 3
    assert server.store.ids("set") == ["seeded-session"]


def test_reload_of_a_vanished_session_is_an_error(server: Server) -> None:
    cookie = server.seed({"n": 1})
    server.store.after_get(lambda: server.store.memory.destroy("seeded-session"))

    reply = server.client().get("/?reload=1", cookie=cookie)

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    errors = server.probe.take_errors()
    assert [type(error) for error in errors] == [SessionNotFoundError]


def test_regenerate_on_a_new_session_saves_it(server: Server) -> None:
    reply = server.client().get("/?regenerate=1")

    assert server.store.ids("set") == [reply.session_id]
    assert server.store.count("destroy") == 0
    sent = reply.session_cookie
    assert sent is not None
    assert server.verify(sent.value) == reply.session_id


def test_destroy_on_a_new_session_does_nothing(server: Server) -> None:
    reply = server.client().get("/?set=a:1&destroy=1")

    assert reply.is_new
    assert reply.data == {}
    assert reply.set_cookie_fields == ()
    assert server.store.calls == []
