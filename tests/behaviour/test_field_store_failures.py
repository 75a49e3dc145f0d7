"""Field reports, store failures: whatever a store raises, and wherever, the
framework sees the failure; the client is neither logged out nor handed a
cookie for a session that was never stored."""

from __future__ import annotations

import pytest

from sessions import StoreError
from tests.behaviour.harness import Server

# What stores raise: the documented StoreError, and what stores built on
# sockets let out when they do not wrap their errors. A WSGI server takes an
# OSError crossing the application for the client hanging up and answers
# nothing at all, so they must reach the framework as StoreError.
FAILURES: list[type[Exception]] = [
    StoreError,
    ConnectionError,
    ConnectionRefusedError,
    ConnectionResetError,
    BrokenPipeError,
    TimeoutError,
    OSError,
    RuntimeError,
]


def _failure(server: Server, raised: Exception, count: int = 1) -> str | None:
    """What is wrong with the errors that crossed the application, if
    anything: there must be ``count`` of them, each a StoreError carrying
    what the store raised."""
    errors = server.probe.take_errors()
    if len(errors) != count or not all(isinstance(e, StoreError) for e in errors):
        return f"errors: {errors!r}"
    if any(error is not raised and error.__cause__ is not raised for error in errors):
        return "the store's own exception is lost"
    return None


def test_f_store_outage_is_not_a_logout(server: Server) -> None:
    client = server.client()
    created = client.get("/?set=user:ada")
    held = client.session_cookie
    wrong: dict[object, object] = {}

    for kind in FAILURES:
        error = kind("store unreachable")
        server.store.fail("get", error)
        # A server may close a connection after an error, so each request
        # after the failure gets a connection of its own.
        replies = [
            server.client().get(path, cookie=f"sid={held}")
            for path in ("/", "/?set=user:eve&redirect=/")
        ]
        statuses = [reply.status for reply in replies]
        sent = [field for reply in replies for field in reply.set_cookie_fields]
        if statuses != [500, 500] or sent:
            wrong[kind.__name__] = (statuses, sent)
        problem = _failure(server, error, count=len(replies))
        if problem is not None:
            wrong[kind.__name__] = problem

    assert wrong == {}
    assert server.probe.handled == ["/"]
    assert server.store.ids("set") == [created.session_id]
    record = server.store.peek(created.session_id)
    assert record is not None
    assert record.data == {"user": "ada"}


@pytest.mark.parametrize(
    "query",
    ["set=user:eve", "set=user:eve&redirect=/next", "regenerate_keep=1&set=n:1"],
    ids=["write", "redirect", "regenerate"],
)
def test_f_failed_save_is_not_a_success(server: Server, query: str) -> None:
    cookie = server.seed({"user": "ada"})
    wrong: dict[object, object] = {}

    for kind in FAILURES:
        error = kind("store unreachable")
        server.store.fail("set", error)
        reply = server.client().get(f"/?{query}", cookie=cookie)
        seen = (reply.status, reply.headers.get("location"), reply.set_cookie_fields)
        if seen != (500, None, ()):
            wrong[kind.__name__] = seen
        problem = _failure(server, error)
        if problem is not None:
            wrong[kind.__name__] = problem

    assert wrong == {}
    assert server.store.count("set") == len(FAILURES)
    assert server.store.count("destroy") == 0
    record = server.store.peek("seeded-session")
    assert record is not None
    assert record.data == {"user": "ada"}
