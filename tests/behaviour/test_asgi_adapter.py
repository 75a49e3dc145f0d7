"""What only the ASGI adapter has: websocket and lifespan scopes, cookie
header fields split as HTTP/2 sends them, streamed responses, and
Starlette's HTTP errors."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route
from websockets.sync.client import connect

from sessions import CookieOptions, SessionCommittedError
from sessions.signing import IdSigner
from sessions_adapters.asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    SessionMiddleware,
    get_session,
)
from tests.behaviour.client import Client
from tests.behaviour.harness import SpyStore, session_config
from tests.behaviour.servers import STARTUP_TIMEOUT, serve_asgi

SEEDED = {"user": "ada"}


def _cookie(session_id: str) -> str:
    signer = IdSigner(session_config().secret)
    return f"sid={signer.sign(session_id)}"


# -- websocket ---------------------------------------------------------------------


class WebsocketSite:
    """A websocket endpoint behind the session middleware and uvicorn.

    The endpoint answers the client's first message with the session it
    loaded from the handshake, then changes the data; the message ``"save"``
    makes it store the change with ``await session.save()``, ``"destroy"``
    first tries ``session.destroy()`` (recording a refusal in ``refused``),
    and any other leaves the change unsaved.
    """

    def __init__(self) -> None:
        self.store = SpyStore()
        self.url = ""
        self.refused: list[str] = []
        self._closed = threading.Event()

    async def _endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = get_session(scope)
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        command = (await receive())["text"]
        await send(
            {
                "type": "websocket.send",
                "text": json.dumps({"id": session.id, "data": dict(session)}),
            }
        )
        if command == "destroy":
            try:
                session.destroy()
            except SessionCommittedError:
                self.refused.append("destroy")
        session["step"] = 2
        if command == "save":
            await session.save()
        await send({"type": "websocket.close"})

    def app(self) -> ASGIApp:
        sessions = SessionMiddleware(
            self._endpoint, session_config(), self.store.as_async()
        )

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            try:
                await sessions(scope, receive, send)
            finally:
                self._closed.set()

        return app

    def talk(self, cookie: str, command: str) -> tuple[Any, list[str]]:
        """Connect with ``cookie``, send ``command``; return the session the
        endpoint reported and the handshake's ``Set-Cookie`` fields, once the
        middleware is done with the connection."""
        url = self.url.replace("http://", "ws://")
        with connect(url, additional_headers={"Cookie": cookie}) as ws:
            ws.send(command)
            loaded = json.loads(ws.recv(timeout=STARTUP_TIMEOUT))
            assert ws.response is not None
            handshake_cookies = ws.response.headers.get_all("Set-Cookie")
        assert self._closed.wait(STARTUP_TIMEOUT)
        return loaded, handshake_cookies


@pytest.fixture
def websocket_site() -> Iterator[WebsocketSite]:
    site = WebsocketSite()
    with serve_asgi(site.app()) as url:
        site.url = url
        yield site


def _adapter_reports(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the ASGI adapter logged at WARNING or above."""
    return [
        entry
        for entry in caplog.records
        if entry.name == "sessions_adapters.asgi" and entry.levelno >= logging.WARNING
    ]


def test_websocket_gets_the_handshake_session_and_sends_no_cookie(
    websocket_site: WebsocketSite, caplog: pytest.LogCaptureFixture
) -> None:
    store = websocket_site.store
    store.seed("seeded-session", SEEDED)

    loaded, handshake_cookies = websocket_site.talk(_cookie("seeded-session"), "save")

    assert loaded == {"id": "seeded-session", "data": SEEDED}
    assert handshake_cookies == []
    assert store.ids("set") == ["seeded-session"]
    record = store.peek("seeded-session")
    assert record is not None
    assert record.data == {**SEEDED, "step": 2}
    assert _adapter_reports(caplog) == []


def test_websocket_change_left_unsaved_is_logged_not_stored(
    websocket_site: WebsocketSite, caplog: pytest.LogCaptureFixture
) -> None:
    store = websocket_site.store
    store.seed("seeded-session", SEEDED)

    loaded, handshake_cookies = websocket_site.talk(_cookie("seeded-session"), "keep")

    assert loaded == {"id": "seeded-session", "data": SEEDED}
    assert handshake_cookies == []
    assert store.count("set") == 0
    record = store.peek("seeded-session")
    assert record is not None
    assert record.data == SEEDED
    (report,) = _adapter_reports(caplog)
    assert report.levelname == "ERROR"
    assert report.exc_info is not None
    assert isinstance(report.exc_info[1], SessionCommittedError)


