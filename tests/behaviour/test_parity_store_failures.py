"""Express parity, store failures (lines 40-42): a failing store reaches the
framework's error handling, never an empty session in its place, never a
cookie pointing at nothing."""

from __future__ import annotations

from typing import Any

import pytest

from sessions import CookieOptions, SessionConfig, StoreError
from tests.behaviour.actions import HandlerFailure
from tests.behaviour.harness import MakeServer, Operation, Server, session_config


def outage() -> StoreError:
    """What a store raises when it cannot reach its backend."""
    error = StoreError("store unreachable")
    error.__cause__ = ConnectionError("connection refused")
    return error


def only_error(server: Server) -> BaseException:
    """The one exception that crossed the application."""
    errors = server.probe.take_errors()
    assert len(errors) == 1, errors
    return errors[0]


def test_p40_failing_get_is_an_error_not_a_logout(server: Server) -> None:
    client = server.client()
    created = client.get("/?set=user:ada")
    cookie_before = client.session_cookie
    handled_before = server.probe.handled
    server.store.fail("get", outage())

    reply = client.get("/?set=user:eve")

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    assert server.probe.handled == handled_before
    assert isinstance(only_error(server), StoreError)
    assert client.session_cookie == cookie_before
    assert server.store.ids("set") == [created.session_id]


def test_p41_failing_set_sends_no_cookie(server: Server) -> None:
    server.store.fail("set", outage())

    reply = server.client().get("/?set=user:ada")

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    assert server.store.count("set") == 1
    assert isinstance(only_error(server), StoreError)


def test_p41_failing_set_on_redirect_is_not_a_redirect(server: Server) -> None:
    server.store.fail("set", outage())

    reply = server.client().get("/?set=user:ada&redirect=/next")

    assert reply.status == 500
    assert "location" not in reply.headers
    assert reply.set_cookie_fields == ()
    assert isinstance(only_error(server), StoreError)


@pytest.mark.parametrize(
    ("options", "query"),
    [
        ({}, "destroy=1"),
        ({}, "regenerate=1"),
        ({"unset": "destroy"}, "detach=1"),
        ({}, "expires_past=1"),
    ],
    ids=["destroy", "regenerate", "detach", "expires in the past"],
)
def test_p42_failing_destroy_is_reported(
    make_server: MakeServer, options: dict[str, Any], query: str
) -> None:
    server = make_server(config=session_config(**options))
    cookie = server.seed({"user": "ada"})
    server.store.fail("destroy", outage())

    reply = server.client().get(f"/?{query}", cookie=cookie)

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    assert server.store.ids("destroy") == ["seeded-session"]
    assert isinstance(only_error(server), StoreError)


@pytest.mark.parametrize(
    ("config", "query"),
    [
        (session_config(rolling=True), ""),
        (session_config(), "touch=1"),
        (session_config(cookie=CookieOptions(max_age=None)), ""),
    ],
    ids=["rolling", "touch", "browser-session cookie"],
)
def test_p42_failing_touch_is_reported(
    make_server: MakeServer, config: SessionConfig, query: str
) -> None:
    server = make_server(config=config)
    cookie = server.seed({"user": "ada"}, max_age=config.cookie.max_age)
    server.store.fail("touch", outage())

    reply = server.client().get(f"/?{query}", cookie=cookie)

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    assert server.store.ids("touch") == ["seeded-session"]
    assert isinstance(only_error(server), StoreError)


@pytest.mark.parametrize("action", ["save", "reload"])
def test_failing_explicit_save_or_reload_is_reported(
    server: Server, action: str
) -> None:
    cookie = server.seed({"user": "ada"})
    operation: Operation = "set" if action == "save" else "get"
    # The load itself must succeed; only the explicit call fails.
    server.store.after_get(lambda: server.store.fail(operation, outage()))

    reply = server.client().get(f"/?set=n:1&{action}=1", cookie=cookie)

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    assert isinstance(only_error(server), StoreError)
    record = server.store.peek("seeded-session")
    assert record is not None
    assert record.data == {"user": "ada"}


def test_handler_error_writes_nothing(server: Server) -> None:
    cookie = server.seed({"user": "ada"})

    reply = server.client().get("/?set=user:eve&raise=1", cookie=cookie)

    assert reply.status == 500
    assert reply.set_cookie_fields == ()
    assert [call.operation for call in server.store.calls] == ["get"]
    assert isinstance(only_error(server), HandlerFailure)
