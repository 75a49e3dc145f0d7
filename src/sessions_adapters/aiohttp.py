"""Sessions for aiohttp web applications.

Add the middleware once::

    from aiohttp import web
    from sessions import SessionConfig
    from sessions_adapters.aiohttp import get_session, session_middleware

    app = web.Application(middlewares=[session_middleware(SessionConfig(secret="..."))])

and reach the session in a handler::

    session = await get_session(request)
    session["user"] = "ada"

The session is committed just before the response is prepared, whether the
handler returns a response (it is prepared after the middleware) or
prepares a streamed one itself: the store write has finished before the
status line goes out. ``await session.save()`` and
``await session.reload()`` reach the store at once. Call
``session.detach()`` for the equivalent of ``req.session = null``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDict

from sessions.config import SessionConfig
from sessions.cycle import CycleState, RequestFacts
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

__all__ = ["SESSION_KEY", "get_session", "session_middleware"]

logger = logging.getLogger(__name__)

SESSION_KEY = web.RequestKey("sessions.session", AsyncSession)
"""Where the session lives on the request."""
_COMMITTED = (CycleState.COMMITTED, CycleState.LATE_SAVING, CycleState.CLOSED)


async def get_session(request: web.Request) -> AsyncSession:
    """Return the request's session.

    Raises:
        NoSessionError: the session middleware is not installed, or the path
            is outside ``cookie.path``.
    """
    session = request.get(SESSION_KEY)
    if not isinstance(session, AsyncSession):
        raise NoSessionError(
            "no session in this request: is session_middleware installed, and "
            "is the path inside cookie.path?"
        )
    return session


def request_facts(request: web.BaseRequest, now: datetime) -> RequestFacts:
    """Translate an aiohttp request into the core's request facts."""
    headers = request.headers
    return RequestFacts(
        cookie_headers=tuple(headers.getall("Cookie", ())),
        path=request.path or "/",
        is_tls=request.transport is not None
        and request.transport.get_extra_info("sslcontext") is not None,
        forwarded_proto=tuple(headers.getall("X-Forwarded-Proto", ())),
        now=now,
    )


def session_middleware(
    config: SessionConfig,
    store: AsyncStore | MemoryStore | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> Middleware:
    """Build the middleware that gives every request a server-side session.

    Args:
        config: The session configuration.
        store: An asynchronous store, or a :class:`~sessions.MemoryStore`;
            ``None`` means a new ``MemoryStore`` (one process only).
        clock: Returns the current time (timezone-aware); for tests.
    """
    resolved = async_store(store)
    signer = IdSigner(config.secret)
    commit_log = CommitLog(logger)

    async def commit(runner: AsyncRunner, headers: CIMultiDict[str]) -> None:
        if runner.cycle.state in _COMMITTED:
            return  # a streamed response was committed when it was prepared
        for value in await runner.commit():
            headers.add("Set-Cookie", value)
        commit_log.report(runner)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        runner = AsyncRunner(config, resolved, signer=signer, clock=clock)
        try:
            session = await runner.load(request_facts(request, clock()))
        except BaseException:
            finish_after_error(runner)
            raise
        if session is not None:
            request[SESSION_KEY] = session

        # A handler that streams prepares its response itself, before this
        # middleware gets it back. aiohttp calls the request's prepare hook
        # right before it writes the status line, so the commit rides on it.
        # The hook is not public API; the streaming tests guard it.
        framework_hook = request._prepare_hook

        # Known limitation: when the store fails inside that hook, aiohttp
        # has already set the response up for chunked transfer, and the 500
        # it then sends is framed wrongly (the client still gets no cookie).
        async def prepare_hook(response: web.StreamResponse) -> None:
            if runner.cycle.state is not CycleState.ERROR:
                await commit(runner, response.headers)
            await framework_hook(response)

        request._prepare_hook = prepare_hook  # type: ignore[method-assign]
        try:
            response = await handler(request)
            if not response.prepared:
                await commit(runner, response.headers)
        except web.HTTPException as error:
            # An HTTP error raised as an exception is still a response.
            await commit(runner, error.headers)
            finish_cycle(runner, logger)
            raise
        except BaseException:
            finish_after_error(runner)
            raise
        finish_cycle(runner, logger)
        return response

    return middleware
