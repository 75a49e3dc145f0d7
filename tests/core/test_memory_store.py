"""MemoryStore: expiry on an injected clock, bounded size, touch, thread
safety and its asynchronous face."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from typing import Any

import pytest

from sessions import (
    AsyncEnumerableStore,
    AsyncMemoryStore,
    AsyncStore,
    EnumerableStore,
    MemoryStore,
    SerializationError,
    SessionRecord,
    Store,
)

from .support import NOW, make_record, seconds


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, by: float) -> None:
        self.now += by


def record_until(offset: float, data: dict[str, Any] | None = None) -> SessionRecord:
    return make_record(data or {"user": "ada"}, expires=NOW + seconds(offset))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock=clock)


# -- the Store protocol --------------------------------------------------------


def test_memory_store_implements_the_sync_and_async_protocols() -> None:
    store = MemoryStore()
    assert isinstance(store, Store)
    assert isinstance(store, EnumerableStore)
    assert isinstance(store.as_async(), AsyncStore)
    assert isinstance(store.as_async(), AsyncEnumerableStore)


def test_a_stored_record_comes_back_equal(store: MemoryStore) -> None:
    record = record_until(60, {"cart": [1, {"n": 2}]})
    store.set("abc", record)
    assert store.get("abc") == record


def test_an_unknown_id_is_none(store: MemoryStore) -> None:
    assert store.get("missing") is None


def test_mutating_a_loaded_record_does_not_change_the_store(store: MemoryStore) -> None:
    store.set("abc", record_until(60, {"cart": [1]}))
    loaded = store.get("abc")
    assert loaded is not None
    loaded.data["cart"].append(2)
    again = store.get("abc")
    assert again is not None
    assert again.data == {"cart": [1]}


def test_set_replaces_an_existing_record(store: MemoryStore) -> None:
    store.set("abc", record_until(60, {"v": 1}))
    store.set("abc", record_until(60, {"v": 2}))
    assert store.length() == 1
    record = store.get("abc")
    assert record is not None
    assert record.data == {"v": 2}


def test_data_json_cannot_carry_is_refused_before_anything_is_stored(
    store: MemoryStore,
) -> None:
    with pytest.raises(SerializationError):
        store.set("abc", record_until(60, {"tags": {"a"}}))
    assert store.get("abc") is None


def test_destroy_removes_the_record_and_a_missing_id_is_fine(
    store: MemoryStore,
) -> None:
    store.set("abc", record_until(60))
    store.destroy("abc")
    store.destroy("abc")
    store.destroy("never-there")
    assert store.get("abc") is None


# -- expiry --------------------------------------------------------------------


def test_a_record_lives_until_its_expiry(store: MemoryStore, clock: FakeClock) -> None:
    store.set("abc", record_until(10))
    clock.advance(9.999)
    assert store.get("abc") is not None
    clock.advance(0.001)
    assert store.get("abc") is None


def test_setting_an_already_expired_record_deletes_the_id(
    store: MemoryStore, clock: FakeClock
) -> None:
    store.set("abc", record_until(60))
    store.set("abc", record_until(0))
    assert store.get("abc") is None
    assert store.length() == 0


def test_enumeration_leaves_out_expired_records(
    store: MemoryStore, clock: FakeClock
) -> None:
    store.set("short", record_until(5))
    store.set("long", record_until(50))
    clock.advance(10)
    assert store.ids() == ["long"]
    assert list(store.all()) == ["long"]
    assert store.length() == 1


def test_clear_forgets_everything(store: MemoryStore) -> None:
    store.set("a", record_until(5))
    store.set("b", record_until(5))
    store.clear()
    assert store.length() == 0
    assert store.get("a") is None


# -- touch ---------------------------------------------------------------------


def test_touch_moves_the_expiry_and_keeps_the_stored_data(
    store: MemoryStore, clock: FakeClock
) -> None:
    original = record_until(10, {"user": "ada"})
    store.set("abc", original)
    store.touch("abc", NOW + seconds(100))
    clock.advance(50)

    record = store.get("abc")
    assert record is not None
    assert record.data == {"user": "ada"}
    assert record.expires == NOW + seconds(100)
    assert record.max_age == original.max_age
    assert record.created == original.created


def test_touch_of_a_missing_or_expired_id_does_nothing(
    store: MemoryStore, clock: FakeClock
) -> None:
    store.touch("missing", NOW + seconds(100))
    store.set("abc", record_until(5))
    clock.advance(6)
    store.touch("abc", NOW + seconds(100))
    assert store.get("missing") is None
    assert store.get("abc") is None


def test_touch_into_the_past_deletes_the_record(store: MemoryStore) -> None:
    store.set("abc", record_until(60))
    store.touch("abc", NOW - seconds(1))
    assert store.get("abc") is None


# -- bounded size --------------------------------------------------------------


def test_a_full_store_evicts_the_record_that_expires_soonest(clock: FakeClock) -> None:
    store = MemoryStore(max_entries=3, clock=clock)
    store.set("late", record_until(300))
    store.set("soon", record_until(100))
    store.set("middle", record_until(200))
    store.set("new", record_until(400))
    assert sorted(store.ids()) == ["late", "middle", "new"]


def test_expired_records_make_room_before_live_ones_are_evicted(
    clock: FakeClock,
) -> None:
    store = MemoryStore(max_entries=2, clock=clock)
    store.set("old", record_until(10))
    store.set("live", record_until(100))
    clock.advance(20)
    store.set("new", record_until(200))
    assert sorted(store.ids()) == ["live", "new"]


def test_rewriting_an_id_in_a_full_store_evicts_nothing(clock: FakeClock) -> None:
    store = MemoryStore(max_entries=2, clock=clock)
    store.set("a", record_until(100))
    store.set("b", record_until(200))
    store.set("a", record_until(300))
    assert sorted(store.ids()) == ["a", "b"]


def test_eviction_follows_the_latest_expiry_after_touches_and_rewrites(
    clock: FakeClock,
) -> None:
    store = MemoryStore(max_entries=2, clock=clock)
    store.set("a", record_until(100))
    store.set("b", record_until(200))
    for step in range(500):
        store.touch("a", NOW + seconds(300 + step))
    store.set("c", record_until(1000))
    assert sorted(store.ids()) == ["a", "c"]


@pytest.mark.parametrize(
    ("max_entries", "error"),
    [(0, ValueError), (-1, ValueError), (True, TypeError), ("9", TypeError)],
)
def test_max_entries_must_be_a_positive_int(
    max_entries: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        MemoryStore(max_entries=max_entries)


# -- threads -------------------------------------------------------------------


def test_many_threads_hammering_one_store_leave_it_consistent(clock: FakeClock) -> None:
    store = MemoryStore(max_entries=50, clock=clock)
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(number: int) -> None:
        try:
            start.wait()
            for step in range(300):
                session_id = f"s{(number * 7 + step) % 80}"
                store.set(
                    session_id, record_until(10 + step, {"by": number, "step": step})
                )
                record = store.get(session_id)
                assert record is None or set(record.data) == {"by", "step"}
                if step % 5 == 0:
                    store.touch(session_id, NOW + seconds(1000 + step))
                if step % 7 == 0:
                    store.destroy(f"s{step % 80}")
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert store.length() <= 50
    for session_id, record in store.all().items():
        assert store.get(session_id) == record


# -- the asynchronous face -----------------------------------------------------


def test_the_async_face_shares_the_records_of_the_sync_store(
    store: MemoryStore, clock: FakeClock
) -> None:
    async_store = store.as_async()

    async def exercise() -> None:
        await async_store.set("abc", record_until(60, {"user": "ada"}))
        assert store.get("abc") is not None
        record = await async_store.get("abc")
        assert record is not None
        assert record.data == {"user": "ada"}
        await async_store.touch("abc", NOW + seconds(120))
        assert await async_store.ids() == ["abc"]
        assert list(await async_store.all()) == ["abc"]
        assert await async_store.length() == 1
        await async_store.destroy("abc")
        assert await async_store.get("abc") is None
        await async_store.set("x", record_until(60))
        await async_store.clear()
        assert await async_store.length() == 0

    asyncio.run(exercise())


def test_an_async_memory_store_made_alone_has_its_own_records() -> None:
    async_store = AsyncMemoryStore()
    assert isinstance(async_store.sync, MemoryStore)

    async def exercise() -> int:
        # This store reads the real clock, so the record is made to last.
        await async_store.set("abc", make_record(expires=NOW.replace(year=9000)))
        return await async_store.length()

    assert asyncio.run(exercise()) == 1
