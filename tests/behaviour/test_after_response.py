"""Session changes made after the response has started are never lost
silently: an explicit save() persists them, anything else is an error."""

from __future__ import annotations

from sessions import SessionCommittedError
from tests.behaviour.harness import Server


def test_late_change_with_save_is_persisted(server: Server) -> None:
    cookie = server.seed({"user": "ada"})
    client = server.client()

    reply = client.get("/?set=step:1&late_set=step:2&late_save=1", cookie=cookie)
    server.probe.wait_idle()
    later = client.get("/", cookie=cookie)

    assert reply.status == 200
    assert reply.data == {"user": "ada", "step": 1}
    assert later.data == {"user": "ada", "step": 2}
    assert server.store.ids("set") == ["seeded-session"] * 2


def test_late_change_without_save_is_an_error(server: Server) -> None:
    cookie = server.seed({"user": "ada"})

    reply = server.client().get("/?late_set=step:2", cookie=cookie)

    errors = server.probe.take_errors()
    assert reply.status == 200
    assert [type(error) for error in errors] == [SessionCommittedError]
    assert server.store.count("set") == 0
    record = server.store.peek("seeded-session")
    assert record is not None
    assert record.data == {"user": "ada"}


def test_late_save_of_a_session_the_client_never_got_is_an_error(
    server: Server,
) -> None:
    reply = server.client().get("/?late_set=step:1&late_save=1")

    errors = server.probe.take_errors()
    assert reply.status == 200
    assert [type(error) for error in errors] == [SessionCommittedError]
    assert server.store.calls == []
