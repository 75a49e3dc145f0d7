"""The conformance kit itself: it fails stores that break the contract, says
why when it is pointed at the wrong kind of store, skips what a store
declares it lacks, and stays out of the way of code that does not test."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import attrs
import pytest

from sessions import AsyncMemoryStore, MemoryStore, SessionRecord
from sessions.testing import AsyncStoreConformance, StoreConformance

# -- stores that each break one rule ---------------------------------------------


class KeepsExpiredRecords(MemoryStore):
    """Its clock never moves past the epoch, so nothing ever expires."""

    def __init__(self) -> None:
        super().__init__(clock=lambda: 0.0)


class TouchCreates(MemoryStore):
    def touch(self, session_id: str, expires: datetime) -> bool:
        if self.get(session_id) is None:
            record = SessionRecord(
                data={}, expires=expires, max_age=None, created=expires
            )
            self.set(session_id, record)
            return False
        return super().touch(session_id, expires)


class TouchAlwaysFindsTheRecord(MemoryStore):
    def touch(self, session_id: str, expires: datetime) -> bool:
        super().touch(session_id, expires)
        return True


class TouchResetsTheVersion(MemoryStore):
    def touch(self, session_id: str, expires: datetime) -> bool:
        record = self.get(session_id)
        if record is None:
            return False
        self.set(session_id, attrs.evolve(record, expires=expires, version=0))
        return True


class TouchRestoresTheFirstRecord(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.first: dict[str, SessionRecord] = {}

    def set(self, session_id: str, record: SessionRecord) -> None:
        self.first.setdefault(session_id, record)
        super().set(session_id, record)

    def touch(self, session_id: str, expires: datetime) -> bool:
        if self.get(session_id) is None:
            return False
        super().set(session_id, attrs.evolve(self.first[session_id], expires=expires))
        return True


class UpdateIgnoresTheVersion(MemoryStore):
    """Writes over any live record, whatever version it holds."""

    def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        if self.get(session_id) is None:
            return False
        self.set(session_id, record)
        return True


class UpdateCreates(MemoryStore):
    """Writes a missing record as if it had been there."""

    def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        if self.get(session_id) is None:
            self.set(session_id, record)
            return True
        return super().update(session_id, record, expected_version)


class ChecksThenWrites(MemoryStore):
    """Compares the version in one step and writes in another, as a store
    that reads in one round trip and writes in a second does: each call
    alone is right, but another writer can get in between."""

    def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        current = self.get(session_id)
        if current is None or current.version != expected_version:
            return False
        time.sleep(0.001)  # the second round trip
        self.set(session_id, record)
        return True


class AsyncChecksThenWrites(AsyncMemoryStore):
    """:class:`ChecksThenWrites` for the asynchronous protocol."""

    async def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        current = await self.get(session_id)
        if current is None or current.version != expected_version:
            return False
        await asyncio.sleep(0)  # the second round trip
        await self.set(session_id, record)
        return True


class ExpiredUpdateKeepsTheRecord(MemoryStore):
    """Refuses an expired record instead of deleting the matching one."""

    def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        if record.expires <= datetime.now(timezone.utc):
            return False
        return super().update(session_id, record, expected_version)


class IgnoresCase(MemoryStore):
    def get(self, session_id: str) -> SessionRecord | None:
        return super().get(session_id.lower())

    def set(self, session_id: str, record: SessionRecord) -> None:
        super().set(session_id.lower(), record)


class LosesNegativeZero(MemoryStore):
    def get(self, session_id: str) -> SessionRecord | None:
        record = super().get(session_id)
        if record is None:
            return None
        text = json.dumps(record.data).replace("-0.0", "0.0")
        return attrs.evolve(record, data=json.loads(text))


class SharesItsRecords:
    """Keeps the caller's record objects instead of copies."""

    def __init__(self) -> None:
        self.records: dict[str, SessionRecord] = {}

    def get(self, session_id: str) -> SessionRecord | None:
        return self.records.get(session_id)

    def set(self, session_id: str, record: SessionRecord) -> None:
        self.records[session_id] = record

    def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        current = self.records.get(session_id)
        if current is None or current.version != expected_version:
            return False
        self.records[session_id] = record
        return True

    def destroy(self, session_id: str) -> None:
        self.records.pop(session_id, None)

    def touch(self, session_id: str, expires: datetime) -> bool:
        if session_id not in self.records:
            return False
        self.records[session_id] = attrs.evolve(
            self.records[session_id], expires=expires
        )
        return True


