"""Redis clients that count their round trips, and the benchmark's database.

Every entry with a Redis store gets its own client whose connections count
each packed command they send: one command, one pipeline or one script
(``EVAL``/``EVALSHA``) is one round trip to the server. The counting
connection classes are handed to the clients' connection pools, so the
stores and peers under test use their clients unchanged.

All entries share database 14 of the Redis server on 127.0.0.1:6379; the
benchmark empties that database (``FLUSHDB``) before and after a run, and
never touches another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeAlias, cast

import redis
import redis.asyncio
import redis.asyncio.connection
import redis.connection
from redis.exceptions import RedisError

from benchmarks.harness import RoundTrips

__all__ = [
    "DB",
    "HOST",
    "PORT",
    "async_counting_client",
    "counting_client",
    "empty_database",
    "server_version",
    "unreachable_reason",
]

_SendPacked: TypeAlias = "Callable[[bytes | str | Iterable[bytes], bool], None]"

HOST = "127.0.0.1"
PORT = 6379
DB = 14


def counting_client(tally: RoundTrips) -> redis.Redis:
    """A synchronous client on the benchmark database that adds one to
    ``tally`` for every round trip. Closing it closes its connections."""

    class CountingConnection(redis.connection.Connection):
        def send_packed_command(
            self, command: bytes | str | Iterable[bytes], check_health: bool = True
        ) -> None:
            tally.count += 1
            # redis-py leaves the synchronous connection unannotated.
            send = cast("_SendPacked", super().send_packed_command)
            send(command, check_health)

    pool = redis.ConnectionPool(
        host=HOST, port=PORT, db=DB, connection_class=CountingConnection
    )
    return redis.Redis.from_pool(pool)


def async_counting_client(tally: RoundTrips) -> redis.asyncio.Redis:
    """The :mod:`redis.asyncio` counterpart of :func:`counting_client`."""

    class CountingConnection(redis.asyncio.connection.Connection):
        async def send_packed_command(
            self, command: bytes | str | Iterable[bytes], check_health: bool = True
        ) -> None:
            tally.count += 1
            await super().send_packed_command(command, check_health)

    pool = redis.asyncio.ConnectionPool(
        host=HOST, port=PORT, db=DB, connection_class=CountingConnection
    )
    return redis.asyncio.Redis.from_pool(pool)


MINIMUM_MAJOR = 7
"""The oldest Redis major version the Redis store works with."""


def unreachable_reason() -> str | None:
    """Why Redis cannot be used for the benchmark, or ``None`` when it
    answers."""
    client = redis.Redis(host=HOST, port=PORT, db=DB, socket_connect_timeout=1)
    try:
        version = str(client.info("server").get("redis_version", "0"))
    except (RedisError, OSError) as error:
        return f"Redis on {HOST}:{PORT} does not answer ({error})"
    finally:
        client.close()
    major = version.split(".", 1)[0]
    if not major.isdigit() or int(major) < MINIMUM_MAJOR:
        # The Redis store reads expiries with PEXPIRETIME, new in Redis 7.0.
        return f"Redis on {HOST}:{PORT} is version {version}; the store needs 7.0+"
    return None


def server_version() -> str:
    """The version the Redis server reports."""
    client = redis.Redis(host=HOST, port=PORT, db=DB)
    try:
        return str(client.info("server").get("redis_version", "unknown"))
    finally:
        client.close()


def empty_database() -> None:
    """Delete every key of the benchmark database, and only of that one."""
    client = redis.Redis(host=HOST, port=PORT, db=DB)
    try:
        client.flushdb()
    finally:
        client.close()
