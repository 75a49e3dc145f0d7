"""The aiohttp entries: aiohttp bare, with this library's middleware, and
with aiohttp-session (an encrypted cookie, and Redis).

aiohttp-session loads a session only when the handler asks for it
(``await get_session(request)``), so its untouched scenario never does; this
library's middleware loads it before the handler runs, as express-session
does, so its untouched scenario pays for the load and the touch.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import aiohttp_session
from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from aiohttp_session.redis_storage import RedisStorage

from benchmarks.drivers import AiohttpDriver
from benchmarks.harness import SECRET, Entry, RoundTrips, Scenario, visit
from benchmarks.redis_counting import async_counting_client
from sessions import MemoryStore, SessionConfig
from sessions.stores.redis import AsyncRedisStore
from sessions_adapters.aiohttp import get_session, session_middleware

__all__ = ["aiohttp_entries"]

GROUP = "aiohttp"
Mapping = MutableMapping[str, Any]
OpenSession = Callable[[web.Request], Awaitable[Mapping]]


def aiohttp_app(
    open_session: OpenSession | None, middlewares: list[Middleware]
) -> web.Application:
    """An aiohttp application with one handler per scenario.

    Args:
        open_session: Reaches the request's session (``None``: no sessions).
        middlewares: The session layer.
    """

    def handler_for(scenario: Scenario) -> Callable[[web.Request], Awaitable[Any]]:
        async def handler(request: web.Request) -> web.Response:
            session = None
            if open_session is not None and scenario is not Scenario.UNTOUCHED:
                session = await open_session(request)
            return web.Response(
                body=visit(scenario, session), content_type="text/plain"
            )

        return handler

    app = web.Application(middlewares=middlewares)
    for scenario in Scenario:
        app.router.add_get(scenario.path, handler_for(scenario))
    return app


async def _our_session(request: web.Request) -> Mapping:
    return await get_session(request)


async def _peer_session(request: web.Request) -> Mapping:
    session: Mapping = await aiohttp_session.get_session(request)
    return session


def aiohttp_entries(
    with_redis: bool, resources: contextlib.AsyncExitStack
) -> list[Entry]:
    """Bare aiohttp; this library; aiohttp-session."""
    config = SessionConfig(secret=SECRET)

    def entry(
        name: str,
        open_session: OpenSession | None,
        middlewares: list[Middleware],
        round_trips: RoundTrips | None = None,
        *,
        is_bare: bool = False,
    ) -> Entry:
        driver = AiohttpDriver(aiohttp_app(open_session, middlewares))
        return Entry(GROUP, name, driver, round_trips=round_trips, is_bare=is_bare)

    entries = [
        entry("bare aiohttp app", None, [], is_bare=True),
        entry(
            "sessions, MemoryStore",
            _our_session,
            [session_middleware(config, MemoryStore())],
        ),
    ]
    if with_redis:
        tally = RoundTrips()
        client = async_counting_client(tally)
        resources.push_async_callback(client.aclose)
        store = AsyncRedisStore(client, prefix="bench:aiohttp:")
        entries.append(
            entry(
                "sessions, AsyncRedisStore",
                _our_session,
                [session_middleware(config, store)],
                tally,
            )
        )

    # The storage takes the 32 raw bytes of a Fernet key.
    fernet_key = hashlib.sha256(SECRET.encode()).digest()
    entries.append(
        entry(
            "aiohttp-session, EncryptedCookieStorage",
            _peer_session,
            [aiohttp_session.session_middleware(EncryptedCookieStorage(fernet_key))],
        )
    )
    if with_redis:
        tally = RoundTrips()
        client = async_counting_client(tally)
        resources.push_async_callback(client.aclose)
        entries.append(
            entry(
                "aiohttp-session, RedisStorage",
                _peer_session,
                [aiohttp_session.session_middleware(RedisStorage(client))],
                tally,
            )
        )
    return entries
