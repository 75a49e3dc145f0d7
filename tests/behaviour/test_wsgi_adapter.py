"""What only the WSGI adapter has: ``start_response`` may be called again
with ``exc_info``, and the body is produced after the commit."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pytest
import requests

from sessions import MemoryStore, SessionCommittedError, SessionConfig, StoreError
from sessions_adapters.wsgi import SessionMiddleware, get_session
from tests.behaviour.harness import SpyStore
from tests.behaviour.servers import serve_wsgi

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

CONFIG = SessionConfig(secret="wsgi adapter")


def close(response: Iterable[bytes]) -> None:
    """Close a WSGI response the way a server does."""
    closer = getattr(response, "close", None)
    assert closer is not None
    closer()


def error_page_app(
    environ: WSGIEnvironment, start_response: StartResponse
) -> list[bytes]:
    """Writes to the session and, when the commit fails, answers with its own
    error page the way PEP 3333 describes."""
    get_session(environ)["user"] = "ada"
    try:
        start_response("200 OK", [("Content-Type", "text/plain")])
    except StoreError:
        start_response(
            "503 Service Unavailable",
            [("Content-Type", "text/plain")],
            sys.exc_info(),
        )
        return [b"our own error page"]
    return [b"ok"]


def test_an_app_answering_a_failed_commit_with_its_own_error_page_sends_no_cookie() -> (
    None
):
    store = SpyStore()
    store.fail("set", ConnectionError("store down"))
    with serve_wsgi(SessionMiddleware(error_page_app, CONFIG, store)) as url:
        reply = requests.get(url, timeout=10)
    assert reply.status_code == 503
    assert reply.text == "our own error page"
    assert "Set-Cookie" not in reply.headers


def test_an_error_while_the_body_streams_is_not_hidden_by_a_late_change() -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = get_session(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body() -> Iterator[bytes]:
            yield b"first"
            session["late"] = True
            raise RuntimeError("the body's own failure")

        return body()

    middleware = SessionMiddleware(app, CONFIG, MemoryStore())
    environ: dict[str, object] = {"PATH_INFO": "/", "wsgi.url_scheme": "http"}
    response = middleware(environ, lambda status, headers, exc_info=None: len)
    chunks = iter(response)
    assert next(chunks) == b"first"
    with pytest.raises(RuntimeError, match="the body's own failure"):
        next(chunks)
    close(response)  # must not replace the body's error with a late-change complaint


def test_a_late_change_without_an_error_is_still_reported_at_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = get_session(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body() -> Iterator[bytes]:
            yield b"first"
            session["late"] = True

        return body()

    middleware = SessionMiddleware(app, CONFIG, MemoryStore())
    environ: dict[str, object] = {"PATH_INFO": "/", "wsgi.url_scheme": "http"}
    response = middleware(environ, lambda status, headers, exc_info=None: len)
    assert list(response) == [b"first"]
    close(response)
    (record,) = [r for r in caplog.records if r.name == "sessions_adapters.wsgi"]
    assert record.levelname == "ERROR"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], SessionCommittedError)
