"""A test client for a Tornado application, with a cookie jar.

::

    from sessions.testing.clients.tornado import TornadoClient

    with TornadoClient(app) as client:
        client.post("/login", data={"user": "ada"})
        assert client.get("/whoami").json() == {"user": "ada"}

The application runs in a :class:`tornado.httpserver.HTTPServer` on a port
that :func:`tornado.testing.bind_unused_port` picks on 127.0.0.1, and
requests go to it over a real socket through Tornado's own
:class:`~tornado.httpclient.AsyncHTTPClient`, on an event loop the client
owns: the same pieces :class:`tornado.testing.AsyncHTTPTestCase` uses,
without tying tests to :mod:`unittest`.

The server speaks plain HTTP, so ``Secure`` cookies are neither set nor
sent; test them with the WSGI or ASGI client over ``https://``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPHeaders
from tornado.testing import bind_unused_port
from tornado.web import Application

from sessions.testing.clients._base import METHODS_WITH_BODY, LoopClient, Request

__all__ = ["TornadoClient"]


class TornadoClient(LoopClient):
    """A browser for a Tornado application, served on 127.0.0.1.

    The server starts when the client is created and stops in
    :meth:`close`. An exception in a handler becomes the ``500`` response
    Tornado makes of it (logged by Tornado), as in production.

    Args:
        app: The Tornado application. Give it the test clock with the
            ``session_clock`` setting.
        clock: The application's clock, for the jar to expire cookies.
        request_timeout: Seconds one request may take before it fails.
    """

    def __init__(
        self,
        app: Application,
        *,
        clock: Callable[[], datetime] | None = None,
        request_timeout: float = 30.0,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self.app = app
        self.request_timeout = request_timeout
        try:
            port = self._run(self._start(app))
        except BaseException:
            self._loop.close()
            raise
        super().__init__(base_url=f"http://127.0.0.1:{port}", clock=clock)

    async def _start(self, app: Application) -> int:
        sock, port = bind_unused_port()
        self._server = HTTPServer(app)
        self._server.add_sockets([sock])
        self._http = AsyncHTTPClient(force_instance=True)
        return port

    async def _exchange_async(
        self, request: Request
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = HTTPHeaders()
        for name, value in request.headers:
            headers.add(name, value)
        body = request.body
        response = await self._http.fetch(
            HTTPRequest(
                request.url,
                method=request.method,
                headers=headers,
                body=body if body or request.method in METHODS_WITH_BODY else None,
                follow_redirects=False,
                allow_nonstandard_methods=True,
                request_timeout=self.request_timeout,
            ),
            raise_error=False,
        )
        if response.code == 599 and response.error is not None:
            raise response.error  # no HTTP answer: the connection failed
        return response.code, list(response.headers.get_all()), response.body or b""

    async def _shutdown(self) -> None:
        self._http.close()
        self._server.stop()
        await self._server.close_all_connections()
