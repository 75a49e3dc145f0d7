"""Sessions for Tornado request handlers.

Put the configuration (and optionally a store) in the application settings
and mix :class:`SessionMixin` into your handlers::

    from sessions import SessionConfig
    from sessions_adapters.tornado import SessionMixin

    class Home(SessionMixin, tornado.web.RequestHandler):
        def get(self) -> None:
            self.session["visits"] = self.session.get("visits", 0) + 1
            self.write("hello")

    app = tornado.web.Application(
        [("/", Home)], session_config=SessionConfig(secret="...")
    )

The session is loaded in :meth:`SessionMixin.prepare` (a handler that
overrides ``prepare`` must ``await super().prepare()`` first). It is
committed before the response's headers are written, whichever way they
go out: ``finish()``, ``flush()``, ``redirect()``, ``send_error()`` or an
exception. A handler that crashes (any exception but ``HTTPError``) has
nothing of its session committed, as in the other adapters. Because the
store is asynchronous, the mixin holds the header write back until the store
write has finished. ``await self.session.save()``
and ``await self.session.reload()`` reach the store at once.

Settings read: ``session_config`` (a :class:`~sessions.SessionConfig`,
required) and ``session_store`` (an asynchronous store or a
:class:`~sessions.MemoryStore`; by default one ``MemoryStore`` per
application), and ``session_clock`` (a function returning the current time
as a timezone-aware ``datetime``; by default the system clock in UTC, and a
test may pass a clock of its own, such as
:class:`sessions.testing.ManualClock`).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import weakref
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from tornado.web import Application, Finish, HTTPError, RequestHandler
from tornado.websocket import WebSocketHandler

from sessions.config import SessionConfig
from sessions.cycle import RequestFacts
from sessions.errors import NoSessionError
from sessions.runner import AsyncRunner, AsyncSession, async_store, utc_now
from sessions.signing import IdSigner
from sessions.stores.base import AsyncStore
from sessions_adapters._common import (
    CommitLog,
    finish_after_error,
    finish_cycle,
)

__all__ = ["SessionMixin"]

logger = logging.getLogger(__name__)


class _ApplicationSessions:
    """What one Tornado application shares between its requests."""

    def __init__(self, settings: dict[str, Any]) -> None:
        config = settings.get("session_config")
        if not isinstance(config, SessionConfig):
            raise TypeError(
                "the application setting 'session_config' must be a SessionConfig"
            )
        self.config = config
        self.store: AsyncStore = async_store(settings.get("session_store"))
        self.signer = IdSigner(config.secret)
        self.clock = settings.get("session_clock", utc_now)
        self.commit_log = CommitLog(logger)


_per_application: weakref.WeakKeyDictionary[Application, _ApplicationSessions] = (
    weakref.WeakKeyDictionary()
)


def _sessions_of(application: Application) -> _ApplicationSessions:
    shared = _per_application.get(application)
    if shared is None:
        shared = _per_application[application] = _ApplicationSessions(
            application.settings
        )
    return shared


def _mark_retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


class SessionMixin(RequestHandler):
    """Gives a :class:`tornado.web.RequestHandler` a server-side
    ``self.session``; list it before ``RequestHandler`` in the bases."""

    _session_runner: AsyncRunner | None = None
    _session_gate: asyncio.Future[None] | None = None
    _session_finishing: asyncio.Future[None] | None = None

    async def prepare(self) -> None:
        """Load the session. Call ``await super().prepare()`` first when
        overriding."""
        shared = _sessions_of(self.application)
        runner = AsyncRunner(
            shared.config, shared.store, signer=shared.signer, clock=shared.clock
        )
        request = self.request
        await runner.load(
            RequestFacts(
                cookie_headers=tuple(request.headers.get_list("Cookie")),
                # Tornado keeps the path as the client sent it; the other
                # servers hand it over percent-decoded, and cookie.path is
                # matched against the decoded form everywhere.
                path=unquote(request.path) or "/",
                is_tls=request.protocol == "https",
                forwarded_proto=tuple(request.headers.get_list("X-Forwarded-Proto")),
                now=shared.clock(),
            )
        )
        self._session_runner = runner
        if isinstance(self, WebSocketHandler):
            # The handshake is the response start, and Tornado sends it
            # without waiting: commit now. Later changes need an explicit
            # save(), and the lifecycle calls raise SessionCommittedError.
            gate = self._session_gate = asyncio.ensure_future(self._commit(runner))
            await gate

    @property
    def session(self) -> AsyncSession:
        """This request's session.

        Raises:
            NoSessionError: ``prepare`` has not run (an override forgot
                ``await super().prepare()``), or the path is outside
                ``cookie.path``.
        """
        runner = self._session_runner
        session = None if runner is None else runner.cycle.session
        if not isinstance(session, AsyncSession):
            raise NoSessionError(
                "no session in this request: did prepare() run, and is the path "
                "inside cookie.path?"
            )
        return session

    # -- holding the headers back until the store write is done --------------

    def _commit_gate(self) -> asyncio.Future[None] | None:
        """A future that completes once the session is committed, or ``None``
        when there is nothing (more) to wait for."""
        runner = self._session_runner
        if runner is None:
            return None
        gate = self._session_gate
        if gate is None:
            gate = self._session_gate = asyncio.ensure_future(self._commit(runner))
        return None if gate.done() and gate.exception() is None else gate

    async def _commit(self, runner: AsyncRunner) -> None:
        try:
            cookies = await runner.commit()
        except Exception:
            # No cookie may point at a session the store does not have: the
            # client gets a 500 and no Set-Cookie.
            self._session_runner = None
            self.log_exception(*sys.exc_info())
            self._session_finishing = None
            self.send_error(500, exc_info=sys.exc_info())
            raise
        for value in cookies:
            self.add_header("Set-Cookie", value)
        _sessions_of(self.application).commit_log.report(runner)

    def _after_commit(
        self, gate: asyncio.Future[None], then: Callable[[], Awaitable[None]]
    ) -> asyncio.Future[None]:
        async def run() -> None:
            try:
                await gate
            except Exception:
                # The failure was logged and answered with a 500 already. A
                # handler awaiting this flush() must not go on as if its
                # headers had gone out: Finish stops it without a second log.
                raise Finish() from None
            await then()

        future = asyncio.ensure_future(run())
        # The automatic finish() is never awaited; its Finish is no news.
        future.add_done_callback(_mark_retrieved)
        return future

    def flush(self, include_footers: bool = False) -> asyncio.Future[None]:
        gate = self._commit_gate()
        if gate is None:
            return super().flush(include_footers)
        flush = super().flush
        return self._after_commit(gate, lambda: flush(include_footers))

    def finish(
        self, chunk: str | bytes | dict[str, Any] | None = None
    ) -> asyncio.Future[None]:
        gate = self._commit_gate()
        if gate is None:
            return super().finish(chunk)
        if self._session_finishing is None:
            if chunk is not None:
                self.write(chunk)
            finish = super().finish
            self._session_finishing = self._after_commit(gate, lambda: finish())
        return self._session_finishing

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info is not None and not isinstance(exc_info[1], HTTPError):
            # The handler failed: like the other adapters, commit nothing of
            # a request that crashed. An HTTPError is a deliberate response
            # and is committed like any other.
            self._abandon_session()
        super().send_error(status_code, **kwargs)

    def _abandon_session(self) -> None:
        runner = self._session_runner
        if runner is not None and self._session_gate is None:
            self._session_runner = None
            finish_after_error(runner)

    def write(self, chunk: str | bytes | dict[str, Any]) -> None:
        if self._session_finishing is not None:
            # finish() was called and only waits for the store.
            raise RuntimeError("Cannot write() after finish()")
        super().write(chunk)

    def on_finish(self) -> None:
        runner = self._session_runner
        if runner is not None:
            finish_cycle(runner, logger)
        super().on_finish()
