"""The ASGI entries: Starlette bare, with this library's ASGI middleware,
with Starlette's own signed-cookie ``SessionMiddleware``, and with
starsessions (memory and Redis).

starsessions loads a session only when the handler asks for it
(``await load_session(request)``), so its handlers do that first; every
other layer puts the session in ``request.session`` before the handler runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as SignedCookieMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starsessions import InMemoryStore, load_session
from starsessions import SessionMiddleware as StarsessionsMiddleware
from starsessions.stores.redis import RedisStore as StarsessionsRedisStore

from benchmarks.drivers import AsgiDriver
from benchmarks.harness import SECRET, Entry, RoundTrips, Scenario, visit
from benchmarks.redis_counting import async_counting_client
from sessions import MemoryStore, SessionConfig
from sessions.stores.redis import AsyncRedisStore
from sessions_adapters.asgi import SessionMiddleware

__all__ = ["starlette_entries"]

GROUP = "Starlette"
Mapping = MutableMapping[str, Any]
OpenSession = Callable[[Request], Awaitable[Mapping]]


def starlette_app(
    open_session: OpenSession | None, middleware: list[Middleware]
) -> Starlette:
    """A Starlette application with one endpoint per scenario.

    Args:
        open_session: Reaches the request's session (``None``: no sessions).
        middleware: The session layer.
    """

    def endpoint_for(scenario: Scenario) -> Callable[[Request], Awaitable[Any]]:
        async def endpoint(request: Request) -> PlainTextResponse:
            session = None
            if open_session is not None and scenario is not Scenario.UNTOUCHED:
                session = await open_session(request)
            return PlainTextResponse(visit(scenario, session))

        return endpoint

    routes = [Route(scenario.path, endpoint_for(scenario)) for scenario in Scenario]
    return Starlette(routes=routes, middleware=middleware)


async def _request_session(request: Request) -> Mapping:
    return request.session


async def _starsessions_session(request: Request) -> Mapping:
    await load_session(request)
    return request.session


def starlette_entries(
    with_redis: bool, resources: contextlib.AsyncExitStack
) -> list[Entry]:
    """Bare Starlette; this library; Starlette's signed cookie; starsessions."""
    config = SessionConfig(secret=SECRET)

    def entry(
        name: str,
        open_session: OpenSession | None,
        middleware: list[Middleware],
        round_trips: RoundTrips | None = None,
        *,
        is_bare: bool = False,
    ) -> Entry:
        driver = AsgiDriver(starlette_app(open_session, middleware))
        return Entry(GROUP, name, driver, round_trips=round_trips, is_bare=is_bare)

    entries = [
        entry("bare Starlette app", None, [], is_bare=True),
        entry(
            "sessions, MemoryStore",
            _request_session,
            [Middleware(SessionMiddleware, config=config, store=MemoryStore())],
        ),
    ]
    if with_redis:
        tally = RoundTrips()
        client = async_counting_client(tally)
        resources.push_async_callback(client.aclose)
        store = AsyncRedisStore(client, prefix="bench:starlette:")
        entries.append(
            entry(
                "sessions, AsyncRedisStore",
                _request_session,
                [Middleware(SessionMiddleware, config=config, store=store)],
                tally,
            )
        )
    entries += [
        entry(
            "Starlette signed cookie",
            _request_session,
            [Middleware(SignedCookieMiddleware, secret_key=SECRET)],
        ),
        entry(
            "starsessions, InMemoryStore",
            _starsessions_session,
            [Middleware(StarsessionsMiddleware, store=InMemoryStore())],
        ),
    ]
    if with_redis:
        tally = RoundTrips()
        client = async_counting_client(tally)
        resources.push_async_callback(client.aclose)
        peer_store = StarsessionsRedisStore(connection=client, prefix="bench:star:")
        entries.append(
            entry(
                "starsessions, RedisStore",
                _starsessions_session,
                [Middleware(StarsessionsMiddleware, store=peer_store)],
                tally,
            )
        )
    return entries
