"""The runners: a cycle's decisions carried out against a real store, sync
and async, including explicit save()/reload() and store failures."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest

from sessions import (
    AsyncMemoryStore,
    AsyncRunner,
    AsyncSession,
    CookieOptions,
    CookieWithheld,
    CycleState,
    MemoryStore,
    SessionCommittedError,
    SessionConfig,
    SessionNotFoundError,
    SessionRecord,
    StoreError,
    SyncRunner,
    SyncSession,
)
from sessions.cookies import parse_set_cookie
from sessions.runner import async_store, sync_store

from .support import NOW, facts, make_config, sign

_T = TypeVar("_T")


def run(coroutine: Coroutine[Any, Any, _T]) -> _T:
    return asyncio.run(coroutine)


def fixed_clock() -> datetime:
    return NOW


class SpyStore:
    """A MemoryStore that logs every call and can be told to fail one."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.inner = MemoryStore(clock=NOW.timestamp)
        self.calls: list[tuple[str, str]] = []
        self.fail_on = fail_on

    def _log(self, operation: str, session_id: str) -> None:
        self.calls.append((operation, session_id))
        if operation == self.fail_on:
            # What the store protocol asks for: StoreError, cause chained.
            raise StoreError(f"{operation} failed") from ConnectionError()

    def get(self, session_id: str) -> SessionRecord | None:
        self._log("get", session_id)
        return self.inner.get(session_id)

    def set(self, session_id: str, record: SessionRecord) -> None:
        self._log("set", session_id)
        self.inner.set(session_id, record)

    def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        self._log("update", session_id)
        return self.inner.update(session_id, record, expected_version)

    def destroy(self, session_id: str) -> None:
        self._log("destroy", session_id)
        self.inner.destroy(session_id)

    def touch(self, session_id: str, expires: datetime) -> bool:
        self._log("touch", session_id)
        return self.inner.touch(session_id, expires)

    def operations(self, name: str) -> list[str]:
        return [session_id for operation, session_id in self.calls if operation == name]


def sync_runner(store: SpyStore, config: SessionConfig | None = None) -> SyncRunner:
    return SyncRunner(config or make_config(), store, clock=fixed_clock)


def load(runner: SyncRunner, *cookies: str, path: str = "/") -> SyncSession:
    session = runner.load(facts(*cookies, path=path))
    assert session is not None
    return session


def cookie_for(headers: list[str]) -> str:
    (header,) = headers
    parsed = parse_set_cookie(header)
    return f"{parsed.name}={parsed.value}"


# -- synchronous ---------------------------------------------------------------


def test_a_session_written_in_one_request_is_read_in_the_next() -> None:
    store = SpyStore()
    first = sync_runner(store)
    session = load(first)
    session["user"] = "ada"
    cookie = cookie_for(first.commit())
    first.finish()

    second = sync_runner(store)
    again = load(second, cookie)
    assert again == {"user": "ada"}
    assert again.id == session.id
    assert second.commit() == []
    assert store.operations("set") == [session.id]


def test_the_runner_clock_dates_the_stored_record() -> None:
    store = SpyStore()
    runner = sync_runner(store, make_config(cookie=CookieOptions(max_age=60)))
    session = load(runner)
    session["user"] = "ada"
    runner.commit()
    record = store.inner.get(session.id)
    assert record is not None
    assert record.created == NOW
    assert record.expires.timestamp() == NOW.timestamp() + 60


def test_explicit_save_with_no_later_change_writes_once() -> None:
    store = SpyStore()
    runner = sync_runner(store)
    session = load(runner)
    session["user"] = "ada"
    session.save()
    headers = runner.commit()
    runner.finish()
    assert store.operations("set") == [session.id]
    assert len(headers) == 1


def test_regenerate_writes_the_new_id_before_destroying_the_old_one() -> None:
    store = SpyStore()
    store.inner.set(
        "abc",
        SessionRecord(
            data={}, expires=NOW.replace(year=2031), max_age=None, created=NOW
        ),
    )
    runner = sync_runner(store)
    session = load(runner, f"sid={sign('abc')}")
    session.regenerate()
    session["user"] = "ada"
    runner.commit()
    assert store.calls == [("get", "abc"), ("set", session.id), ("destroy", "abc")]


def test_reload_sees_what_another_request_stored() -> None:
    store = SpyStore()
    writer = sync_runner(store)
    session = load(writer)
    session["count"] = 1
    cookie = cookie_for(writer.commit())

    reader = sync_runner(store)
    stale = load(reader, cookie)
    other = sync_runner(store)
    load(other, cookie)["count"] = 2
    other.commit()

    stale.reload()
    assert stale == {"count": 2}


