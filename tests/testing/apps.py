"""One small application per adapter, all answering the same routes, and a
test client for each:

- ``GET /count``: adds one to ``count`` in the session; answers it.
- ``POST /login`` (form ``user``): a new session id, then ``user`` in the
  session; answers the user, or with ``?next=<path>`` redirects there (303).
- ``GET /whoami``: answers ``{"user": ..., "count": ...}`` and reads only.
- ``POST /logout``: destroys the session; answers ``{"user": null}``.
- ``POST /data`` (a JSON body): keeps it in the session as ``data``.
- ``GET /data``: answers ``{"data": ...}``.
- ``GET /fail``: raises :class:`Boom`.

Every application runs on the test's store and clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import parse_qs

import tornado.web
from aiohttp import web

from sessions import MemoryStore, SessionConfig
from sessions.session import Session
from sessions.testing.clients import Client
from sessions.testing.clients.aiohttp import AiohttpClient
from sessions.testing.clients.asgi import ASGIClient, Receive, Scope, Send
from sessions.testing.clients.tornado import TornadoClient
from sessions.testing.clients.wsgi import WSGIClient
from sessions_adapters import aiohttp as aiohttp_adapter
from sessions_adapters import asgi as asgi_adapter
from sessions_adapters import tornado as tornado_adapter
from sessions_adapters import wsgi as wsgi_adapter

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Clock: TypeAlias = Callable[[], datetime]
MakeClient: TypeAlias = Callable[..., Client]


class Boom(Exception):
    """What ``/fail`` raises."""


def answer(
    session: Session, method: str, path: str, body: bytes, query: str
) -> tuple[int, dict[str, str], Any]:
    """What every application does: ``(status, extra headers, JSON body)``;
    the body is ``None`` for a redirect."""
    route = ("GET" if method == "HEAD" else method, path)
    form = parse_qs(body.decode())
    if route == ("GET", "/count"):
        session["count"] = session.get("count", 0) + 1
        return 200, {}, {"count": session["count"]}
    if route == ("POST", "/login"):
        session.regenerate()
        session["user"] = form["user"][0]
        target = parse_qs(query).get("next")
        if target:
            return 303, {"Location": target[0]}, None
        return 200, {}, {"user": session["user"]}
    if route == ("GET", "/whoami"):
        return 200, {}, {"user": session.get("user"), "count": session.get("count")}
    if route == ("POST", "/logout"):
        session.destroy()
        return 200, {}, {"user": None}
    if route == ("POST", "/data"):
        session["data"] = json.loads(body)
        return 200, {}, {"stored": True}
    if route == ("GET", "/data"):
        return 200, {}, {"data": session.get("data")}
    if route == ("GET", "/fail"):
        raise Boom("the handler failed")
    return 404, {}, {"error": "not found"}


def _encode(
    status: int, headers: dict[str, str], body: Any
) -> tuple[bytes, list[tuple[str, str]]]:
    content = b"" if body is None else json.dumps(body).encode()
    fields = [("Content-Type", "application/json"), *headers.items()]
    return content, fields


# -- WSGI ----------------------------------------------------------------------------


def wsgi_app(
    config: SessionConfig, store: MemoryStore, clock: Clock
) -> WSGIApplication:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        status, headers, body = answer(
            wsgi_adapter.get_session(environ),
            environ["REQUEST_METHOD"],
            environ["PATH_INFO"],
            environ["wsgi.input"].read(length),
            environ.get("QUERY_STRING", ""),
        )
        content, fields = _encode(status, headers, body)
        start_response(f"{status} X", fields)
        return [content]

    return wsgi_adapter.SessionMiddleware(app, config, store, clock=clock)


# -- ASGI ----------------------------------------------------------------------------


def asgi_app(
    config: SessionConfig, store: MemoryStore, clock: Clock
) -> asgi_adapter.SessionMiddleware:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, headers, reply = answer(
            asgi_adapter.get_session(scope),
            scope["method"],
            scope["path"],
            body,
            scope["query_string"].decode(),
        )
        content, fields = _encode(status, headers, reply)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in fields],
            }
        )
        await send({"type": "http.response.body", "body": content})

    return asgi_adapter.SessionMiddleware(app, config, store, clock=clock)


# -- aiohttp -------------------------------------------------------------------------


def aiohttp_app(
    config: SessionConfig, store: MemoryStore, clock: Clock
) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        status, headers, body = answer(
            await aiohttp_adapter.get_session(request),
            request.method,
            request.path,
            await request.read(),
            request.query_string,
        )
        content, fields = _encode(status, headers, body)
        return web.Response(status=status, body=content, headers=dict(fields))

    app = web.Application(
        middlewares=[aiohttp_adapter.session_middleware(config, store, clock=clock)]
    )
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


# -- Tornado -------------------------------------------------------------------------


class _Handler(tornado_adapter.SessionMixin, tornado.web.RequestHandler):
    def _answer(self) -> None:
        request = self.request
        status, headers, body = answer(
            self.session,
            request.method or "GET",
            request.path,
            request.body,
            request.query,
        )
        content, fields = _encode(status, headers, body)
        self.set_status(status)
        for name, value in fields:
            self.set_header(name, value)
        self.write(content)

    def get(self) -> None:
        self._answer()

    def post(self) -> None:
        self._answer()

    def head(self) -> None:
        self._answer()


def tornado_app(
    config: SessionConfig, store: MemoryStore, clock: Clock
) -> tornado.web.Application:
    return tornado.web.Application(
        [(r"/.*", _Handler)],
        session_config=config,
        session_store=store,
        session_clock=clock,
    )


# -- clients -------------------------------------------------------------------------


def _client(
    make_app: Callable[[SessionConfig, MemoryStore, Clock], Any],
    client_type: Callable[..., Client],
) -> MakeClient:
    """A ``client_type`` for what ``make_app`` builds, on the same clock."""

    def make(
        config: SessionConfig, store: MemoryStore, clock: Clock, **options: Any
    ) -> Client:
        return client_type(make_app(config, store, clock), clock=clock, **options)

    return make


CLIENTS: dict[str, MakeClient] = {
    "wsgi": _client(wsgi_app, WSGIClient),
    "asgi": _client(asgi_app, ASGIClient),
    "aiohttp": _client(aiohttp_app, AiohttpClient),
    "tornado": _client(tornado_app, TornadoClient),
}
"""``make(config, store, clock, **client_options)`` per adapter: the test
client of that adapter's application."""
