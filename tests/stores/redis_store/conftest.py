"""Fixtures for the Redis store tests.

``redis_address`` finds (or starts) one Redis server for the whole run; see
:mod:`tests.stores.redis_store.servers` for the policy. Every test gets a
key prefix of its own, so runs sharing a server never see each other's
sessions, and every key under it is deleted when the test ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from sessions.stores.redis import RedisStore
from tests.stores.redis_store.servers import (
    DEFAULT_PORT,
    HOST,
    RedisAddress,
    answers,
    ci_environment,
    plan,
    redis_server_binary,
    throwaway_redis,
)
from tests.stores.redis_store.support import AnyStore, BlockingStore, sync_client


@pytest.fixture(scope="session")
def redis_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisAddress]:
    """The Redis server the tests use: 127.0.0.1:6379 when it answers, else
    a throwaway ``redis-server`` started for this run."""
    default = RedisAddress(HOST, DEFAULT_PORT)
    binary = redis_server_binary()
    decision = plan(listening=answers(default), binary=binary, ci=ci_environment())
    if decision == "use":
        yield default
    elif decision == "start":
        assert binary is not None
        directory = tmp_path_factory.mktemp("redis")
        with throwaway_redis(binary, directory) as address:
            yield address
    else:
        reason = (
            f"no Redis server answers on {default.host}:{default.port} and "
            "redis-server is not installed to start one"
        )
        if decision == "fail":
            pytest.fail(f"{reason}; CI is set, so Redis is required")
        pytest.skip(reason)


@pytest.fixture
def redis_prefix(redis_address: RedisAddress) -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards."""
    prefix = f"test-sessions:{uuid.uuid4().hex}:"
    yield prefix
    cleaner = sync_client(redis_address)
    try:
        for key in cleaner.scan_iter(match=prefix + "*", count=500):
            cleaner.delete(key)
    finally:
        cleaner.close()


@pytest.fixture
def redis_client(redis_address: RedisAddress) -> Iterator[redis.Redis]:
    """A synchronous client, closed after the test."""
    client = sync_client(redis_address)
    yield client
    client.close()


@pytest.fixture
def redis_store(redis_client: redis.Redis, redis_prefix: str) -> RedisStore:
    """An empty :class:`RedisStore` under the test's prefix."""
    return RedisStore(redis_client, prefix=redis_prefix, scan_count=10)


@pytest.fixture(params=["sync", "async"])
def any_store(
    request: pytest.FixtureRequest,
    redis_store: RedisStore,
    redis_address: RedisAddress,
    redis_prefix: str,
) -> Iterator[AnyStore]:
    """The synchronous store, then the asynchronous one behind a blocking
    face: the same test runs on both."""
    if request.param == "sync":
        yield redis_store
        return
    blocking = BlockingStore(redis_address, redis_prefix, scan_count=10)
    try:
        yield blocking
    finally:
        blocking.close()
