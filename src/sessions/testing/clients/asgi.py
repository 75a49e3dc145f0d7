"""A test client that calls an ASGI application directly, on an event loop
of its own, with a cookie jar.

::

    from sessions.testing.clients.asgi import ASGIClient

    with ASGIClient(app) as client:
        client.post("/login", data={"user": "ada"})
        assert client.get("/whoami").json() == {"user": "ada"}

No server and no socket: each request is an ASGI ``http`` scope with its
``receive`` and ``send``. The body arrives in one ``http.request`` message;
after the response is complete, ``receive`` reports ``http.disconnect``.
With ``lifespan=True`` the client runs the application's ``lifespan``
startup when it is created and its shutdown when it is closed, as a server
would (Starlette's and FastAPI's startup code needs it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Any, TypeAlias
from urllib.parse import unquote, urlsplit

from sessions.testing.clients._base import METHODS_WITH_BODY, LoopClient, Request

__all__ = ["ASGIClient"]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

_ASGI = {"version": "3.0", "spec_version": "2.3"}


class ASGIClient(LoopClient):
    """A browser for an ASGI application, calling it in-process.

    Args:
        app: The ASGI application.
        base_url: The scheme and host the application believes it serves;
            ``https://...`` makes every request arrive over TLS (the scope's
            ``scheme``), which ``Secure`` cookies need.
        clock: The application's clock, for the jar to expire cookies.
        raise_app_exceptions: Let an exception from the application reach
            the test (the default), even one raised after the response was
            sent. When false, the client answers ``500`` with an empty body
            if the application had not started its response, and otherwise
            returns what it sent before it failed.
        lifespan: Run the application's ``lifespan`` startup now and its
            shutdown in :meth:`close`.

    Raises:
        RuntimeError: the ``lifespan`` startup failed.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        base_url: str = "http://testserver",
        clock: Callable[[], datetime] | None = None,
        raise_app_exceptions: bool = True,
        lifespan: bool = False,
    ) -> None:
        super().__init__(base_url=base_url, clock=clock)
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self._loop = asyncio.new_event_loop()
        self._state: dict[str, Any] = {}
        self._lifespan: _Lifespan | None = None
        if lifespan:
            self._lifespan = _Lifespan(app, self._state)
            try:
                self._run(self._lifespan.startup())
            except BaseException:
                self._lifespan = None
                self.close()
                raise

    def _scope(self, request: Request) -> Scope:
        parts = urlsplit(request.url)
        scheme = parts.scheme
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        headers = list(request.headers)
        if not any(name.lower() == "host" for name, _ in headers):
            headers.insert(0, ("host", parts.netloc))
        if request.body or request.method in METHODS_WITH_BODY:
            headers.append(("content-length", str(len(request.body))))
        path = parts.path or "/"
        return {
            "type": "http",
            "asgi": dict(_ASGI),
            "http_version": "1.1",
            "method": request.method,
            "scheme": scheme,
            "path": unquote(path),
            "raw_path": path.encode("ascii"),
            "query_string": parts.query.encode("ascii"),
            "root_path": "",
            "headers": [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in headers
            ],
            "client": ("127.0.0.1", 50000),
            "server": (host, port),
            "extensions": {},
            # What the lifespan startup put in its state, shallow-copied for
            # each request, as servers do.
            "state": dict(self._state),
        }

    async def _exchange_async(
        self, request: Request
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        status: int | None = None
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []
        complete = asyncio.Event()
        body_sent = False

        async def receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {
                    "type": "http.request",
                    "body": request.body,
                    "more_body": False,
                }
            await complete.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status
            kind = message["type"]
            if kind == "http.response.start":
                if status is not None:
                    raise RuntimeError("http.response.start was sent twice")
                status = int(message["status"])
                headers.extend(
                    (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
                    for name, value in message.get("headers", ())
                )
            elif kind == "http.response.body":
                if status is None:
                    raise RuntimeError("http.response.body came before the start")
                if complete.is_set():
                    raise RuntimeError("http.response.body came after the last one")
                chunks.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    complete.set()

        try:
            await self.app(self._scope(request), receive, send)
        except Exception:
            if self.raise_app_exceptions:
                raise
            if status is None:
                return 500, [("content-length", "0")], b""
            # Otherwise what was sent before the failure is the response.
        finally:
            complete.set()  # a task still waiting in receive() may go
        if status is None:
            raise RuntimeError("the application returned without starting a response")
        return status, headers, b"".join(chunks)

    async def _shutdown(self) -> None:
        lifespan, self._lifespan = self._lifespan, None
        if lifespan is not None:
            await lifespan.shutdown()


class _Lifespan:
    """The ``lifespan`` conversation with an application (ASGI lifespan
    protocol 2.0): one task runs the application's lifespan handler for the
    whole life of the client."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self._app = app
        self._state = state
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _run_app(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self._state,
        }

        async def send(message: Message) -> None:
            await self._from_app.put(message)

        await self._app(scope, self._to_app.get, send)

    async def _say(self, event: str) -> None:
        """Send ``lifespan.<event>`` and wait for the application's answer.

        Raises:
            RuntimeError: the application failed, or ended without an
                answer (it does not speak the lifespan protocol).
        """
        assert self._task is not None
        await self._to_app.put({"type": f"lifespan.{event}"})
        answer = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({answer, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            error = self._task.exception()
            raise RuntimeError(
                f"the application ended its lifespan handler without answering "
                f"lifespan.{event}"
            ) from error
        message = answer.result()
        if message["type"] == f"lifespan.{event}.failed":
            raise RuntimeError(
                f"lifespan {event} failed: {message.get('message', '')}".rstrip(": ")
            )
        if message["type"] != f"lifespan.{event}.complete":
            raise RuntimeError(f"unexpected lifespan message {message['type']!r}")

    async def startup(self) -> None:
        self._task = asyncio.ensure_future(self._run_app())
        await self._say("startup")

    async def shutdown(self) -> None:
        await self._say("shutdown")
        assert self._task is not None
        await self._task
