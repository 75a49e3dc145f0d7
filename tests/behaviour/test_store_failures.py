"""A failing store reaches the framework's error handling: never an empty
session in its place, never a cookie pointing at nothing."""

from __future__ import annotations

import pytest

from sessions import StoreError
from tests.behaviour.actions import HandlerFailure
from tests.behaviour.harness import MakeServer, Operation, Server, session_config


def _outage() -> StoreError:
    error = StoreError("store unreachable")
    error.__cause__ = ConnectionError("connection refused")
    return error


# What stores built on sockets raise when they do not wrap their errors. A
# WSGI server takes an OSError crossing the application for the client
# hanging up, and answers nothing at all, so they must arrive as StoreError.
UNWRAPPED: list[type[OSError]] = [
    ConnectionError,
    ConnectionResetError,
    BrokenPipeError,
    TimeoutError,
    OSError,
]


def _only_error(server: Server) -> BaseException:
    errors = server.probe.take_errors()
    assert len(errors) == 1, errors
    return errors[0]


def test_failing_get_is_an_error_not_a_logout(server: Server) -> None:
    client = server.client()
    created = client.get("/?set=user:ada")
    cookie_before = client.session_cookie
    handled_before = server.probe.handled
    server.store.fail("get", _outage())

    reply = client.get("/?set=user:eve")

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    assert server.probe.handled == handled_before
    assert isinstance(_only_error(server), StoreError)
    assert client.session_cookie == cookie_before
    assert server.store.ids("set") == [created.session_id]


def test_failing_set_sends_no_cookie(server: Server) -> None:
    server.store.fail("set", _outage())

    reply = server.client().get("/?set=user:ada")

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    assert server.store.count("set") == 1
    assert isinstance(_only_error(server), StoreError)


def test_failing_set_on_redirect_is_not_a_redirect(server: Server) -> None:
    server.store.fail("set", _outage())

    reply = server.client().get("/?set=user:ada&redirect=/next")

    assert reply.status == 500
    assert "location" not in reply.headers
    assert reply.set_cookie_fields == ()
    assert isinstance(_only_error(server), StoreError)


def test_failing_destroy_is_reported(server: Server) -> None:
    cookie = server.seed({"user": "ada"})
    server.store.fail("destroy", _outage())

    reply = server.client().get("/?destroy=1", cookie=cookie)

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    assert isinstance(_only_error(server), StoreError)


def test_failing_touch_is_reported(make_server: MakeServer) -> None:
    server = make_server(config=session_config(rolling=True))
    cookie = server.seed({"user": "ada"})
    server.store.fail("touch", _outage())

    reply = server.client().get("/", cookie=cookie)

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    assert server.store.ids("touch") == ["seeded-session"]
    assert isinstance(_only_error(server), StoreError)


@pytest.mark.parametrize("action", ["save", "reload"])
def test_failing_explicit_save_or_reload_is_reported(
    server: Server, action: str
) -> None:
    cookie = server.seed({"user": "ada"})
    operation: Operation = "set" if action == "save" else "get"
    # The load itself must succeed; only the explicit call fails.
    server.store.after_get(lambda: server.store.fail(operation, _outage()))

    reply = server.client().get(f"/?set=n:1&{action}=1", cookie=cookie)

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    assert isinstance(_only_error(server), StoreError)
    record = server.store.peek("seeded-session")
    assert record is not None
    assert record.data == {"user": "ada"}


def test_handler_error_writes_nothing(server: Server) -> None:
    cookie = server.seed({"user": "ada"})

    reply = server.client().get("/?set=user:eve&raise=1", cookie=cookie)

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    assert [call.operation for call in server.store.calls] == ["get"]
    assert isinstance(_only_error(server), HandlerFailure)


@pytest.mark.parametrize("operation", ["get", "set"])
@pytest.mark.parametrize("kind", UNWRAPPED, ids=lambda kind: kind.__name__)
def test_unwrapped_store_error_still_answers_500(
    server: Server, operation: Operation, kind: type[OSError]
) -> None:
    cookie = server.seed({"user": "ada"})
    error = kind("store unreachable")
    server.store.fail(operation, error)

    reply = server.client().get("/?set=n:1", cookie=cookie)

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    crossed = _only_error(server)
    assert isinstance(crossed, StoreError)
    assert crossed.__cause__ is error
