"""Tools the Redis store tests share.

* :class:`BlockingStore` drives an :class:`AsyncRedisStore` from plain test
  code, on an event loop of its own, so one test body covers both stores.
* :func:`watch_commands` records, through ``MONITOR``, what the Redis server
  really executed on the test's keys: the proof that every session
  operation is one round trip, that ``touch`` writes no data and that
  listing uses ``SCAN``, whatever the client library does.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Coroutine, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import attrs
import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff

from sessions import SessionRecord
from sessions.stores.redis import AsyncRedisStore, RedisStore
from tests.stores.redis_store.servers import RedisAddress, no_retry

__all__ = [
    "AnyStore",
    "BlockingStore",
    "Executed",
    "a_record",
    "async_client",
    "sync_client",
    "watch_commands",
]

_T = TypeVar("_T")

TIMEOUT = 5.0
"""Seconds any one Redis command of the tests may take."""


def sync_client(address: RedisAddress, **options: Any) -> redis.Redis:
    """A client for ``address`` that fails at once instead of retrying."""
    options.setdefault("socket_timeout", TIMEOUT)
    options.setdefault("retry", no_retry())
    return redis.Redis(host=address.host, port=address.port, **options)


def async_client(address: RedisAddress, **options: Any) -> redis.asyncio.Redis:
    """The asyncio counterpart of :func:`sync_client`.

    Its connection pool is a blocking one: a task that finds every
    connection busy waits for one (the default pool raises "Too many
    connections" beyond 100 at once). Closing the client closes the pool.
    """
    options.setdefault("socket_timeout", TIMEOUT)
    options.setdefault("retry", AsyncRetry(NoBackoff(), 0))
    options.setdefault("max_connections", 20)
    options.setdefault("timeout", TIMEOUT)
    pool = redis.asyncio.BlockingConnectionPool(
        host=address.host, port=address.port, **options
    )
    return redis.asyncio.Redis.from_pool(pool)


def a_record(
    *, expires_in: float = 60.0, data: dict[str, Any] | None = None, version: int = 0
) -> SessionRecord:
    """A record created now that expires ``expires_in`` seconds from now."""
    now = datetime.now(timezone.utc)
    return SessionRecord(
        data={"user": "ada", "cart": [1, 2]} if data is None else data,
        expires=now + timedelta(seconds=expires_in),
        max_age=int(expires_in) if expires_in > 0 else 1,
        created=now,
        version=version,
    )


class BlockingStore:
    """An :class:`AsyncRedisStore` with a blocking face, run on a private
    event loop; :meth:`close` closes the client and then the loop."""

    def __init__(
        self,
        address: RedisAddress,
        prefix: str,
        *,
        scan_count: int = 10,
        **client_options: Any,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self.client = async_client(address, **client_options)
        self.store = AsyncRedisStore(self.client, prefix=prefix, scan_count=scan_count)
        self.prefix = prefix

    def _run(self, work: Coroutine[Any, Any, _T]) -> _T:
        return self._loop.run_until_complete(work)

    def get(self, session_id: str) -> SessionRecord | None:
        return self._run(self.store.get(session_id))

    def get_and_renew(
        self, session_id: str, renew_to: datetime
    ) -> SessionRecord | None:
        return self._run(self.store.get_and_renew(session_id, renew_to))

    def set(self, session_id: str, record: SessionRecord) -> None:
        self._run(self.store.set(session_id, record))

    def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        return self._run(self.store.update(session_id, record, expected_version))

    def destroy(self, session_id: str) -> None:
        self._run(self.store.destroy(session_id))

    def touch(self, session_id: str, expires: datetime) -> bool:
        return self._run(self.store.touch(session_id, expires))

    def ids(self) -> list[str]:
        return self._run(self.store.ids())

    def all(self) -> dict[str, SessionRecord]:
        return self._run(self.store.all())

    def length(self) -> int:
        return self._run(self.store.length())

    def clear(self) -> None:
        self._run(self.store.clear())

    def close(self) -> None:
        try:
            self._run(self.client.aclose())
            self._run(self._loop.shutdown_asyncgens())
        finally:
            self._loop.close()


AnyStore = RedisStore | BlockingStore


@attrs.frozen
class Executed:
    """One command the server executed, as ``MONITOR`` reported it."""

    name: str
    """The command's name, upper-cased (``"SET"``)."""
    text: str
    """The whole command line."""
    from_script: bool
    """Whether a Lua script ran it."""


@contextlib.contextmanager
def watch_commands(address: RedisAddress, needle: str) -> Iterator[list[Executed]]:
    """Collect every command the server executes while the block runs whose
    text contains ``needle`` (a key prefix, say).

    The list fills when the block ends: a unique ``ECHO`` sent afterwards
    marks where to stop reading, so nothing executed inside is missed.
    Other clients' commands on a shared server are filtered out by
    ``needle``.
    """
    executed: list[Executed] = []
    watcher = sync_client(address, decode_responses=True)
    try:
        # redis-py leaves Redis.monitor() and its Monitor class unannotated.
        with watcher.monitor() as monitor:  # type: ignore[no-untyped-call]
            yield executed
            marker = f"end-of-watch-{uuid.uuid4().hex}"
            watcher.echo(marker)
            while True:
                entry = monitor.next_command()
                text = str(entry["command"])
                if marker in text:
                    break
                if needle in text:
                    executed.append(
                        Executed(
                            name=text.split(" ", 1)[0].upper(),
                            text=text,
                            from_script=entry.get("client_type") == "lua",
                        )
                    )
    finally:
        watcher.close()