def test_reload_of_a_session_no_longer_stored_raises_and_the_request_goes_on() -> None:
    store = SpyStore()
    runner = sync_runner(store)
    session = load(runner)
    session["user"] = "ada"
    with pytest.raises(SessionNotFoundError):
        session.reload()
    assert runner.cycle.state is CycleState.ACTIVE
    assert len(runner.commit()) == 1


def test_a_store_outage_while_loading_is_not_a_new_session() -> None:
    store = SpyStore(fail_on="get")
    runner = sync_runner(store)
    with pytest.raises(StoreError):
        runner.load(facts(f"sid={sign('abc')}"))
    assert runner.cycle.state is CycleState.ERROR
    assert runner.cycle.session is None


def test_a_failed_store_write_at_commit_sends_no_cookie() -> None:
    store = SpyStore(fail_on="set")
    runner = sync_runner(store)
    load(runner)["user"] = "ada"
    with pytest.raises(StoreError):
        runner.commit()
    assert runner.cycle.state is CycleState.ERROR
    runner.finish()
    assert runner.cycle.state is CycleState.ERROR


def test_a_failed_explicit_save_leaves_the_request_able_to_commit() -> None:
    store = SpyStore(fail_on="set")
    runner = sync_runner(store)
    session = load(runner)
    session["user"] = "ada"
    with pytest.raises(StoreError):
        session.save()
    assert runner.cycle.state is CycleState.ACTIVE

    store.fail_on = None
    assert len(runner.commit()) == 1
    assert store.inner.get(session.id) is not None


def test_a_failed_reload_leaves_the_data_as_it_was() -> None:
    store = SpyStore()
    runner = sync_runner(store)
    session = load(runner)
    session["user"] = "ada"
    store.fail_on = "get"
    with pytest.raises(StoreError):
        session.reload()
    assert session == {"user": "ada"}
    assert runner.cycle.state is CycleState.ACTIVE


def test_a_withheld_cookie_is_reported_with_its_reason() -> None:
    store = SpyStore()
    runner = sync_runner(store, make_config(cookie=CookieOptions(secure=True)))
    load(runner)["user"] = "ada"
    assert runner.commit() == []
    assert runner.notices == [CookieWithheld("insecure request")]
    assert store.calls == []


def test_a_request_outside_the_cookie_path_gets_no_session() -> None:
    store = SpyStore()
    runner = sync_runner(store, make_config(cookie=CookieOptions(path="/app")))
    assert runner.load(facts(f"sid={sign('abc')}", path="/other")) is None
    assert runner.commit() == []
    runner.finish()
    assert store.calls == []


def test_a_late_change_without_save_is_reported_at_finish() -> None:
    runner = sync_runner(SpyStore())
    session = load(runner)
    session["user"] = "ada"
    runner.commit()
    session["late"] = True
    with pytest.raises(SessionCommittedError):
        runner.finish()


def test_a_late_change_with_save_is_persisted() -> None:
    store = SpyStore()
    runner = sync_runner(store)
    session = load(runner)
    session["user"] = "ada"
    runner.commit()
    session["late"] = True
    session.save()
    runner.finish()
    record = store.inner.get(session.id)
    assert record is not None
    assert record.data == {"user": "ada", "late": True}


# -- asynchronous --------------------------------------------------------------


def async_runner(store: AsyncMemoryStore) -> AsyncRunner:
    return AsyncRunner(make_config(), store, clock=fixed_clock)


async def async_load(runner: AsyncRunner, *cookies: str) -> AsyncSession:
    session = await runner.load(facts(*cookies))
    assert session is not None
    return session


def test_async_sessions_round_trip_through_the_async_store() -> None:
    store = MemoryStore(clock=NOW.timestamp).as_async()

    async def two_requests() -> dict[str, Any]:
        first = async_runner(store)
        session = await async_load(first)
        session["user"] = "ada"
        cookie = cookie_for(await first.commit())
        first.finish()

        second = async_runner(store)
        again = await async_load(second, cookie)
        assert await second.commit() == []
        return dict(again)

    assert run(two_requests()) == {"user": "ada"}


def test_async_explicit_save_and_reload() -> None:
    store = MemoryStore(clock=NOW.timestamp).as_async()

    async def request() -> tuple[int, dict[str, Any]]:
        runner = async_runner(store)
        session = await async_load(runner)
        session["user"] = "ada"
        await session.save()
        stored = await store.length()
        session["scratch"] = True
        await session.reload()
        return stored, dict(session)

    assert run(request()) == (1, {"user": "ada"})


