"""What the Redis stores do on the server: the commands, the expiries, and
what becomes of a failure.

The commands are observed with ``MONITOR``, from the server's side, so the
tests see what Redis really executed (script bodies included), not what the
client library meant to send.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
import redis
import redis.asyncio
import redis.asyncio.client
import redis.client

from sessions import RequestFacts, SessionConfig, StoreError, SyncRunner
from sessions.stores.redis import AsyncRedisStore, RedisStore
from tests.stores.redis_store.servers import HOST, RedisAddress, free_port
from tests.stores.redis_store.support import (
    AnyStore,
    BlockingStore,
    Executed,
    a_record,
    async_client,
    sync_client,
    watch_commands,
)


def new_id() -> str:
    return f"id-{uuid.uuid4().hex}"


def milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# -- expiries ----------------------------------------------------------------------


def test_the_key_expires_when_the_record_does(
    any_store: AnyStore, redis_client: redis.Redis
) -> None:
    session_id, record = new_id(), a_record(expires_in=1234.5)
    key = any_store.prefix + session_id

    any_store.set(session_id, record)

    remaining = record.expires - datetime.now(timezone.utc)
    assert abs(redis_client.pttl(key) / 1000 - remaining.total_seconds()) <= 1
    assert abs(redis_client.pexpiretime(key) - milliseconds(record.expires)) <= 1


def test_update_moves_the_key_expiry(
    any_store: AnyStore, redis_client: redis.Redis
) -> None:
    session_id = new_id()
    key = any_store.prefix + session_id
    any_store.set(session_id, a_record(expires_in=60, version=1))
    record = a_record(expires_in=4321, version=2)

    assert any_store.update(session_id, record, 1)

    assert abs(redis_client.pexpiretime(key) - milliseconds(record.expires)) <= 1


def test_touch_moves_the_key_expiry(
    any_store: AnyStore, redis_client: redis.Redis
) -> None:
    session_id = new_id()
    key = any_store.prefix + session_id
    any_store.set(session_id, a_record(expires_in=60))
    later = datetime.now(timezone.utc) + timedelta(hours=3)

    any_store.touch(session_id, later)

    assert abs(redis_client.pexpiretime(key) - milliseconds(later)) <= 1
    remaining = (later - datetime.now(timezone.utc)).total_seconds()
    assert abs(redis_client.pttl(key) / 1000 - remaining) <= 1


# -- the commands executed ---------------------------------------------------------


def sent(executed: list[Executed]) -> list[str]:
    """The names of the commands the client sent, each one round trip."""
    return [command.name for command in executed if not command.from_script]


def run_by_scripts(executed: list[Executed]) -> list[str]:
    """The names of the commands the scripts ran, in order."""
    return [command.name for command in executed if command.from_script]


def test_set_is_one_script_that_replaces_the_key_with_its_expiry(
    any_store: AnyStore, redis_address: RedisAddress, redis_client: redis.Redis
) -> None:
    session_id = new_id()
    key = any_store.prefix + session_id
    record = a_record(expires_in=600, version=3)
    with watch_commands(redis_address, any_store.prefix) as executed:
        any_store.set(session_id, record)

    assert sent(executed) == ["EVAL"]
    assert run_by_scripts(executed) == ["DEL", "HSET", "PEXPIREAT"]
    scripted = [command.text for command in executed if command.from_script]
    assert scripted[0] == f"DEL {key}"
    assert scripted[1].startswith(f"HSET {key} record ")
    assert scripted[1].endswith(" version 3 browser_session 0")
    assert scripted[2] == f"PEXPIREAT {key} {milliseconds(record.expires)}"
    assert redis_client.type(key) == b"hash"
    assert sorted(redis_client.hkeys(key)) == [
        b"browser_session",
        b"record",
        b"version",
    ]


def test_get_is_one_script_call(
    any_store: AnyStore, redis_address: RedisAddress
) -> None:
    session_id = new_id()
    any_store.set(session_id, a_record())
    with watch_commands(redis_address, any_store.prefix) as executed:
        any_store.get(session_id)

    assert sent(executed) == ["EVAL"]
    assert run_by_scripts(executed) == ["TYPE", "HMGET", "PEXPIRETIME"]


def test_get_and_renew_is_one_script_that_renews_a_browser_session_cookie(
    any_store: AnyStore, redis_address: RedisAddress, redis_client: redis.Redis
) -> None:
    browser, persistent, fresher = new_id(), new_id(), new_id()
    key = any_store.prefix + browser
    idle = attrs.evolve(a_record(expires_in=60), max_age=None)
    any_store.set(browser, idle)
    any_store.set(persistent, a_record(expires_in=60))
    any_store.set(fresher, attrs.evolve(a_record(expires_in=7200), max_age=None))
    renew_to = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)

    with watch_commands(redis_address, any_store.prefix) as executed:
        renewed = any_store.get_and_renew(browser, renew_to)

    assert sent(executed) == ["EVAL"]
    assert run_by_scripts(executed) == ["TYPE", "HMGET", "PEXPIREAT", "PEXPIRETIME"]
    assert renewed is not None
    assert renewed.expires == renew_to
    assert renewed.data == idle.data
    assert redis_client.pexpiretime(key) == milliseconds(renew_to)
    # A persistent cookie's expiry is the cookie's: it is not moved.
    kept = any_store.get_and_renew(persistent, renew_to)
    assert kept is not None
    assert kept.expires < renew_to
    # A later expiry is never brought closer.
    later = any_store.get_and_renew(fresher, renew_to)
    assert later is not None
    assert later.expires > renew_to
    assert any_store.get_and_renew(new_id(), renew_to) is None


def test_get_and_renew_reads_the_flag_field_not_the_json(
    any_store: AnyStore, redis_client: redis.Redis
) -> None:
    # The script goes by the browser_session field alone: a hash without it
    # (as written before the field existed) still reads, and is not renewed.
    session_id = new_id()
    key = any_store.prefix + session_id
    record = attrs.evolve(a_record(expires_in=60), max_age=None)
    any_store.set(session_id, record)
    assert redis_client.hget(key, "browser_session") == b"1"
    redis_client.hdel(key, "browser_session")
    renew_to = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)

    found = any_store.get_and_renew(session_id, renew_to)

    assert found is not None
    assert found.data == record.data
    assert found.expires < renew_to
    assert redis_client.pexpiretime(key) == milliseconds(record.expires)


def test_update_is_one_script_that_compares_the_version_and_then_writes(
    any_store: AnyStore, redis_address: RedisAddress, redis_client: redis.Redis
) -> None:
    session_id = new_id()
    key = any_store.prefix + session_id
    any_store.set(session_id, a_record(version=1))
    record = a_record(expires_in=900, data={"n": 2}, version=2)

    with watch_commands(redis_address, any_store.prefix) as executed:
        assert any_store.update(session_id, record, 1)
        assert not any_store.update(session_id, record, 1)  # now stale

    assert sent(executed) == ["EVAL", "EVAL"]
    assert run_by_scripts(executed) == [
        *("TYPE", "HGET", "HSET", "PEXPIREAT"),
        *("TYPE", "HGET"),
    ]
    expiry = [command.text for command in executed if command.name == "PEXPIREAT"]
    assert expiry == [f"PEXPIREAT {key} {milliseconds(record.expires)}"]
    assert redis_client.hget(key, "version") == b"2"


def test_update_of_a_missing_session_writes_nothing(
    any_store: AnyStore, redis_address: RedisAddress, redis_client: redis.Redis
) -> None:
    session_id = new_id()
    with watch_commands(redis_address, any_store.prefix) as executed:
        assert not any_store.update(session_id, a_record(version=1), 0)

    assert sent(executed) == ["EVAL"]
    assert run_by_scripts(executed) == ["TYPE"]
    assert redis_client.exists(any_store.prefix + session_id) == 0


def test_touch_writes_no_data(
    any_store: AnyStore, redis_address: RedisAddress, redis_client: redis.Redis
) -> None:
    session_id = new_id()
    key = any_store.prefix + session_id
    any_store.set(session_id, a_record(version=5))
    stored = redis_client.hgetall(key)
    later = datetime.now(timezone.utc) + timedelta(minutes=30)

    with watch_commands(redis_address, any_store.prefix) as executed:
        assert any_store.touch(session_id, later)

    # One script: is the session there, and if so move its expiry, but only
    # if that makes it later.
    assert sent(executed) == ["EVAL"]
    assert [command.text for command in executed if command.from_script] == [
        f"EXISTS {key}",
        f"PEXPIREAT {key} {milliseconds(later)} GT",
    ]
    assert redis_client.hgetall(key) == stored


def test_an_expired_record_deletes_the_key_and_sends_no_expiry(
    any_store: AnyStore, redis_address: RedisAddress, redis_client: redis.Redis
) -> None:
    session_id = new_id()
    key = any_store.prefix + session_id
    any_store.set(session_id, a_record(version=1))
    past = datetime.now(timezone.utc) - timedelta(seconds=5)

    with watch_commands(redis_address, any_store.prefix) as executed:
        assert any_store.update(session_id, a_record(expires_in=-30, version=2), 1)
        any_store.set(session_id, a_record(expires_in=-30))
        assert not any_store.touch(session_id, past)

    assert sent(executed) == ["EVAL", "DEL", "DEL"]
    assert run_by_scripts(executed) == ["TYPE", "HGET", "DEL"]
    deletes = [command.text for command in executed if command.name == "DEL"]
    assert deletes == [f"DEL {key}"] * 3
    assert redis_client.exists(key) == 0


def test_listing_and_clearing_scan_and_never_use_keys(
    any_store: AnyStore, redis_address: RedisAddress
) -> None:
    session_ids = [new_id() for _ in range(25)]  # more than one SCAN step of 10
    for session_id in session_ids:
        any_store.set(session_id, a_record())

    with watch_commands(redis_address, any_store.prefix) as executed:
        any_store.ids()
        any_store.all()
        any_store.length()
        any_store.clear()

    names = {command.name for command in executed}
    assert "KEYS" not in names
    assert names == {"SCAN", "EVAL", "TYPE", "HMGET", "PEXPIRETIME", "DEL"}
    scans = [command.text for command in executed if command.name == "SCAN"]
    assert all(f"MATCH {any_store.prefix}* COUNT 10" in scan for scan in scans)
    assert len(scans) > 4, "every listing walks the keyspace with a cursor"
    deletes = [command.text for command in executed if command.name == "DEL"]
    assert sorted(deletes) == sorted(f"DEL {any_store.prefix}{i}" for i in session_ids)


# -- failures ------------------------------------------------------------------------

Operation = Callable[[AnyStore], object]

OPERATIONS: dict[str, Operation] = {
    "get": lambda store: store.get("some-id"),
    "set": lambda store: store.set("some-id", a_record()),
    "update": lambda store: store.update("some-id", a_record(version=2), 1),
    "destroy": lambda store: store.destroy("some-id"),
    "touch": lambda store: store.touch(
        "some-id", datetime.now(timezone.utc) + timedelta(minutes=1)
    ),
    "ids": lambda store: store.ids(),
    "all": lambda store: store.all(),
    "length": lambda store: store.length(),
    "clear": lambda store: store.clear(),
}


def unreachable_store(
    kind: str, address: RedisAddress, **options: Any
) -> Iterator[AnyStore]:
    if kind == "sync":
        client = sync_client(address, **options)
        try:
            yield RedisStore(client, prefix="unreachable:")
        finally:
            client.close()
    else:
        blocking = BlockingStore(address, "unreachable:", **options)
        try:
            yield blocking
        finally:
            blocking.close()


@pytest.fixture(params=["sync", "async"])
def refused_store(request: pytest.FixtureRequest) -> Iterator[AnyStore]:
    """A store whose server is down: nothing listens on its port."""
    yield from unreachable_store(request.param, RedisAddress(HOST, free_port()))


@pytest.fixture(params=["sync", "async"])
def silent_store(request: pytest.FixtureRequest) -> Iterator[AnyStore]:
    """A store whose server accepts connections but never answers."""
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(64)  # the kernel completes the handshakes; no reply
        address = RedisAddress(HOST, listener.getsockname()[1])
        yield from unreachable_store(
            request.param, address, socket_timeout=0.2, socket_connect_timeout=0.2
        )


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_refused_connection_is_a_store_error(
    refused_store: AnyStore, operation: str
) -> None:
    with pytest.raises(StoreError, match=rf"Redis {operation}\(\) failed") as caught:
        OPERATIONS[operation](refused_store)
    assert isinstance(caught.value.__cause__, redis.exceptions.ConnectionError)


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_timeout_is_a_store_error(silent_store: AnyStore, operation: str) -> None:
    with pytest.raises(StoreError, match=rf"Redis {operation}\(\) failed") as caught:
        OPERATIONS[operation](silent_store)
    assert isinstance(caught.value.__cause__, redis.exceptions.TimeoutError)


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize(
    "fault",
    [
        redis.exceptions.ResponseError("READONLY You can't write against a replica"),
        redis.exceptions.ConnectionError("Connection reset by peer"),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
    ],
    ids=lambda fault: type(fault).__name__,
)
def test_every_redis_error_is_a_store_error(
    any_store: AnyStore,
    monkeypatch: pytest.MonkeyPatch,
    operation: str,
    fault: redis.exceptions.RedisError,
) -> None:
    def fail(*args: object, **options: object) -> object:
        raise fault

    async def fail_async(*args: object, **options: object) -> object:
        raise fault

    asynchronous = isinstance(any_store, BlockingStore)
    monkeypatch.setattr(
        any_store.client, "execute_command", fail_async if asynchronous else fail
    )

    with pytest.raises(StoreError, match=rf"Redis {operation}\(\) failed") as caught:
        OPERATIONS[operation](any_store)
    assert caught.value.__cause__ is fault


@pytest.mark.parametrize("operation", ["all", "clear"])
def test_a_failed_pipeline_is_a_store_error(
    any_store: AnyStore, monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    any_store.set(new_id(), a_record())
    fault = redis.exceptions.ConnectionError("Connection closed by server.")

    def fail(*args: object, **options: object) -> object:
        raise fault

    async def fail_async(*args: object, **options: object) -> object:
        raise fault

    monkeypatch.setattr(redis.client.Pipeline, "execute", fail)
    monkeypatch.setattr(redis.asyncio.client.Pipeline, "execute", fail_async)

    with pytest.raises(StoreError, match=rf"Redis {operation}\(\) failed") as caught:
        OPERATIONS[operation](any_store)
    assert caught.value.__cause__ is fault


# -- the client stays the caller's ----------------------------------------------------


def test_the_store_never_closes_the_client_it_was_given(
    redis_address: RedisAddress, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = sync_client(redis_address)
    closed: list[str] = []
    monkeypatch.setattr(client, "close", lambda: closed.append("close"))
    monkeypatch.setattr(
        client.connection_pool,
        "disconnect",
        lambda *args, **options: closed.append("disconnect"),
    )

    store = RedisStore(client, prefix=redis_prefix)
    for operation in OPERATIONS.values():
        operation(store)
    del store
    gc.collect()

    assert closed == []
    assert client.ping()
    monkeypatch.undo()
    client.close()


def test_the_async_store_never_closes_the_client_it_was_given(
    redis_address: RedisAddress, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[str] = []

    async def record_aclose(*args: object, **options: object) -> None:
        closed.append("aclose")

    async def record_disconnect(*args: object, **options: object) -> None:
        closed.append("disconnect")

    async def scenario() -> None:
        client = async_client(redis_address)
        monkeypatch.setattr(client, "aclose", record_aclose)
        monkeypatch.setattr(client.connection_pool, "disconnect", record_disconnect)
        try:
            store = AsyncRedisStore(client, prefix=redis_prefix)
            await store.set("kept", a_record())
            await store.update("kept", a_record(version=1), 0)
            await store.get("kept")
            await store.touch("kept", datetime.now(timezone.utc) + timedelta(hours=1))
            await store.ids()
            await store.all()
            await store.length()
            await store.clear()
            await store.destroy("kept")
            del store
            gc.collect()
            assert await client.ping()
        finally:
            monkeypatch.undo()
            await client.aclose()

    asyncio.run(scenario())
    assert closed == []


@pytest.mark.parametrize("rolling", [False, True])
def test_a_read_only_request_on_a_browser_session_cookie_is_one_round_trip(
    redis_store: RedisStore, redis_address: RedisAddress, rolling: bool
) -> None:
    config = SessionConfig(secret="a test secret", rolling=rolling)
    first = SyncRunner(config, redis_store)
    session = first.load(RequestFacts(now=datetime.now(timezone.utc)))
    assert session is not None
    session["user"] = "ada"
    cookie = first.commit()[0].split(";")[0]
    first.finish()

    with watch_commands(redis_address, redis_store.prefix) as executed:
        now = datetime.now(timezone.utc)
        second = SyncRunner(config, redis_store)
        again = second.load(RequestFacts(cookie_headers=(cookie,), now=now))
        assert again == {"user": "ada"}
        second.commit()
        second.finish()

    # Read and restart the idle timeout in one script; no touch after.
    assert sent(executed) == ["EVAL"]
    key = redis_store.prefix + session.id
    renewed = milliseconds(now + timedelta(seconds=config.idle_timeout))
    assert redis_store.client.pexpiretime(key) == renewed
