"""Fixtures for the concurrency tests: the Redis server and a key prefix per
test come from the Redis store tests' fixtures."""

from tests.stores.redis_store.conftest import redis_address, redis_prefix

__all__ = ["redis_address", "redis_prefix"]
