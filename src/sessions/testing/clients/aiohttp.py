"""A test client for an aiohttp application, with a cookie jar.

::

    from sessions.testing.clients.aiohttp import AiohttpClient

    with AiohttpClient(app) as client:
        client.post("/login", data={"user": "ada"})
        assert client.get("/whoami").json() == {"user": "ada"}

The application runs behind aiohttp's own :class:`aiohttp.test_utils.TestServer`
on 127.0.0.1, and requests go to it over a real socket through
:class:`aiohttp.test_utils.TestClient`, on an event loop the client owns.
aiohttp's cookie jar is replaced by this package's, so every test client
keeps cookies the same way.

The server speaks plain HTTP, so ``Secure`` cookies are neither set nor
sent; test them with the WSGI or ASGI client over ``https://``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict
from yarl import URL

from sessions.testing.clients._base import LoopClient, Request

__all__ = ["AiohttpClient"]


class AiohttpClient(LoopClient):
    """A browser for an aiohttp application, served on 127.0.0.1.

    The server starts when the client is created and stops in
    :meth:`close`. An exception in a handler becomes the ``500`` response
    aiohttp makes of it (logged by aiohttp), as in production.

    Args:
        app: The aiohttp application.
        clock: The application's clock, for the jar to expire cookies.
    """

    def __init__(
        self,
        app: web.Application,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self.app = app
        try:
            self._client = self._run(self._start(app))
        except BaseException:
            self._loop.close()
            raise
        super().__init__(base_url=f"http://127.0.0.1:{self._client.port}", clock=clock)

    @staticmethod
    async def _start(app: web.Application) -> TestClient[web.Request, web.Application]:
        client = TestClient(TestServer(app), cookie_jar=DummyCookieJar())
        await client.start_server()
        return client

    async def _exchange_async(
        self, request: Request
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        headers: CIMultiDict[str] = CIMultiDict(request.headers)
        body = request.body if request.body or request.method != "GET" else None
        async with self._client.session.request(
            request.method,
            URL(request.url, encoded=True),
            headers=headers,
            data=body,
            allow_redirects=False,
        ) as response:
            content = await response.read()
            fields = [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in response.raw_headers
            ]
            return response.status, fields, content

    async def _shutdown(self) -> None:
        await self._client.close()
