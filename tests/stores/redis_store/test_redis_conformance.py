"""Both Redis stores against the store contract, on a real Redis server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
import redis

from sessions.stores.redis import AsyncRedisStore, RedisStore
from sessions.testing import AsyncStoreConformance, AsyncStoreFactory, StoreConformance
from tests.stores.redis_store.servers import RedisAddress
from tests.stores.redis_store.support import async_client


class TestRedisStore(StoreConformance):
    @pytest.fixture
    def store(self, redis_client: redis.Redis, redis_prefix: str) -> RedisStore:
        return RedisStore(redis_client, prefix=redis_prefix)


class TestAsyncRedisStore(AsyncStoreConformance):
    @pytest.fixture
    def store(
        self, redis_address: RedisAddress, redis_prefix: str
    ) -> AsyncStoreFactory:
        # An asyncio client's connections belong to the event loop that made
        # them, and every check runs in a loop of its own: each gets a client
        # of its own, over the same keys.
        @contextlib.asynccontextmanager
        async def open_store() -> AsyncIterator[AsyncRedisStore]:
            client = async_client(redis_address)
            try:
                yield AsyncRedisStore(client, prefix=redis_prefix)
            finally:
                await client.aclose()

        return open_store