def test_websocket_refuses_destroy_since_no_cookie_can_be_cleared(
    websocket_site: WebsocketSite, caplog: pytest.LogCaptureFixture
) -> None:
    store = websocket_site.store
    store.seed("seeded-session", SEEDED)

    websocket_site.talk(_cookie("seeded-session"), "destroy")

    assert websocket_site.refused == ["destroy"]
    assert store.count("destroy") == 0
    assert store.peek("seeded-session") is not None
    assert len(_adapter_reports(caplog)) == 1  # the unsaved step, logged


# -- lifespan ----------------------------------------------------------------------


def test_lifespan_passes_straight_through() -> None:
    seen: list[tuple[str, bool]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        while True:
            message = await receive()
            seen.append((message["type"], "session" in scope))
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return

    with serve_asgi(SessionMiddleware(app, session_config()), lifespan="on"):
        assert seen == [("lifespan.startup", False)]

    assert seen == [("lifespan.startup", False), ("lifespan.shutdown", False)]


# -- scopes built by hand -------------------------------------------------------------


def _scope(
    *, path: str = "/", root_path: str = "", cookies: tuple[bytes, ...] = ()
) -> Scope:
    """An HTTP/2 ``GET`` scope, as a server would build it, with one
    ``cookie`` field per item of ``cookies``."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "2",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": root_path,
        "query_string": b"",
        "headers": [(b"cookie", cookie) for cookie in cookies],
    }


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _discard(message: Message) -> None:
    """Where the response goes: these tests only look at the session."""


async def _no_content(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_every_cookie_field_is_read_as_http2_splits_them() -> None:
    # HTTP/2 may send each cookie pair as a header field of its own (RFC 9113
    # section 8.2.3). uvicorn speaks only HTTP/1.1, so the scope is built by
    # hand.
    store = SpyStore()
    store.seed("seeded-session", SEEDED)
    seen: dict[str, object] = {}

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        session = get_session(scope)
        seen.update(id=session.id, data=dict(session))
        await _no_content(scope, receive, send)

    crumbs = (b"theme=dark", _cookie("stale-session").encode(), b"lang=en")
    scope = _scope(cookies=(*crumbs, _cookie("seeded-session").encode()))
    middleware = SessionMiddleware(endpoint, session_config(), store.as_async())
    asyncio.run(middleware(scope, _no_body, _discard))

    assert seen == {"id": "seeded-session", "data": SEEDED}
    assert store.ids("get") == ["stale-session", "seeded-session"]


# -- mount prefixes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("root_path", "path"),
    [("/shop", "/shop/shopping"), ("/shop", "/shopping")],
    ids=["path with the prefix", "path without the prefix"],
)
def test_root_path_counts_whether_or_not_path_repeats_it(
    root_path: str, path: str
) -> None:
    # Servers and routers differ on whether "path" carries the mount prefix;
    # the full path is /shop/shopping either way.
    config = session_config(cookie=CookieOptions(max_age=60, path="/shop/shopping"))
    seen: list[bool] = []

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["session"] is not None)
        await _no_content(scope, receive, send)

    middleware = SessionMiddleware(endpoint, config)
    asyncio.run(middleware(_scope(root_path=root_path, path=path), _no_body, _discard))

    assert seen == [True]


# -- streaming -------------------------------------------------------------------------


def test_streamed_response_is_committed_at_its_first_message() -> None:
    store = SpyStore()

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        session = get_session(scope)
        session["user"] = "ada"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        # The middleware passed the start message on: the store has it all.
        record = store.peek(session.id)
        stored = record is not None and record.data == {"user": "ada"}
        for chunk in (b'{"stored_before_body": ', json.dumps(stored).encode(), b"}"):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    with (
        serve_asgi(
            SessionMiddleware(endpoint, session_config(), store.as_async())
        ) as url,
        Client(url, "sid") as client,
    ):
        reply = client.get("/")

    assert reply.body == {"stored_before_body": True}
    assert "content-length" not in reply.headers
    sent = reply.session_cookie
    assert sent is not None
    (session_id,) = store.ids("set")
    assert IdSigner(session_config().secret).unsign(sent.value) == session_id


# -- Starlette -------------------------------------------------------------------------


def test_starlette_http_exception_is_a_response_and_is_committed() -> None:
    store = SpyStore()

    async def forbidden(request: Request) -> None:
        request.session["attempts"] = 1
        raise HTTPException(403, "not you")

    app = Starlette(routes=[Route("/", forbidden)])
    app.add_middleware(
        SessionMiddleware, config=session_config(), store=store.as_async()
    )
    with serve_asgi(app) as url, Client(url, "sid") as client:
        reply = client.get("/")

    assert reply.status == 403
    sent = reply.session_cookie
    assert sent is not None
    (session_id,) = store.ids("set")
    record = store.peek(session_id)
    assert record is not None
    assert record.data == {"attempts": 1}
