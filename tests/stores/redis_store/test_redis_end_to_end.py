"""Sessions in Redis through real servers: the WSGI adapter behind wsgiref,
the ASGI adapter behind uvicorn.

After every response, the Redis expiry of the client's session must equal
the expiry last sent to the client in its cookie (within a second). The
middleware's clock moves five seconds at each reading, so a write or touch
that failed to move the key's expiry shows up as a gap of many seconds.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
import redis
import redis.asyncio

from sessions import CookieOptions, SessionConfig
from sessions.signing import IdSigner
from sessions.stores.redis import AsyncRedisStore, RedisStore
from sessions_adapters import asgi, wsgi
from sessions_adapters.asgi import ASGIApp, Receive, Scope, Send
from tests.behaviour.apps import asgi_app, wsgi_app
from tests.behaviour.client import Client, Reply
from tests.behaviour.servers import serve_asgi, serve_wsgi
from tests.stores.redis_store.servers import RedisAddress
from tests.stores.redis_store.support import async_client, sync_client

Clock = Callable[[], datetime]
Serve = Callable[[SessionConfig, RedisAddress, str, Clock], AbstractContextManager[str]]


class SteppingClock:
    """A clock that starts at the real time and moves ``step`` further at
    every reading, from any thread."""

    def __init__(self, step: timedelta) -> None:
        self._lock = threading.Lock()
        self._now = datetime.now(timezone.utc)
        self._step = step

    def __call__(self) -> datetime:
        with self._lock:
            self._now += self._step
            return self._now


@contextlib.contextmanager
def serve_wsgi_on_redis(
    config: SessionConfig, address: RedisAddress, prefix: str, clock: Clock
) -> Iterator[str]:
    client = sync_client(address)
    store = RedisStore(client, prefix=prefix)
    app = wsgi.SessionMiddleware(wsgi_app.handler, config, store, clock=clock)
    try:
        with serve_wsgi(app) as url:
            yield url
    finally:
        client.close()


def closing_at_shutdown(app: ASGIApp, client: redis.asyncio.Redis) -> ASGIApp:
    """``app``, with the lifespan protocol answered here: the Redis client's
    connections belong to the server's event loop, so they are closed on it,
    at shutdown."""

    async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    return lifespan


@contextlib.contextmanager
def serve_asgi_on_redis(
    config: SessionConfig, address: RedisAddress, prefix: str, clock: Clock
) -> Iterator[str]:
    client = async_client(address)  # connects later, on the server's loop
    store = AsyncRedisStore(client, prefix=prefix)
    app = asgi.SessionMiddleware(asgi_app.handler, config, store, clock=clock)
    with serve_asgi(closing_at_shutdown(app, client), lifespan="on") as url:
        yield url


SERVERS: dict[str, Serve] = {"wsgi": serve_wsgi_on_redis, "asgi": serve_asgi_on_redis}

# What the browser does, in order: every kind of store effect comes up.
VISITS = [
    "/?set=user:ada",  # a new session: saved, cookie sent
    "/",  # read only: touched and re-sent when rolling, else nothing
    "/?set=n:2",  # changed: saved again
    "/?regenerate_keep=1",  # a new id; the old key goes
    "/?max_age=120",  # a longer lifetime
    "/",
    "/?touch=1",  # the expiry restarts
    "/?destroy=1",  # the key goes, the cookie is cleared
]


class CookieExpiry:
    """What the client was last told: which session, until when."""

    def __init__(self, signer: IdSigner) -> None:
        self._signer = signer
        self.session_id: str | None = None
        self.expires: datetime | None = None
        self.retired: list[str] = []

    def update(self, reply: Reply) -> None:
        cookie = reply.session_cookie
        if cookie is None:
            return
        assert cookie.expires is not None, "a persistent cookie without Expires"
        expires = parsedate_to_datetime(cookie.expires)
        session_id = self._signer.unsign(cookie.value) if cookie.value else None
        if self.session_id is not None and session_id != self.session_id:
            self.retired.append(self.session_id)
        if session_id is None or expires <= datetime.now(timezone.utc):
            self.session_id, self.expires = None, None  # cleared
        else:
            self.session_id, self.expires = session_id, expires


@pytest.mark.parametrize("rolling", [False, True], ids=["fixed", "rolling"])
@pytest.mark.parametrize("adapter", sorted(SERVERS))
def test_the_redis_expiry_follows_the_cookie_after_every_response(
    adapter: str,
    rolling: bool,
    redis_address: RedisAddress,
    redis_prefix: str,
    redis_client: redis.Redis,
) -> None:
    config = SessionConfig(
        secret="a fleet's shared secret",
        cookie=CookieOptions(max_age=60),
        rolling=rolling,
    )
    told = CookieExpiry(IdSigner(config.secret))
    expiries: set[datetime] = set()

    serve = SERVERS[adapter]
    with serve(
        config, redis_address, redis_prefix, SteppingClock(timedelta(seconds=5))
    ) as url:
        browser = Client(url, config.name)
        try:
            for path in VISITS:
                reply = browser.get(path)
                assert reply.status == 200, f"{path}: {reply.status}"
                told.update(reply)

                for retired in told.retired:
                    assert redis_client.exists(redis_prefix + retired) == 0, path
                if told.session_id is None:
                    assert path == "/?destroy=1"
                    continue
                assert told.expires is not None
                expiry_ms = redis_client.pexpiretime(redis_prefix + told.session_id)
                assert expiry_ms > 0, f"{path}: the session is not in Redis"
                in_redis = datetime.fromtimestamp(expiry_ms / 1000, timezone.utc)
                gap = abs(in_redis - told.expires)
                assert gap <= timedelta(seconds=1), f"{path}: Redis is {gap} off"
                expiries.add(told.expires)
        finally:
            browser.close()

    assert told.session_id is None
    assert len(told.retired) == 2
    assert len(expiries) >= 4, "the expiry never moved: the test proves nothing"
    assert list(redis_client.scan_iter(match=redis_prefix + "*")) == []
