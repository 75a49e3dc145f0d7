"""Handing one request to an application in-process, one driver per kind.

No driver opens a socket. Each builds the request the way a server would
hand it over, times only the application's work (from the call to the last
byte of the body), and reports the status, the ``Set-Cookie`` fields and
the body. The bare application of each framework goes through the same
driver as the entries compared with it, so whatever the driver costs is
common to both.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any, TypeAlias
from unittest import mock

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict
from tornado.concurrent import Future
from tornado.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPServerRequest,
    RequestStartLine,
    ResponseStartLine,
)
from tornado.web import Application as TornadoApplication

from benchmarks.harness import Exchange, Scenario

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

__all__ = ["AiohttpDriver", "AsgiDriver", "TornadoDriver", "WsgiDriver"]

HOST = "bench.example"

Message: TypeAlias = MutableMapping[str, Any]
ASGIApp: TypeAlias = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[Message]],
        Callable[[Message], Awaitable[None]],
    ],
    Awaitable[None],
]


class WsgiDriver:
    """Calls a WSGI application with a fresh environ and ``start_response``,
    then joins and closes its body, as a WSGI server does."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self._base: WSGIEnvironment = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": HOST,
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": HOST,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }

    async def send(self, scenario: Scenario, cookie: str | None) -> Exchange:
        environ = dict(self._base)
        environ["PATH_INFO"] = scenario.path
        environ["wsgi.input"] = io.BytesIO(b"")
        if cookie is not None:
            environ["HTTP_COOKIE"] = cookie
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(
            status: str,
            headers: list[tuple[str, str]],
            exc_info: OptExcInfo | None = None,
        ) -> Callable[[bytes], object]:
            started.append((status, headers))
            return _discard

        start = perf_counter_ns()
        body = self.app(environ, start_response)
        try:
            content = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        elapsed = perf_counter_ns() - start

        status, headers = started[-1]
        return Exchange(
            status=int(status.split(" ", 1)[0]),
            set_cookies=[
                value for name, value in headers if name.lower() == "set-cookie"
            ],
            body=content,
            elapsed_ns=elapsed,
        )


def _discard(data: bytes) -> object:
    return None


class AsgiDriver:
    """Calls an ASGI application with an ``http`` scope, a ``receive`` that
    gives an empty body, and a ``send`` that keeps the messages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def send(self, scenario: Scenario, cookie: str | None) -> Exchange:
        headers = [(b"host", HOST.encode())]
        if cookie is not None:
            headers.append((b"cookie", cookie.encode("latin-1")))
        scope: MutableMapping[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": scenario.path,
            "raw_path": scenario.path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        messages: list[Message] = []
        requested = False

        async def receive() -> Message:
            nonlocal requested
            if requested:
                return {"type": "http.disconnect"}
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            messages.append(message)

        start = perf_counter_ns()
        await self.app(scope, receive, send)
        elapsed = perf_counter_ns() - start

        response = next(m for m in messages if m["type"] == "http.response.start")
        return Exchange(
            status=response["status"],
            set_cookies=[
                value.decode("latin-1")
                for name, value in response.get("headers", ())
                if name.lower() == b"set-cookie"
            ],
            body=b"".join(
                m.get("body", b"")
                for m in messages
                if m["type"] == "http.response.body"
            ),
            elapsed_ns=elapsed,
        )


class _Transport:
    """The little of a transport an aiohttp request asks for: plain HTTP
    from the loopback address."""

    def __init__(self) -> None:
        self._extra: dict[str, object] = {
            "peername": ("127.0.0.1", 50000),
            "sockname": ("127.0.0.1", 80),
        }

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        return False


class _PayloadWriter(AbstractStreamWriter):
    """Keeps the status line, headers and body aiohttp writes."""

    def __init__(self) -> None:
        self.status_line = ""
        self.headers: CIMultiDict[str] = CIMultiDict()
        self.body = bytearray()

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self.body += chunk

    async def write_eof(self, chunk: bytes = b"") -> None:
        self.body += chunk

    async def drain(self) -> None:
        return None

    def enable_compression(
        self, encoding: str = "deflate", strategy: int | None = None
    ) -> None:
        return None

    def enable_chunking(self) -> None:
        return None

    async def write_headers(self, status_line: str, headers: CIMultiDict[str]) -> None:
        self.status_line = status_line
        self.headers = headers


class AiohttpDriver:
    """Runs an aiohttp application's routing and middleware chain on a
    request built by ``aiohttp.test_utils.make_mocked_request``, then
    prepares the response and writes its end, as aiohttp's server does.

    The chain is entered through ``Application._handle``, the coroutine
    aiohttp's own request handler awaits for each request; it is not public
    API, and the only other way in is through a socket.
    """

    def __init__(self, app: web.Application) -> None:
        app.freeze()
        self.app = app
        self._transport = _Transport()
        protocol = mock.Mock()
        protocol.transport = self._transport
        self._protocol = protocol

    async def send(self, scenario: Scenario, cookie: str | None) -> Exchange:
        headers = {"Host": HOST}
        if cookie is not None:
            headers["Cookie"] = cookie
        writer = _PayloadWriter()
        request = make_mocked_request(
            "GET",
            scenario.path,
            headers=headers,
            app=self.app,
            writer=writer,
            protocol=self._protocol,
            transport=self._transport,
            loop=asyncio.get_running_loop(),
        )

        start = perf_counter_ns()
        response = await self.app._handle(request)
        await response.prepare(request)
        await response.write_eof()
        elapsed = perf_counter_ns() - start

        return Exchange(
            status=int(writer.status_line.split(" ", 2)[1]),
            set_cookies=list(writer.headers.getall("Set-Cookie", ())),
            body=bytes(writer.body),
            elapsed_ns=elapsed,
        )


def _done() -> Future[None]:
    future: Future[None] = Future()
    future.set_result(None)
    return future


class _TornadoConnection(HTTPConnection):
    """Stands in for the socket: keeps the response and tells when the
    handler has finished it."""

    def __init__(self) -> None:
        self.status = 0
        self.set_cookies: list[str] = []
        self.body = bytearray()
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        return None

    def write_headers(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
    ) -> Future[None]:
        if isinstance(start_line, ResponseStartLine):
            self.status = start_line.code
        self.set_cookies = headers.get_list("Set-Cookie")
        if chunk:
            self.body += chunk
        return _done()

    def write(self, chunk: bytes) -> Future[None]:
        self.body += chunk
        return _done()

    def finish(self) -> None:
        self.finished.set_result(None)


class TornadoDriver:
    """Hands a ``tornado.httputil.HTTPServerRequest`` to a Tornado
    application through its request-callback interface (``app(request)``),
    with a connection object in place of the socket, and waits for the
    handler to finish the response."""

    def __init__(self, app: TornadoApplication) -> None:
        self.app = app

    async def send(self, scenario: Scenario, cookie: str | None) -> Exchange:
        headers = HTTPHeaders({"Host": HOST})
        if cookie is not None:
            headers["Cookie"] = cookie
        connection = _TornadoConnection()
        request = HTTPServerRequest(
            start_line=RequestStartLine("GET", scenario.path, "HTTP/1.1"),
            headers=headers,
            connection=connection,
        )

        start = perf_counter_ns()
        self.app(request)
        await connection.finished
        elapsed = perf_counter_ns() - start

        return Exchange(
            status=connection.status,
            set_cookies=connection.set_cookies,
            body=bytes(connection.body),
            elapsed_ns=elapsed,
        )
