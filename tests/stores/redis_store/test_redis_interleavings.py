"""The interleaving property of ``tests/core/test_interleavings.py``, run
against a real Redis server: however two or three requests on one session
take turns at the store, Redis ends holding what a model that applies each
request's key-level changes in commit order holds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import settings

from sessions.stores.redis import RedisStore
from tests.core.test_interleavings import Change, check_interleaving, interleavings
from tests.stores.redis_store.servers import RedisAddress
from tests.stores.redis_store.support import sync_client


@settings(max_examples=60, deadline=None)
@interleavings
def test_redis_store_ends_equal_to_the_model(
    redis_address: RedisAddress,
    data: dict[str, Any],
    actions: list[list[Change]],
    schedule: list[int],
) -> None:
    client = sync_client(redis_address)

    @contextmanager
    def redis_store() -> Iterator[RedisStore]:
        # A prefix per example, so no example sees another's session.
        prefix = f"test-sessions:{uuid.uuid4().hex}:"
        try:
            yield RedisStore(client, prefix=prefix)
        finally:
            for key in client.scan_iter(match=prefix + "*", count=500):
                client.delete(key)

    try:
        check_interleaving(redis_store, data, actions, schedule)
    finally:
        client.close()
