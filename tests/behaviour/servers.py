"""Real servers on 127.0.0.1, each in a background thread.

Every helper here is a context manager that starts a server on an ephemeral
port, yields its base URL once it accepts connections, and on exit stops it
and joins its thread. The asynchronous servers (uvicorn, aiohttp, Tornado)
run on an event loop of their own in that thread, so the test's thread stays
free to act as the browser.

The behaviour suite's test applications and the examples' tests both serve
their applications through these helpers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import socketserver
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Literal, TypeAlias
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import tornado.httpserver
import tornado.netutil
import tornado.web
import uvicorn
from aiohttp import web
from werkzeug import serving

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from sessions_adapters.asgi import ASGIApp

__all__ = [
    "STARTUP_TIMEOUT",
    "serve_aiohttp",
    "serve_asgi",
    "serve_tornado",
    "serve_werkzeug",
    "serve_wsgi",
]

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 10.0
"""Seconds a server may take to start (or to stop) before the test fails."""

Stop: TypeAlias = Callable[[], Awaitable[None]]
"""Stops a server started on an event loop; awaited on that loop."""
Start: TypeAlias = Callable[[], Awaitable[tuple[int, Stop]]]
"""Starts a server on the running event loop; returns its port and how to
stop it."""


def _url(port: int) -> str:
    return f"http://{HOST}:{port}"


# -- synchronous servers ---------------------------------------------------------


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """One thread per request; ``server_close`` joins them all."""

    daemon_threads = False
    block_on_close = True


class _QuietWSGIRequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log in the test output."""


class _QuietWerkzeugHandler(serving.WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No access log in the test output."""


@contextlib.contextmanager
def _serving_in_a_thread(server: socketserver.TCPServer) -> Iterator[str]:
    """Run a blocking server's loop in a thread; yield its URL; stop it."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield _url(server.socket.getsockname()[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def serve_wsgi(app: WSGIApplication) -> Iterator[str]:
    """Serve a WSGI application with the standard library's :mod:`wsgiref`,
    one thread per request."""
    server = make_server(
        HOST,
        0,
        app,
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietWSGIRequestHandler,
    )
    with _serving_in_a_thread(server) as url:
        yield url


@contextlib.contextmanager
def serve_werkzeug(app: WSGIApplication) -> Iterator[str]:
    """Serve a WSGI application (Flask's, typically) with werkzeug's threaded
    development server, the one ``flask run`` uses."""
    server = serving.make_server(
        HOST, 0, app, threaded=True, request_handler=_QuietWerkzeugHandler
    )
    with _serving_in_a_thread(server) as url:
        yield url


# -- servers on an event loop of their own ---------------------------------------


@contextlib.contextmanager
def _serve_on_loop(start: Start) -> Iterator[str]:
    """Run ``start`` on a new event loop in a new thread, yield the URL of
    the server it started, and stop that server on exit.

    The loop is run with :func:`asyncio.run`, which cancels whatever tasks a
    server leaves behind and closes the loop, so nothing outlives the test.
    A failure to start or to stop is raised in the caller's thread.
    """
    started: Future[tuple[asyncio.AbstractEventLoop, asyncio.Event, int]] = Future()
    stopped: Future[None] = Future()

    async def main() -> None:
        stop_requested = asyncio.Event()
        try:
            port, stop = await start()
        except BaseException as error:
            started.set_exception(error)
            return
        started.set_result((asyncio.get_running_loop(), stop_requested, port))
        await stop_requested.wait()
        await stop()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:
            if not started.done():  # the loop itself gave up while starting
                started.set_exception(error)
            stopped.set_exception(error)
        else:
            stopped.set_result(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        loop, stop_requested, port = started.result(timeout=STARTUP_TIMEOUT)
    except BaseException:
        thread.join(timeout=STARTUP_TIMEOUT)
        raise
    try:
        yield _url(port)
    finally:
        loop.call_soon_threadsafe(stop_requested.set)
        thread.join(timeout=STARTUP_TIMEOUT)
        assert not thread.is_alive(), "the server did not stop"
        stopped.result()


class _Uvicorn(uvicorn.Server):
    """A uvicorn server that says when it has started, or failed to."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.startup_over = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.startup_over.set()


@contextlib.contextmanager
def serve_asgi(
    app: ASGIApp, *, lifespan: Literal["on", "off"] = "off"
) -> Iterator[str]:
    """Serve an ASGI application with uvicorn.

    ``proxy_headers`` is off: uvicorn would otherwise rewrite the scheme from
    ``X-Forwarded-Proto`` itself, and the ``trust_proxy`` tests would measure
    uvicorn instead of the session middleware. Logging is left to the test
    run's configuration (``log_config=None``), without an access log.
    """

    async def start() -> tuple[int, Stop]:
        server = _Uvicorn(
            uvicorn.Config(
                app,
                host=HOST,
                port=0,
                lifespan=lifespan,
                proxy_headers=False,
                log_config=None,
                access_log=False,
            )
        )
        serving = asyncio.create_task(server.serve())
        over = asyncio.create_task(server.startup_over.wait())
        await asyncio.wait({serving, over}, return_when=asyncio.FIRST_COMPLETED)
        over.cancel()
        if serving.done() or not server.started:
            await serving  # raises why it stopped
            raise RuntimeError("uvicorn stopped before it started")

        async def stop() -> None:
            server.should_exit = True
            await serving

        port: int = server.servers[0].sockets[0].getsockname()[1]
        return port, stop

    with _serve_on_loop(start) as url:
        yield url


@contextlib.contextmanager
def serve_aiohttp(app: web.Application) -> Iterator[str]:
    """Serve an aiohttp application with its own ``AppRunner`` and
    ``TCPSite``, without an access log."""

    async def start() -> tuple[int, Stop]:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        port: int = runner.addresses[0][1]
        return port, runner.cleanup

    with _serve_on_loop(start) as url:
        yield url


@contextlib.contextmanager
def serve_tornado(app: tornado.web.Application) -> Iterator[str]:
    """Serve a Tornado application with its ``HTTPServer``. ``xheaders`` is
    off, so forwarded headers reach the session library untouched."""

    async def start() -> tuple[int, Stop]:
        sockets = tornado.netutil.bind_sockets(0, HOST)
        server = tornado.httpserver.HTTPServer(app, xheaders=False)
        server.add_sockets(sockets)

        async def stop() -> None:
            server.stop()
            await server.close_all_connections()

        port: int = sockets[0].getsockname()[1]
        return port, stop

    with _serve_on_loop(start) as url:
        yield url
