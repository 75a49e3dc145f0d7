"""The test environment's Redis policy, a throwaway server, and the stores
on a Redis Cluster (a one-node cluster started for the test)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis
import redis.asyncio.cluster
import redis.cluster

from sessions.stores.redis import AsyncRedisStore, RedisStore
from tests.stores.redis_store.servers import (
    RedisAddress,
    answers,
    ci_environment,
    ci_is_set,
    no_retry,
    plan,
    redis_server_binary,
    throwaway_redis,
)
from tests.stores.redis_store.support import a_record, sync_client


@pytest.mark.parametrize(
    ("listening", "binary", "ci", "expected"),
    [
        (True, None, False, "use"),
        (True, "/usr/bin/redis-server", True, "use"),
        (False, "/usr/bin/redis-server", False, "start"),
        (False, "/usr/bin/redis-server", True, "start"),
        (False, None, False, "skip"),
        (False, None, True, "fail"),
    ],
)
def test_the_policy_for_finding_redis(
    listening: bool, binary: str | None, ci: bool, expected: str
) -> None:
    assert plan(listening=listening, binary=binary, ci=ci) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        ("", False),
        ("false", False),
        ("0", False),
        ("true", True),
        ("True", True),
        ("1", True),
    ],
)
def test_what_counts_as_ci(value: str | None, expected: bool) -> None:
    environ = {} if value is None else {"CI": value}
    assert ci_is_set(environ) is expected


@pytest.fixture
def binary() -> str:
    """The ``redis-server`` binary; without one these tests skip, or fail
    in CI."""
    found = redis_server_binary()
    if found is None:
        reason = "redis-server is not installed"
        if ci_environment():
            pytest.fail(f"{reason}; CI is set, so it is required")
        pytest.skip(reason)
    return found


def test_a_throwaway_server_answers_and_is_gone_afterwards(
    binary: str, tmp_path: Path
) -> None:
    with throwaway_redis(binary, tmp_path) as address:
        assert answers(address)
        client = sync_client(address)
        try:
            assert client.config_get("save") == {"save": ""}
            assert client.config_get("appendonly") == {"appendonly": "no"}
        finally:
            client.close()
    assert not answers(address, timeout=0.2)


# -- Redis Cluster -------------------------------------------------------------------


@pytest.fixture
def cluster(binary: str, tmp_path: Path) -> Iterator[RedisAddress]:
    """A one-node Redis Cluster that owns every hash slot."""
    with throwaway_redis(
        binary,
        tmp_path,
        "--cluster-enabled", "yes",
        "--cluster-config-file", "nodes.conf",
    ) as address:  # fmt: skip
        node = sync_client(address, decode_responses=True)
        try:
            node.cluster("ADDSLOTSRANGE", 0, 16383)
            deadline = time.monotonic() + 10
            while node.cluster("INFO").get("cluster_state") != "ok":
                assert time.monotonic() < deadline, "the cluster never became ready"
                time.sleep(0.05)
        finally:
            node.close()
        yield address


def test_the_store_works_on_a_cluster_client(cluster: RedisAddress) -> None:
    client = redis.cluster.RedisCluster(
        host=cluster.host, port=cluster.port, retry=no_retry()
    )
    try:
        store = RedisStore(client, prefix="sess:", scan_count=3)
        records = {f"id-{n}": a_record(data={"n": n}) for n in range(7)}
        for session_id, record in records.items():
            store.set(session_id, record)
        later = datetime.now(timezone.utc) + timedelta(hours=2)
        assert store.touch("id-0", later)
        updated = a_record(data={"n": 2, "updated": True}, version=1)
        assert store.update("id-2", updated, 0)
        assert not store.update("id-2", updated, 0)

        touched = store.get("id-0")
        assert touched is not None
        assert abs(touched.expires - later) < timedelta(milliseconds=1)
        assert sorted(store.ids()) == sorted(records)
        assert store.all() == {**records, "id-0": touched, "id-2": updated}
        store.destroy("id-1")
        assert store.length() == 6
        store.clear()
        assert store.length() == 0
    finally:
        client.close()


def test_the_async_store_works_on_a_cluster_client(cluster: RedisAddress) -> None:
    async def scenario() -> None:
        client = redis.asyncio.cluster.RedisCluster(
            host=cluster.host, port=cluster.port
        )
        try:
            store = AsyncRedisStore(client, prefix="sess:", scan_count=3)
            records = {f"id-{n}": a_record(data={"n": n}) for n in range(7)}
            for session_id, record in records.items():
                await store.set(session_id, record)
            assert await store.get("id-3") == records["id-3"]
            updated = a_record(data={"n": 3, "updated": True}, version=1)
            assert await store.update("id-3", updated, 0)
            assert not await store.update("id-3", updated, 0)
            assert await store.all() == {**records, "id-3": updated}
            await store.clear()
            assert await store.ids() == []
        finally:
            await client.aclose()

    asyncio.run(scenario())