@pytest.mark.parametrize(
    ("make_store", "check", "complaint"),
    [
        (
            KeepsExpiredRecords,
            "test_an_expired_record_is_not_stored",
            "an expired record was stored",
        ),
        (
            TouchCreates,
            "test_touch_of_an_unknown_id_creates_nothing",
            "touch created a record",
        ),
        (
            TouchAlwaysFindsTheRecord,
            "test_touch_of_an_unknown_id_creates_nothing",
            "touch of a missing record returned True",
        ),
        (
            TouchRestoresTheFirstRecord,
            "test_touch_moves_the_expiry_and_keeps_the_stored_data",
            "the data came back changed",
        ),
        (
            TouchResetsTheVersion,
            "test_touch_moves_the_expiry_and_keeps_the_stored_data",
            "version is 0, the store holds 7",
        ),
        (
            UpdateIgnoresTheVersion,
            "test_update_over_another_version_changes_nothing",
            "update wrote over a version it did not expect",
        ),
        (
            UpdateIgnoresTheVersion,
            "test_update_writes_when_the_stored_version_is_the_expected_one",
            "update wrote over a version it did not expect",
        ),
        (
            UpdateIgnoresTheVersion,
            "test_threads_counting_through_update_lose_no_increment",
            "increments were lost",
        ),
        (
            UpdateCreates,
            "test_update_of_an_unknown_id_creates_nothing",
            "update of a missing record returned True",
        ),
        (
            ChecksThenWrites,
            "test_threads_counting_through_update_lose_no_increment",
            "increments were lost",
        ),
        (
            ExpiredUpdateKeepsTheRecord,
            "test_update_with_an_expired_record_deletes_the_matching_one",
            "an expired update of a match returned False",
        ),
        (
            IgnoresCase,
            "test_every_kind_of_id_is_kept_apart",
            "the data came back changed",
        ),
        (
            LosesNegativeZero,
            "test_a_record_comes_back_as_it_was_set",
            "the data came back changed",
        ),
        (
            SharesItsRecords,
            "test_stored_data_is_not_shared_with_the_caller",
            "shares its data",
        ),
    ],
)
def test_a_store_that_breaks_a_rule_fails_the_check_of_that_rule(
    make_store: Callable[[], Any], check: str, complaint: str
) -> None:
    suite = StoreConformance()
    suite.enumerable = False

    with pytest.raises(AssertionError, match=complaint):
        getattr(suite, check)(store=make_store())


def test_the_asynchronous_suite_fails_a_broken_store_too() -> None:
    with pytest.raises(AssertionError, match="an expired record was stored"):
        AsyncStoreConformance().test_an_expired_record_is_not_stored(
            store=KeepsExpiredRecords().as_async()
        )


def test_the_asynchronous_suite_fails_an_update_that_is_not_atomic() -> None:
    with pytest.raises(AssertionError, match="increments were lost"):
        AsyncStoreConformance().test_tasks_counting_through_update_lose_no_increment(
            store=AsyncChecksThenWrites()
        )


def test_a_store_whose_update_is_not_atomic_passes_every_check_of_one_call() -> None:
    # So the counting checks are what stand between such a store and a pass.
    suite = StoreConformance()
    suite.enumerable = False
    store = ChecksThenWrites()

    suite.test_update_writes_when_the_stored_version_is_the_expected_one(store=store)
    suite.test_update_over_another_version_changes_nothing(store=store)
    suite.test_update_of_an_unknown_id_creates_nothing(store=store)
    suite.test_update_with_an_expired_record_deletes_the_matching_one(store=store)


# -- pointed at the wrong thing ----------------------------------------------------


def test_a_store_without_listing_is_told_to_say_so() -> None:
    with pytest.raises(TypeError, match="set enumerable = False"):
        StoreConformance().test_clear_deletes_every_session(store=SharesItsRecords())


def test_listing_checks_skip_when_the_store_says_it_cannot_list() -> None:
    suite = StoreConformance()
    suite.enumerable = False

    with pytest.raises(pytest.skip.Exception, match="enumerable is False"):
        suite.test_clear_deletes_every_session(store=SharesItsRecords())


async def _not_a_context_manager() -> MemoryStore:
    return MemoryStore()


@pytest.mark.parametrize(
    ("suite", "store", "complaint"),
    [
        (
            StoreConformance,
            MemoryStore().as_async(),
            "test it with AsyncStoreConformance",
        ),
        (AsyncStoreConformance, MemoryStore(), "test it with StoreConformance"),
        (StoreConformance, MemoryStore, "not a session store"),
        (AsyncStoreConformance, MemoryStore, "the class MemoryStore"),
        (AsyncStoreConformance, _not_a_context_manager, "asynchronous context manager"),
        (AsyncStoreConformance, "sessions.sqlite3", "neither an asynchronous store"),
    ],
)
def test_the_wrong_kind_of_store_is_named_in_the_error(
    suite: type[StoreConformance | AsyncStoreConformance], store: object, complaint: str
) -> None:
    with pytest.raises(TypeError, match=complaint):
        suite().test_get_of_an_unknown_id_is_none(store=store)


# -- out of the way --------------------------------------------------------------


def test_the_library_and_its_stores_import_without_the_kit() -> None:
    program = (
        "import sys, sessions, sessions.stores.sqlite, sessions_adapters.wsgi\n"
        "test_tools = ('pytest', '_pytest', 'hypothesis', 'sessions.testing')\n"
        "print([name for name in test_tools if name in sys.modules])"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    assert loaded.stdout.strip() == "[]"
