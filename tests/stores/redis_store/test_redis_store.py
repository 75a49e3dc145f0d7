"""What a Redis store promises as a session store, on both faces.

Each test runs on :class:`RedisStore` and on :class:`AsyncRedisStore`
(driven through a blocking face), against a real Redis server.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import redis
import redis.asyncio

from sessions import (
    AsyncEnumerableStore,
    EnumerableStore,
    SerializationError,
    StoreError,
)
from sessions.records import record_to_json
from sessions.runner import async_store, sync_store
from sessions.stores.redis import AsyncRedisStore, RedisStore
from tests.stores.redis_store.servers import HOST, RedisAddress
from tests.stores.redis_store.support import (
    AnyStore,
    a_record,
    async_client,
    sync_client,
)

NOWHERE = RedisAddress(HOST, 1)
"""No server listens here; clients for it are made but never used."""


def new_id() -> str:
    return f"id-{uuid.uuid4().hex}"


def whole_milliseconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# -- reading and writing -----------------------------------------------------------


def test_a_stored_record_comes_back_equal(any_store: AnyStore) -> None:
    session_id, record = new_id(), a_record(data={"user": "ada", "n": [1, 2.5, None]})
    any_store.set(session_id, record)
    assert any_store.get(session_id) == record


def test_an_unknown_id_is_none(any_store: AnyStore) -> None:
    assert any_store.get(new_id()) is None


def test_set_replaces_the_record(any_store: AnyStore) -> None:
    session_id = new_id()
    any_store.set(session_id, a_record(data={"v": 1}))
    replacement = a_record(data={"v": 2}, expires_in=300)
    any_store.set(session_id, replacement)
    assert any_store.get(session_id) == replacement


def test_destroy_deletes_and_tolerates_a_missing_id(any_store: AnyStore) -> None:
    session_id = new_id()
    any_store.set(session_id, a_record())
    any_store.destroy(session_id)
    assert any_store.get(session_id) is None
    any_store.destroy(session_id)  # gone already: not an error
    assert any_store.get(session_id) is None


def test_redis_forgets_a_record_when_it_expires(any_store: AnyStore) -> None:
    session_id = new_id()
    any_store.set(session_id, a_record(expires_in=0.2))
    deadline = time.monotonic() + 10
    while any_store.get(session_id) is not None:
        assert time.monotonic() < deadline, "the record outlived its expiry"
        time.sleep(0.05)


def test_an_expired_record_given_to_set_deletes_the_session(
    any_store: AnyStore,
) -> None:
    session_id = new_id()
    any_store.set(session_id, a_record())
    any_store.set(session_id, a_record(expires_in=-1))
    assert any_store.get(session_id) is None
    assert any_store.ids() == []


def test_data_that_is_not_json_safe_is_refused_before_anything_is_written(
    any_store: AnyStore,
) -> None:
    session_id = new_id()
    with pytest.raises(SerializationError, match="tags"):
        any_store.set(session_id, a_record(data={"tags": {"a", "b"}}))
    assert any_store.ids() == []


# -- touch -----------------------------------------------------------------------


def test_touch_moves_the_expiry_that_get_reports(any_store: AnyStore) -> None:
    session_id, record = new_id(), a_record(expires_in=60)
    any_store.set(session_id, record)
    later = datetime.now(timezone.utc) + timedelta(seconds=500)
    any_store.touch(session_id, later)

    touched = any_store.get(session_id)
    assert touched is not None
    assert touched.expires == whole_milliseconds(later)
    assert (touched.data, touched.max_age, touched.created) == (
        record.data,
        record.max_age,
        record.created,
    )
    assert any_store.all() == {session_id: touched}


def test_touch_keeps_the_data_the_store_holds(any_store: AnyStore) -> None:
    session_id = new_id()
    any_store.set(session_id, a_record(data={"v": 1}))
    any_store.set(session_id, a_record(data={"v": 2}))
    any_store.touch(session_id, datetime.now(timezone.utc) + timedelta(seconds=90))
    touched = any_store.get(session_id)
    assert touched is not None
    assert touched.data == {"v": 2}


def test_touch_does_not_create_a_missing_session(
    any_store: AnyStore, redis_client: redis.Redis
) -> None:
    session_id = new_id()
    any_store.touch(session_id, datetime.now(timezone.utc) + timedelta(seconds=60))
    assert any_store.get(session_id) is None
    assert redis_client.exists(any_store.prefix + session_id) == 0


def test_touch_into_the_past_deletes_the_session(any_store: AnyStore) -> None:
    session_id = new_id()
    any_store.set(session_id, a_record())
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert any_store.touch(session_id, past)
    assert any_store.get(session_id) is None
    assert not any_store.touch(session_id, past)


# -- conditional writes -----------------------------------------------------------


def test_update_writes_only_over_the_expected_version(any_store: AnyStore) -> None:
    session_id = new_id()
    first = a_record(data={"n": 1}, version=1)
    second = a_record(data={"n": 2}, expires_in=300, version=2)
    any_store.set(session_id, first)

    assert not any_store.update(session_id, second, 0)
    assert any_store.get(session_id) == first
    assert any_store.update(session_id, second, 1)
    assert any_store.get(session_id) == second
    assert not any_store.update(session_id, first, 1)
    assert any_store.get(session_id) == second


def test_update_never_creates_a_session(
    any_store: AnyStore, redis_client: redis.Redis
) -> None:
    session_id = new_id()
    assert not any_store.update(session_id, a_record(version=1), 0)
    assert redis_client.exists(any_store.prefix + session_id) == 0


def test_the_version_field_is_the_one_that_counts(
    any_store: AnyStore, redis_client: redis.Redis
) -> None:
    session_id = new_id()
    key = any_store.prefix + session_id
    any_store.set(session_id, a_record(version=1))
    # Another writer moved the field on; the JSON inside still says 1.
    redis_client.hset(key, "version", "2")

    loaded = any_store.get(session_id)
    assert loaded is not None
    assert loaded.version == 2
    assert not any_store.update(session_id, a_record(version=2), 1)
    assert any_store.update(session_id, a_record(version=3), 2)


# -- enumeration -----------------------------------------------------------------


def test_enumeration_lists_the_live_sessions_under_the_prefix(
    any_store: AnyStore, redis_client: redis.Redis
) -> None:
    records = {new_id(): a_record(data={"i": i}) for i in range(3)}
    for session_id, record in records.items():
        any_store.set(session_id, record)
    any_store.set(new_id(), a_record(expires_in=-5))  # deleted, not listed
    neighbour = any_store.prefix.rstrip(":") + "-other:" + new_id()
    redis_client.set(neighbour, "not ours", px=60_000)

    assert sorted(any_store.ids()) == sorted(records)
    assert any_store.length() == 3
    assert any_store.all() == records

    any_store.clear()
    assert any_store.ids() == []
    assert any_store.length() == 0
    assert any_store.all() == {}
    assert redis_client.get(neighbour) == b"not ours"
    redis_client.delete(neighbour)


def test_enumeration_walks_past_one_scan_step(any_store: AnyStore) -> None:
    records = {new_id(): a_record(data={"i": i}) for i in range(35)}
    for session_id, record in records.items():
        any_store.set(session_id, record)
    assert sorted(any_store.ids()) == sorted(records)
    assert any_store.length() == len(records)
    assert any_store.all() == records
    any_store.clear()
    assert any_store.length() == 0


def test_glob_characters_in_the_prefix_are_matched_literally(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    store = RedisStore(redis_client, prefix=redis_prefix + "a*[b]?:")
    lookalike = redis_prefix + "aXXb!:imposter"  # what the raw pattern matches
    redis_client.set(lookalike, "not a session", px=60_000)
    store.set("mine", a_record())

    assert store.ids() == ["mine"]
    store.clear()
    assert redis_client.exists(lookalike) == 1


# -- what was not written by this library ------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("plain text", "not a valid session record"),
        ('{"data": {}}', "not a valid session record"),
        ('{"v": 99, "data": {}}', "format version 99"),
    ],
)
def test_a_foreign_value_is_a_store_error_not_a_miss(
    any_store: AnyStore, redis_client: redis.Redis, value: str, reason: str
) -> None:
    session_id = new_id()
    key = any_store.prefix + session_id
    redis_client.hset(key, mapping={"record": value, "version": "1"})
    redis_client.pexpire(key, 60_000)
    for read in (lambda: any_store.get(session_id), any_store.all):
        with pytest.raises(StoreError, match="not hold a session record") as caught:
            read()
        assert reason in str(caught.value)
        assert session_id not in str(caught.value)
        assert isinstance(caught.value.__cause__, ValueError)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"version": "1"}, "has no record field"),
        ({"record": record_to_json(a_record())}, "has no version field"),
        ({"record": record_to_json(a_record()), "version": "one"}, "not an integer"),
        ({"record": record_to_json(a_record()), "version": "1.5"}, "not an integer"),
    ],
)
def test_a_hash_without_both_fields_is_a_store_error(
    any_store: AnyStore,
    redis_client: redis.Redis,
    fields: dict[str, str],
    reason: str,
) -> None:
    session_id = new_id()
    key = any_store.prefix + session_id
    for field, value in fields.items():
        redis_client.hset(key, field, value)
    redis_client.pexpire(key, 60_000)
    with pytest.raises(StoreError, match=reason):
        any_store.get(session_id)


@pytest.mark.parametrize("kind", ["list", "string"])
def test_a_key_of_another_type_is_a_store_error(
    any_store: AnyStore, redis_client: redis.Redis, kind: str
) -> None:
    session_id = new_id()
    key = any_store.prefix + session_id
    if kind == "list":
        redis_client.rpush(key, "x")
    else:  # a session as the release before conditional writes stored it
        redis_client.set(key, record_to_json(a_record()), px=60_000)

    for operation in (
        lambda: any_store.get(session_id),
        lambda: any_store.update(session_id, a_record(version=1), 0),
        any_store.all,
    ):
        with pytest.raises(StoreError, match=f"it is a Redis {kind}"):
            operation()
    assert redis_client.type(key) == kind.encode(), "the key was changed"


def test_a_record_without_an_expiry_is_a_store_error(
    any_store: AnyStore, redis_client: redis.Redis
) -> None:
    session_id = new_id()
    redis_client.hset(
        any_store.prefix + session_id,
        mapping={"record": record_to_json(a_record()), "version": "0"},
    )
    with pytest.raises(StoreError, match="has no expiry"):
        any_store.get(session_id)


def test_a_client_that_decodes_responses_works_too(
    redis_address: RedisAddress, redis_prefix: str
) -> None:
    client = sync_client(redis_address, decode_responses=True)
    try:
        store = RedisStore(client, prefix=redis_prefix)
        record = a_record(data={"name": "Zoë", "emoji": "\U0001f36a"}, version=4)
        store.set("s", record)
        assert store.get("s") == record
        assert store.all() == {"s": record}
        assert store.update("s", a_record(version=5), 4)
        assert store.touch("s", record.expires)

        client.hset(redis_prefix + "bad", mapping={"record": b"\xff", "version": 0})
        client.pexpire(redis_prefix + "bad", 60_000)
        with pytest.raises(StoreError, match="not UTF-8"):
            store.get("bad")
    finally:
        client.close()


# -- construction and protocols --------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"prefix": ""}, ValueError),
        ({"prefix": b"sess:"}, TypeError),
        ({"scan_count": 0}, ValueError),
        ({"scan_count": True}, TypeError),
        ({"scan_count": 1.5}, TypeError),
    ],
)
def test_bad_options_fail_at_construction(
    options: dict[str, object], error: type[Exception]
) -> None:
    client = sync_client(NOWHERE)
    try:
        with pytest.raises(error):
            RedisStore(client, **options)  # type: ignore[arg-type]
    finally:
        client.close()


def test_the_stores_implement_the_protocols() -> None:
    client = sync_client(NOWHERE)
    try:
        synchronous = RedisStore(client)
        assert isinstance(synchronous, EnumerableStore)
        assert sync_store(synchronous) is synchronous
        with pytest.raises(TypeError, match="synchronous store"):
            async_store(synchronous)
    finally:
        client.close()

    async_redis = async_client(NOWHERE)
    try:
        asynchronous = AsyncRedisStore(async_redis)
        assert isinstance(asynchronous, AsyncEnumerableStore)
        assert async_store(asynchronous) is asynchronous
        with pytest.raises(TypeError, match="asynchronous store"):
            sync_store(asynchronous)
    finally:
        asyncio.run(async_redis.aclose())


def test_each_store_refuses_the_other_kind_of_client() -> None:
    sync_client = redis.Redis(host="127.0.0.1", port=1)
    async_client = redis.asyncio.Redis(host="127.0.0.1", port=1)
    with pytest.raises(TypeError, match="AsyncRedisStore"):
        RedisStore(async_client)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="RedisStore"):
        AsyncRedisStore(sync_client)  # type: ignore[arg-type]
    sync_client.close()
