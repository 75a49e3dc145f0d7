"""Express parity, ``unset``, ``destroy()``, ``regenerate()``, ``reload()``
and ``save()`` (lines 33-39)."""

from __future__ import annotations

from sessions import SessionNotFoundError
from tests.behaviour.harness import MakeServer, Server, session_config

EPOCH_EXPIRES = "Thu, 01 Jan 1970 00:00:00 GMT"


def test_p33_detach_with_unset_keep_leaves_the_store_alone(server: Server) -> None:
    cookie = server.seed({"user": "ada"})

    reply = server.client().get("/?set=user:eve&regenerate=1&detach=1", cookie=cookie)

    assert reply.status == 200
    assert reply.set_cookie_fields == ()
    assert [call.operation for call in server.store.calls] == ["get"]
    record = server.store.peek("seeded-session")
    assert record is not None
    assert record.data == {"user": "ada"}


def test_p34_detach_with_unset_destroy_deletes_it_and_clears_the_cookie(
    make_server: MakeServer,
) -> None:
    server = make_server(config=session_config(unset="destroy"))
    cookie = server.seed({"user": "ada"})

    reply = server.client().get("/?set=user:eve&detach=1", cookie=cookie)

    assert server.store.ids("destroy") == ["seeded-session"]
    assert server.store.count("set") == 0
    sent = reply.sent_cookie
    assert (sent.value, sent.max_age, sent.expires) == ("", 0, EPOCH_EXPIRES)
    assert len(reply.set_cookie_fields) == 1
    assert server.store.peek("seeded-session") is None


def test_p35_destroy_deletes_once_and_sends_one_deletion_cookie(
    server: Server,
) -> None:
    client = server.client()
    created = client.get("/?set=user:ada")
    held_before = client.session_cookie

    reply = client.get("/?destroy=1")
    after = client.get("/")

    assert server.store.ids("destroy") == [created.session_id]
    assert server.store.ids("set") == [created.session_id]
    assert len(reply.set_cookie_fields) == 1
    sent = reply.sent_cookie
    assert (sent.value, sent.max_age, sent.expires) == ("", 0, EPOCH_EXPIRES)
    made = created.sent_cookie
    assert (sent.path, sent.domain, sent.secure, sent.same_site) == (
        made.path,
        made.domain,
        made.secure,
        made.same_site,
    )
    assert held_before is not None
    assert client.session_cookie is None
    assert after.is_new
    assert server.store.peek(created.session_id) is None


def test_p35_data_written_after_destroy_goes_to_a_new_id(server: Server) -> None:
    cookie = server.seed({"user": "ada"})

    reply = server.client().get("/?destroy=1&set=n:1", cookie=cookie)

    assert reply.data == {"n": 1}
    assert reply.session_id != "seeded-session"
    assert server.store.ids("destroy") == ["seeded-session"]
    assert server.store.ids("set") == [reply.session_id]
    assert server.verify(reply.sent_cookie.value) == reply.session_id
    assert len(reply.set_cookie_fields) == 1


def test_p35_destroy_of_a_session_never_stored_sends_nothing(server: Server) -> None:
    reply = server.client().get("/?set=a:1&destroy=1")

    assert reply.is_new
    assert reply.data == {}
    assert reply.set_cookie_fields == ()
    assert server.store.calls == []


def test_p36_regenerate_moves_to_a_new_id_and_destroys_the_old(
    server: Server,
) -> None:
    old_cookie = server.seed({"user": "ada"})
    client = server.client()

    reply = client.get("/?regenerate=1", cookie=old_cookie)

    new_id = reply.session_id
    assert new_id != "seeded-session"
    assert reply.data == {}
    assert server.store.ids("destroy") == ["seeded-session"]
    assert server.store.ids("set") == [new_id]
    assert server.verify(reply.sent_cookie.value) == new_id
    assert server.store.peek("seeded-session") is None


def test_p36_regenerate_keep_data_carries_the_data_over(server: Server) -> None:
    old_cookie = server.seed({"user": "ada"})
    client = server.client()

    reply = client.get("/?regenerate_keep=1&set=role:admin", cookie=old_cookie)
    later = client.get("/")

    assert reply.data == {"user": "ada", "role": "admin"}
    assert reply.session_id != "seeded-session"
    assert server.verify(reply.sent_cookie.value) == reply.session_id
    assert server.store.ids("destroy") == ["seeded-session"]
    assert server.store.ids("set") == [reply.session_id]
    assert later.session_id == reply.session_id
    assert later.data == {"user": "ada", "role": "admin"}


def test_p36_regenerate_on_a_new_session_saves_it(server: Server) -> None:
    reply = server.client().get("/?regenerate=1")

    assert server.store.ids("set") == [reply.session_id]
    assert server.store.count("destroy") == 0
    assert server.verify(reply.sent_cookie.value) == reply.session_id


def test_p37_reload_sees_what_another_request_stored(server: Server) -> None:
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


def test_p37_reload_of_a_vanished_session_is_an_error(server: Server) -> None:
    cookie = server.seed({"n": 1})
    server.store.after_get(lambda: server.store.memory.destroy("seeded-session"))

    reply = server.client().get("/?reload=1", cookie=cookie)

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    errors = server.probe.take_errors()
    assert [type(error) for error in errors] == [SessionNotFoundError]


def test_p38_explicit_save_without_later_change_writes_once(server: Server) -> None:
    client = server.client()

    first = client.get("/?set=a:1&save=1")
    writes_after_first = server.store.count("set")
    second = client.get("/?set=b:2&save=1")

    assert first.session_cookie is not None
    assert writes_after_first == 1
    assert server.store.ids("set") == [first.session_id] * 2
    assert second.data == {"a": 1, "b": 2}


def test_p38_change_after_explicit_save_is_saved_again(server: Server) -> None:
    reply = server.client().get("/?set=a:1&save=1&set=b:2")

    assert server.store.ids("set") == [reply.session_id] * 2
    record = server.store.peek(reply.session_id)
    assert record is not None
    assert record.data == {"a": 1, "b": 2}


def test_p39_redirect_never_outruns_a_slow_store(server: Server) -> None:
    server.store.delay("set", 0.2)
    client = server.client()

    reply = client.get("/?set=user:ada&redirect=/", follow=True)

    assert [earlier.status for earlier in reply.history] == [302]
    assert reply.history[0].session_cookie is not None
    assert reply.data == {"user": "ada"}
    assert not reply.is_new
