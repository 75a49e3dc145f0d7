"""Sessions for any ASGI application (Starlette, FastAPI, Litestar, Quart, ...).

Wrap the application once::

    from sessions import SessionConfig
    from sessions_adapters.asgi import SessionMiddleware

    app = SessionMiddleware(app, SessionConfig(secret="..."))
    # Starlette / FastAPI: app.add_middleware(SessionMiddleware, config=...)

The session lives in ``scope["session"]``, so Starlette's and FastAPI's
``request.session`` work unchanged; :func:`get_session` returns it typed.

The session is committed when the application sends
``http.response.start``: the store write has finished before that message is
passed on, and the ``Set-Cookie`` fields are appended to the application's
own headers. A streaming response is committed at its first message. A store
failure there propagates to the server, which answers 500 with no cookie.
Data changed after the response started and never saved is reported as an
error on this module's logger.
``await session.save()`` and ``await session.reload()`` reach the store at
once. Setting ``scope["session"] = None`` detaches the session (see
``SessionConfig.unset``).

``websocket`` connections get their session loaded, and committed at once,
since no cookie can be set on them: ``regenerate()``, ``destroy()`` and the
other lifecycle calls raise ``SessionCommittedError`` there, and data changes
are kept only through an explicit ``await session.save()``.
``lifespan`` and other scope types pass straight through.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from datetime import datetime
from typing import Any, TypeAlias

from sessions.config import SessionConfig
from sessions.cycle import RequestFacts, path_matches
from sessions.errors import NoSessionError
from sessions.runner import AsyncRunner, AsyncSession, async_store, utc_now
from sessions.signing import IdSigner
from sessions.stores.base import AsyncStore
from sessions.stores.memory import MemoryStore
from sessions_adapters._common import (
    CommitLog,
    finish_after_error,
    finish_cycle,
)

__all__ = ["SessionMiddleware", "get_session"]

logger = logging.getLogger(__name__)

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]


def get_session(scope: Scope) -> AsyncSession:
    """Return the connection's session.

    Raises:
        NoSessionError: :class:`SessionMiddleware` does not wrap this
            application, the path is outside ``cookie.path``, or the session
            was detached.
    """
    session = scope.get("session")
    if not isinstance(session, AsyncSession):
        raise NoSessionError(
            "no session in this request: is SessionMiddleware installed, and "
            "is the path inside cookie.path?"
        )
    return session


def _header_values(
    headers: Iterable[tuple[bytes, bytes]], name: bytes
) -> tuple[str, ...]:
    return tuple(
        value.decode("latin-1") for key, value in headers if key.lower() == name
    )


def request_facts(scope: Scope, now: datetime) -> RequestFacts:
    """Translate an ASGI ``http`` or ``websocket`` scope into request facts."""
    headers = scope.get("headers") or ()
    path = scope.get("path") or "/"
    root_path = scope.get("root_path") or ""
    # Servers differ on whether "path" already carries the mount prefix; it
    # does if it starts with the prefix as whole segments (so "/shopping" under
    # "/shop" is a path without it).
    if root_path and not path_matches(path, root_path):
        path = root_path + path
    return RequestFacts(
        cookie_headers=_header_values(headers, b"cookie"),
        path=path,
        is_tls=scope.get("scheme") in ("https", "wss"),
        forwarded_proto=_header_values(headers, b"x-forwarded-proto"),
        now=now,
    )


class SessionMiddleware:
    """ASGI middleware that gives every request a server-side session.

    Args:
        app: The ASGI application to wrap.
        config: The session configuration.
        store: An asynchronous store, or a :class:`~sessions.MemoryStore`;
            ``None`` means a new ``MemoryStore`` (one process only).
        clock: Returns the current time (timezone-aware); for tests.
    """

    def __init__(
        self,
        app: ASGIApp,
        config: SessionConfig,
        store: AsyncStore | MemoryStore | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.app = app
        self.config = config
        self.store = async_store(store)
        self.clock = clock
        self._signer = IdSigner(config.secret)
        self._commit_log = CommitLog(logger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _load(self, scope: Scope) -> tuple[AsyncRunner, AsyncSession | None]:
        """Start the connection's cycle and put its session in the scope."""
        runner = AsyncRunner(
            self.config, self.store, signer=self._signer, clock=self.clock
        )
        try:
            session = await runner.load(request_facts(scope, self.clock()))
        except BaseException:
            finish_after_error(runner)
            raise
        scope["session"] = session
        return runner, session

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        runner, session = await self._load(scope)
        started = False

        async def send_with_session(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                started = True
                if session is not None and scope.get("session") is None:
                    session.detach()
                cookies = await runner.commit()
                self._commit_log.report(runner)
                if cookies:
                    message = dict(message)
                    message["headers"] = [
                        *message.get("headers", ()),
                        *(
                            (b"set-cookie", value.encode("latin-1"))
                            for value in cookies
                        ),
                    ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_session)
        except BaseException:
            finish_after_error(runner)
            raise
        finish_cycle(runner, logger)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        runner, _ = await self._load(scope)
        # No cookie can be set on a websocket: the handshake is the response
        # start, so the session is committed now (an unchanged session only
        # has its expiry refreshed) and later changes need an explicit save.
        try:
            await runner.commit()
        except BaseException:
            finish_after_error(runner)
            raise
        try:
            await self.app(scope, receive, send)
        except BaseException:
            finish_after_error(runner)
            raise
        finish_cycle(runner, logger)
