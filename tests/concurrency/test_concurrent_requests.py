"""Many requests on one session at once, through real servers, on every
store: nothing is lost, a logout sticks, and the absolute lifetime holds.

Each test runs on the WSGI adapter (wsgiref, one thread per request) and the
ASGI adapter (uvicorn), each over the memory, SQLite and Redis stores.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from sessions import CookieOptions, EnumerableStore, MemoryStore, SessionConfig
from sessions.signing import IdSigner
from sessions.stores.redis import AsyncRedisStore, RedisStore
from sessions.stores.sqlite import AsyncSQLiteStore, SQLiteStore
from sessions_adapters import asgi, wsgi
from tests.behaviour.servers import serve_asgi, serve_wsgi
from tests.concurrency import apps
from tests.stores.redis_store.servers import RedisAddress
from tests.stores.redis_store.support import async_client, sync_client
from tests.stores.redis_store.test_redis_end_to_end import closing_at_shutdown

CLIENTS = 50
SETS_PER_CLIENT = 20
TIMEOUT = 30.0

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Deployment:
    """One adapter over one store, and a synchronous view of that store for
    the test to inspect."""

    def __init__(
        self,
        adapter: str,
        store_kind: str,
        tmp_path: Path,
        redis_address: RedisAddress,
        redis_prefix: str,
    ) -> None:
        self.adapter = adapter
        self.store_kind = store_kind
        self.tmp_path = tmp_path
        self.redis_address = redis_address
        self.redis_prefix = redis_prefix
        self.inspect: EnumerableStore

    @contextlib.contextmanager
    def serve(self, config: SessionConfig, clock: Clock = utc_now) -> Iterator[str]:
        with contextlib.ExitStack() as stack:
            if self.store_kind == "memory":
                memory = MemoryStore()
                self.inspect = memory
                sync_store: Any = memory
                async_store: Any = memory
            elif self.store_kind == "sqlite":
                path = self.tmp_path / "sessions.db"
                self.inspect = sync_store = SQLiteStore(path)
                stack.callback(sync_store.close)
                async_store = AsyncSQLiteStore(path)
            else:
                client = sync_client(self.redis_address)
                stack.callback(client.close)
                self.inspect = sync_store = RedisStore(client, prefix=self.redis_prefix)
                async_store = None
            if self.adapter == "wsgi":
                app = wsgi.SessionMiddleware(
                    apps.wsgi_handler, config, sync_store, clock=clock
                )
                yield stack.enter_context(serve_wsgi(app))
                return
            if async_store is None:
                redis_client = async_client(self.redis_address)
                async_store = AsyncRedisStore(redis_client, prefix=self.redis_prefix)
                asgi_app = asgi.SessionMiddleware(
                    apps.asgi_handler, config, async_store, clock=clock
                )
                served = serve_asgi(
                    closing_at_shutdown(asgi_app, redis_client), lifespan="on"
                )
            else:
                served = serve_asgi(
                    asgi.SessionMiddleware(
                        apps.asgi_handler, config, async_store, clock=clock
                    )
                )
            yield stack.enter_context(served)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture(params=["wsgi", "asgi"])
def deployment(
    request: pytest.FixtureRequest,
    store_kind: str,
    tmp_path: Path,
    redis_address: RedisAddress,
    redis_prefix: str,
) -> Deployment:
    return Deployment(request.param, store_kind, tmp_path, redis_address, redis_prefix)


CONFIG = SessionConfig(secret="shared by every worker")


def log_in(url: str) -> str:
    """Start a session; return the ``Cookie`` header that carries it."""
    reply = requests.get(
        f"{url}/set", params={"key": "owner", "value": "me"}, timeout=TIMEOUT
    )
    assert reply.status_code == 200
    value = reply.cookies[CONFIG.name]
    return f"{CONFIG.name}={value}"


def test_fifty_clients_setting_their_own_keys_lose_nothing(
    deployment: Deployment,
) -> None:
    with deployment.serve(CONFIG) as url:
        cookie = log_in(url)
        start = threading.Barrier(CLIENTS)

        def client(number: int) -> list[int]:
            statuses = []
            with requests.Session() as http:
                start.wait(timeout=TIMEOUT)
                for value in range(SETS_PER_CLIENT):
                    reply = http.get(
                        f"{url}/set",
                        params={"key": f"k{number:02}", "value": str(value)},
                        headers={"Cookie": cookie},
                        timeout=TIMEOUT,
                    )
                    statuses.append(reply.status_code)
                    # The session is never replaced by a new one.
                    assert CONFIG.name not in reply.cookies
            return statuses

        with ThreadPoolExecutor(CLIENTS) as pool:
            statuses = [
                status for each in pool.map(client, range(CLIENTS)) for status in each
            ]
        assert statuses == [200] * (CLIENTS * SETS_PER_CLIENT)

        final = requests.get(f"{url}/show", headers={"Cookie": cookie}, timeout=TIMEOUT)
        expected = {
            f"k{number:02}": str(SETS_PER_CLIENT - 1) for number in range(CLIENTS)
        }
        assert final.json() == {"owner": "me", **expected}
        assert deployment.inspect.length() == 1


def test_a_slow_request_in_flight_during_a_logout_leaves_no_session(
    deployment: Deployment,
) -> None:
    with deployment.serve(CONFIG) as url:
        cookie = log_in(url)
        slow_reply: list[requests.Response] = []

        def slow() -> None:
            slow_reply.append(
                requests.get(
                    f"{url}/set",
                    params={"key": "cart", "value": "book", "delay": "1.0"},
                    headers={"Cookie": cookie},
                    timeout=TIMEOUT,
                )
            )

        in_flight = threading.Thread(target=slow)
        in_flight.start()
        time.sleep(0.3)  # the slow request has loaded the session by now
        logout = requests.get(
            f"{url}/logout", headers={"Cookie": cookie}, timeout=TIMEOUT
        )
        assert logout.status_code == 200
        assert deployment.inspect.length() == 0
        in_flight.join(timeout=TIMEOUT)

        (reply,) = slow_reply
        assert reply.status_code == 200
        # No cookie naming the ended session (it would undo the logout's).
        assert "set-cookie" not in reply.headers
        assert deployment.inspect.length() == 0
        after = requests.get(f"{url}/show", headers={"Cookie": cookie}, timeout=TIMEOUT)
        assert after.json() == {}


class ManualClock:
    """A clock the test moves by hand, read from the server's threads."""

    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now


def test_the_absolute_lifetime_ends_a_session_kept_busy_by_rolling_requests(
    deployment: Deployment,
) -> None:
    config = SessionConfig(
        secret="shared by every worker",
        rolling=True,
        cookie=CookieOptions(max_age=60),
        absolute_timeout=300,
    )
    clock = ManualClock()
    signer = IdSigner(config.secret)
    with deployment.serve(config, clock) as url, requests.Session() as browser:
        first = browser.get(
            f"{url}/set", params={"key": "user", "value": "ada"}, timeout=TIMEOUT
        )
        session_id = signer.unsign(first.cookies[config.name])
        started = clock.now
        seen = []
        for _ in range(20):
            clock.now += timedelta(seconds=40)  # well inside the idle timeout
            reply = browser.get(f"{url}/show", timeout=TIMEOUT)
            seen.append(reply.json())
            if reply.json() == {}:
                break
        elapsed = clock.now - started
        assert seen[-1] == {}, "the session outlived its absolute lifetime"
        assert all(data == {"user": "ada"} for data in seen[:-1])
        assert timedelta(seconds=300) <= elapsed < timedelta(seconds=340)
        assert session_id is not None
        assert deployment.inspect.get(session_id) is None