def test_async_store_outage_while_loading_propagates() -> None:
    class BrokenStore(AsyncMemoryStore):
        async def get(self, session_id: str) -> SessionRecord | None:
            raise StoreError("get failed") from ConnectionError()

    runner = AsyncRunner(make_config(), BrokenStore(), clock=fixed_clock)
    with pytest.raises(StoreError):
        run(runner.load(facts(f"sid={sign('abc')}")))
    assert runner.cycle.state is CycleState.ERROR


# -- choosing the store for an adapter -----------------------------------------


def test_no_store_means_a_fresh_memory_store() -> None:
    assert isinstance(sync_store(None), MemoryStore)
    assert isinstance(async_store(None), AsyncMemoryStore)


def test_a_memory_store_serves_async_adapters_through_its_async_face() -> None:
    memory = MemoryStore()
    chosen = async_store(memory)
    assert isinstance(chosen, AsyncMemoryStore)
    assert chosen.sync is memory


def test_a_memory_store_subclass_with_async_methods_is_used_as_it_is() -> None:
    class AsyncishMemory(MemoryStore):
        async def get(self, session_id: str) -> SessionRecord | None:  # type: ignore[override]
            return super().get(session_id)

    # Such a class breaks the Store protocol (mypy refuses it), but a store
    # that is asynchronous must never be driven as if it were not.
    store: Any = AsyncishMemory()
    chosen: object = async_store(store)
    assert chosen is store


def test_a_sync_store_is_refused_by_an_async_adapter_and_vice_versa() -> None:
    with pytest.raises(TypeError, match="synchronous store"):
        async_store(SpyStore())
    with pytest.raises(TypeError, match="asynchronous store"):
        sync_store(MemoryStore().as_async())
    spy = SpyStore()
    assert sync_store(spy) is spy


# -- stores that read and restart the idle timeout in one call -------------------


class RenewingSpyStore(SpyStore):
    """A spy store with ``get_and_renew`` (see ``RenewingStore``)."""

    def get_and_renew(
        self, session_id: str, renew_to: datetime
    ) -> SessionRecord | None:
        self._log("get_and_renew", session_id)
        record = self.inner.get(session_id)
        if record is not None and record.max_age is None:
            self.inner.touch(session_id, renew_to)
            record = self.inner.get(session_id)
        return record


def stored_session(store: SpyStore, config: SessionConfig) -> str:
    """Store a session through one request; return the cookie to send."""
    runner = sync_runner(store, config)
    load(runner)["user"] = "ada"
    cookie = cookie_for(runner.commit())
    runner.finish()
    store.calls.clear()
    return cookie


def names(store: SpyStore) -> list[str]:
    return [operation for operation, _ in store.calls]


def test_a_renewing_store_reads_and_restarts_the_idle_timeout_in_one_call() -> None:
    store = RenewingSpyStore()
    config = make_config(idle_timeout=600)
    cookie = stored_session(store, config)

    runner = sync_runner(store, config)
    session = load(runner, cookie)
    assert runner.commit() == []
    runner.finish()

    assert names(store) == ["get_and_renew"], "no separate touch"
    stored = store.inner.get(session.id)
    assert stored is not None
    assert stored.expires == NOW + timedelta(seconds=600)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # A persistent cookie: nothing to renew, and nothing to touch.
        ({"cookie": CookieOptions(max_age=60)}, ["get_and_renew"]),
        # A data change is written as usual.
        ({"change": True}, ["get_and_renew", "update"]),
        # An explicit touch() is still a touch.
        ({"touch": True}, ["get_and_renew", "touch"]),
        # An absolute deadline could cap the expiry: plain read, then touch.
        ({"absolute_timeout": 3600}, ["get", "touch"]),
    ],
)
def test_what_a_renewing_store_is_asked(
    options: dict[str, Any], expected: list[str]
) -> None:
    change = options.pop("change", False)
    touch = options.pop("touch", False)
    store = RenewingSpyStore()
    config = make_config(**options)
    cookie = stored_session(store, config)

    runner = sync_runner(store, config)
    session = load(runner, cookie)
    if change:
        session["user"] = "grace"
    if touch:
        session.touch()
    runner.commit()
    runner.finish()

    assert names(store) == expected


def test_a_rolling_cookie_is_resent_without_a_touch_after_a_renewing_read() -> None:
    store = RenewingSpyStore()
    config = make_config(rolling=True)
    cookie = stored_session(store, config)

    runner = sync_runner(store, config)
    load(runner, cookie)
    (header,) = runner.commit()
    runner.finish()

    assert names(store) == ["get_and_renew"]
    assert parse_set_cookie(header).max_age is None  # ends with the browser
