"""The checks of the store conformance suite, and the data they draw.

Every check that both kinds of store share is written once, as a coroutine
against :class:`~sessions.stores.base.AsyncStore`; a synchronous store runs
them through :class:`AwaitedStore`, which calls it directly. Only the checks
of concurrent use differ: threads for a synchronous store, tasks for an
asynchronous one. Among those, the counter checks are the ones that prove
``update`` atomic: many writers each read a counter, add one and write it
back conditionally, retrying when refused, and not one increment may be lost.

Each check starts from a clean slate of its own, whatever earlier examples
left behind: it writes under ids no other check uses, or destroys its ids
first, or clears the store when it lists it.
"""

from __future__ import annotations

import asyncio
import inspect
import secrets
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import strategies as st

from sessions.errors import SerializationError
from sessions.records import SessionRecord, canonical_json
from sessions.stores.base import (
    AsyncEnumerableStore,
    AsyncStore,
    EnumerableStore,
    Store,
)
from sessions.testing import strategies

MILLISECOND = timedelta(milliseconds=1)

# -- data ------------------------------------------------------------------------


def now_to_the_millisecond() -> datetime:
    """The current UTC time, cut to whole milliseconds."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_id(label: str = "s") -> str:
    """An id that no other check and no earlier example has used."""
    return f"{label}-{secrets.token_hex(12)}"


def make_record(
    data: dict[str, Any],
    *,
    expires_in: timedelta = timedelta(hours=1),
    max_age: int | None = 3600,
    age: timedelta = timedelta(minutes=5),
    version: int = 0,
) -> SessionRecord:
    """A record expiring ``expires_in`` from now, created ``age`` ago."""
    now = now_to_the_millisecond()
    return SessionRecord(
        data=data,
        expires=now + expires_in,
        max_age=max_age,
        created=now - age,
        version=version,
    )


@attrs.frozen
class RecordPlan:
    """A record to build when the example runs, relative to the real clock
    (hypothesis draws it earlier, when "now" is not yet known)."""

    data: dict[str, Any]
    expires_in: timedelta
    max_age: int | None
    age: timedelta
    version: int = 0

    def record(self) -> SessionRecord:
        return make_record(
            self.data,
            expires_in=self.expires_in,
            max_age=self.max_age,
            age=self.age,
            version=self.version,
        )


json_data = strategies.session_data()
"""Session data: every JSON type, nested, with any text (empty included)."""

session_ids = strategies.session_ids()
"""Any id the session cookie can carry."""

TOKEN_CHARACTERS = strategies.TOKEN_CHARACTERS

versions = st.integers(min_value=0, max_value=2**62)
"""Record versions: a store must keep any of them, and one more."""

record_plans = st.builds(
    RecordPlan,
    data=json_data,
    expires_in=st.integers(min_value=60_000, max_value=5 * 366 * 86_400_000).map(
        lambda ms: ms * MILLISECOND
    ),
    max_age=st.none() | st.integers(min_value=1, max_value=2**31),
    age=st.integers(min_value=0, max_value=5 * 366 * 86_400_000).map(
        lambda ms: ms * MILLISECOND
    ),
    version=versions,
)

EDGE_DATA: dict[str, Any] = {
    "": "",
    "empty": {"list": [], "object": {}, "text": ""},
    "big": 2**200,
    "big negative": -(10**40),
    "negative zero": -0.0,
    "largest float": 1.7976931348623157e308,
    "smallest float": 5e-324,
    "a third": 1 / 3,
    "one of each": [1, 1.0, "1", True, None, False, 0],
    "zoë 日本語 😀": "right-to-left \u202e, NUL \x00, quotes \" ' and \\",
    "deep": [[[{"deeper": [[{}]]}]]],
}
"""Values that stores get wrong most often, all in one record."""

VARIED_IDS = [
    *(c for c in TOKEN_CHARACTERS if not c.isalnum()),  # each punctuation alone
    "a",
    "A",
    "aB",
    "Ab",
    "0",
    "..",
    "%_*",
    "'||'",
    "a*",
    "`~|^",
    TOKEN_CHARACTERS,
    "x" * 256,
    "x" * 255 + "y",
]
"""Ids that must all be kept apart: every punctuation character the token
alphabet allows, ids differing only in case, and the longest ids."""

# -- comparing what comes back ---------------------------------------------------


def assert_same_moment(got: datetime, want: datetime, field: str) -> None:
    assert got.tzinfo is not None, f"{field} came back without a timezone"
    assert got.utcoffset() == timedelta(0), f"{field} came back not in UTC: {got}"
    assert abs(got - want) < MILLISECOND, f"{field} is {got}, was set to {want}"


def assert_same_record(got: SessionRecord | None, want: SessionRecord) -> None:
    """``got`` is ``want``: the same data (types included: 1, 1.0 and True
    differ, and so do 0.0 and -0.0), the same moments to the millisecond,
    the same max-age and version."""
    assert got is not None, "the store lost a record it should hold"
    assert isinstance(got, SessionRecord), f"get returned a {type(got).__name__}"
    assert type(got.data) is dict, f"the data came back as a {type(got.data)}"
    assert canonical_json(got.data) == canonical_json(want.data), (
        "the data came back changed"
    )
    assert_same_moment(got.expires, want.expires, "expires")
    assert_same_moment(got.created, want.created, "created")
    assert got.max_age == want.max_age, f"max_age is {got.max_age}, not {want.max_age}"
    assert type(got.max_age) is type(want.max_age), "max_age changed type"
    assert type(got.version) is int, f"version came back as a {type(got.version)}"
    assert got.version == want.version, (
        f"version is {got.version}, the store holds {want.version}"
    )


def whole_records(count: int) -> list[SessionRecord]:
    """Records that differ in every field, so that a mix of two is seen."""
    return [
        make_record(
            {"writer": writer, "text": chr(ord("a") + writer) * 20_000},
            expires_in=timedelta(hours=1 + writer),
            max_age=1000 + writer,
            age=timedelta(minutes=writer),
        )
        for writer in range(count)
    ]


def assert_one_of(got: SessionRecord | None, candidates: list[SessionRecord]) -> None:
    """``got`` is one of ``candidates`` whole, not parts of several."""
    assert got is not None, "the store lost a record it should hold"
    writer = got.data.get("writer")
    assert isinstance(writer, int), f"the data came back torn: {sorted(got.data)}"
    assert 0 <= writer < len(candidates), f"a writer {writer} never wrote"
    try:
        assert_same_record(got, candidates[writer])
    except AssertionError as error:
        raise AssertionError(f"a record mixes concurrent writes: {error}") from None


# -- one set of checks for both kinds of store -------------------------------------


class AwaitedStore:
    """A synchronous store seen through the asynchronous protocol; every call
    runs the synchronous method directly."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _listing(self) -> EnumerableStore:
        store = self.store
        if not isinstance(store, EnumerableStore):
            raise TypeError(
                f"{type(store).__name__} lacks ids/all/length/clear; set "
                "enumerable = False on the conformance class if the store "
                "cannot list its sessions"
            )
        return store

    async def get(self, session_id: str) -> SessionRecord | None:
        return self.store.get(session_id)

    async def set(self, session_id: str, record: SessionRecord) -> None:
        self.store.set(session_id, record)

    async def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        return self.store.update(session_id, record, expected_version)

    async def destroy(self, session_id: str) -> None:
        self.store.destroy(session_id)

    async def touch(self, session_id: str, expires: datetime) -> bool:
        return self.store.touch(session_id, expires)

    async def ids(self) -> list[str]:
        return self._listing().ids()

    async def all(self) -> Mapping[str, SessionRecord]:
        return self._listing().all()

    async def length(self) -> int:
        return self._listing().length()

    async def clear(self) -> None:
        self._listing().clear()


def listing(store: AsyncStore) -> AsyncEnumerableStore:
    """``store``, checked to have the enumeration methods."""
    assert isinstance(store, AsyncEnumerableStore), (
        f"{type(store).__name__} lacks ids/all/length/clear; set enumerable = False "
        "on the conformance class if the store cannot list its sessions"
    )
    return store


async def assert_lists(store: AsyncStore, live: Mapping[str, SessionRecord]) -> None:
    """ids(), all() and length() agree that ``live`` is everything there is."""
    lister = listing(store)
    ids = await lister.ids()
    assert sorted(ids) == sorted(live), "ids() does not list the live sessions"
    assert len(ids) == len(set(ids)), "ids() lists an id twice"
    everything = await lister.all()
    assert sorted(everything) == sorted(live), "all() does not hold the live ones"
    for session_id, record in live.items():
        assert_same_record(everything[session_id], record)
    assert await lister.length() == len(live), "length() is not the live count"


async def asynchronous_methods(store: AsyncStore, names: tuple[str, ...]) -> None:
    for name in names:
        assert inspect.iscoroutinefunction(getattr(store, name, None)), (
            f"{type(store).__name__}.{name} must be a coroutine function (async def)"
        )


async def get_of_an_unknown_id(store: AsyncStore) -> None:
    assert await store.get(new_id()) is None


async def round_trip(store: AsyncStore, plan: RecordPlan) -> None:
    session_id = new_id()
    record = plan.record()

    await store.set(session_id, record)

    assert_same_record(await store.get(session_id), record)
    assert_same_record(await store.get(session_id), record)  # get changes nothing


async def ids_kept_apart(store: AsyncStore, first: str, second: str) -> None:
    for session_id in (first, second):
        await store.destroy(session_id)
    records = {first: make_record({"id": first}), second: make_record({"id": second})}

    for session_id, record in records.items():
        await store.set(session_id, record)

    for session_id, record in records.items():
        assert_same_record(await store.get(session_id), record)
    await store.destroy(first)
    assert await store.get(first) is None
    assert_same_record(await store.get(second), records[second])


async def varied_ids(store: AsyncStore, enumerable: bool) -> None:
    if enumerable:
        await listing(store).clear()
    records = {session_id: make_record({"id": session_id}) for session_id in VARIED_IDS}

    for session_id, record in records.items():
        await store.set(session_id, record)

    for session_id, record in records.items():
        assert_same_record(await store.get(session_id), record)
    if enumerable:
        await assert_lists(store, records)


async def set_replaces(store: AsyncStore) -> None:
    session_id = new_id()
    first = make_record({"a": 1, "shared": "first"}, max_age=60, version=4)
    second = make_record(  # set is unconditional: even a lower version lands
        {"b": 2, "shared": "second"},
        expires_in=timedelta(hours=2),
        max_age=None,
        age=timedelta(days=1),
        version=2,
    )

    await store.set(session_id, first)
    await store.set(session_id, second)

    assert_same_record(await store.get(session_id), second)


async def expired_set(store: AsyncStore, enumerable: bool) -> None:
    if enumerable:
        await listing(store).clear()
    never, replaced = new_id("never"), new_id("replaced")
    expired = make_record({"late": True}, expires_in=-timedelta(seconds=1))

    await store.set(never, expired)
    await store.set(replaced, make_record({"live": True}))
    await store.set(replaced, expired)

    assert await store.get(never) is None, "an expired record was stored"
    assert await store.get(replaced) is None, "an expired record left the old one"
    if enumerable:
        await assert_lists(store, {})


async def destroy_removes(store: AsyncStore) -> None:
    gone, kept = new_id("gone"), new_id("kept")
    kept_record = make_record({"kept": True})
    await store.set(gone, make_record({"gone": True}))
    await store.set(kept, kept_record)

    await store.destroy(gone)

    assert await store.get(gone) is None
    assert_same_record(await store.get(kept), kept_record)


async def destroy_unknown(store: AsyncStore) -> None:
    kept = new_id("kept")
    kept_record = make_record({"kept": True})
    await store.set(kept, kept_record)

    await store.destroy(new_id("unknown"))
    await store.destroy(new_id("unknown"))

    assert_same_record(await store.get(kept), kept_record)


async def touch_keeps_stored_data(store: AsyncStore) -> None:
    session_id = new_id()
    first = make_record({"label": "A"}, max_age=60, version=3)
    second = make_record(
        {"label": "B"}, max_age=None, age=timedelta(hours=3), version=7
    )
    later = now_to_the_millisecond() + timedelta(hours=5)
    sooner = now_to_the_millisecond() + timedelta(minutes=10)

    await store.set(session_id, first)
    await store.set(session_id, second)
    touched = await store.touch(session_id, later)

    assert touched is True, f"touch of a live record returned {touched!r}"
    assert_same_record(await store.get(session_id), attrs.evolve(second, expires=later))
    # A touch never brings the expiry closer.
    assert await store.touch(session_id, sooner) is True
    assert_same_record(await store.get(session_id), attrs.evolve(second, expires=later))


async def touch_unknown(store: AsyncStore, enumerable: bool) -> None:
    if enumerable:
        await listing(store).clear()
    never, destroyed = new_id("never"), new_id("destroyed")
    await store.set(destroyed, make_record({"soon": "gone"}))
    await store.destroy(destroyed)

    for session_id in (never, destroyed):
        later = now_to_the_millisecond() + timedelta(hours=1)
        touched = await store.touch(session_id, later)
        assert touched is False, f"touch of a missing record returned {touched!r}"

    assert await store.get(never) is None, "touch created a record"
    assert await store.get(destroyed) is None, "touch brought a record back"
    if enumerable:
        await assert_lists(store, {})


async def touch_into_the_past(store: AsyncStore) -> None:
    session_id = new_id()
    await store.set(session_id, make_record({"ended": "soon"}))
    past = now_to_the_millisecond() - timedelta(seconds=1)

    touched = await store.touch(session_id, past)

    assert touched is True, f"touch of a live record returned {touched!r}"
    assert await store.get(session_id) is None
    touched = await store.touch(session_id, past)
    assert touched is False, f"touch of a deleted record returned {touched!r}"


async def update_writes_on_a_match(
    store: AsyncStore, first: RecordPlan, second: RecordPlan
) -> None:
    session_id = new_id()
    stored = first.record()
    replacement = attrs.evolve(second.record(), version=stored.version + 1)
    await store.set(session_id, stored)

    written = await store.update(session_id, replacement, stored.version)

    assert written is True, f"update with the stored version returned {written!r}"
    assert_same_record(await store.get(session_id), replacement)
    again = await store.update(session_id, stored, stored.version)
    assert again is False, "update wrote over a version it did not expect"
    assert_same_record(await store.get(session_id), replacement)


async def update_refuses_another_version(
    store: AsyncStore, stored_version: int, expected_version: int
) -> None:
    session_id = new_id()
    stored = make_record({"kept": True}, version=stored_version)
    refused = make_record(
        {"lost": True}, expires_in=timedelta(hours=2), version=expected_version + 1
    )
    await store.set(session_id, stored)

    written = await store.update(session_id, refused, expected_version)

    assert written is False, "update wrote over a version it did not expect"
    assert_same_record(await store.get(session_id), stored)


async def update_unknown(store: AsyncStore, enumerable: bool) -> None:
    if enumerable:
        await listing(store).clear()
    never, destroyed = new_id("never"), new_id("destroyed")
    await store.set(destroyed, make_record({"soon": "gone"}, version=1))
    await store.destroy(destroyed)

    for session_id in (never, destroyed):
        for expected in (0, 1):
            record = make_record({"revived": True}, version=expected + 1)
            written = await store.update(session_id, record, expected)
            assert written is False, f"update of a missing record returned {written!r}"

    assert await store.get(never) is None, "update created a record"
    assert await store.get(destroyed) is None, "update brought a record back"
    if enumerable:
        await assert_lists(store, {})


async def expired_update(store: AsyncStore) -> None:
    ended, kept = new_id("ended"), new_id("kept")
    stored = make_record({"live": True}, version=4)
    expired = make_record({"late": True}, expires_in=-timedelta(seconds=1), version=5)
    await store.set(ended, stored)
    await store.set(kept, stored)

    written = await store.update(ended, expired, 4)
    refused = await store.update(kept, expired, 3)

    assert written is True, f"an expired update of a match returned {written!r}"
    assert await store.get(ended) is None, "an expired update left the record"
    assert refused is False, "an expired update of another version counted"
    assert_same_record(await store.get(kept), stored)


EXPIRY_WAIT_MARGIN = timedelta(milliseconds=500)
"""How long after a record's expiry the expiry check looks again."""


async def forgets_expired(store: AsyncStore, enumerable: bool) -> None:
    """The one check that waits: records set to expire a second from now are
    gone half a second after that, unless moved away in time; a touch to
    a sooner time does not bring a later expiry in."""
    if enumerable:
        await listing(store).clear()
    now = now_to_the_millisecond()
    soon, later = now + timedelta(seconds=1), now + timedelta(hours=1)
    short = make_record({"short": True}, expires_in=soon - now)
    long = make_record({"long": True}, expires_in=later - now)
    expiring, kept, touched, reset = (
        new_id(label) for label in ("expiring", "kept", "touched", "reset")
    )

    await store.set(expiring, short)
    await store.set(kept, long)
    await store.touch(kept, soon)
    await store.set(touched, short)
    await store.touch(touched, later)
    await store.set(reset, short)
    await store.set(reset, long)
    remaining = soon - datetime.now(timezone.utc) + EXPIRY_WAIT_MARGIN
    await asyncio.sleep(remaining.total_seconds())

    survivors = {touched: attrs.evolve(short, expires=later), reset: long, kept: long}
    if enumerable:  # before any get, which might drop what it finds expired
        await assert_lists(store, survivors)
    # A record that expired is gone for the conditional writes too, even
    # with the version it was written with.
    revived = attrs.evolve(long, version=short.version + 1)
    assert not await store.update(expiring, revived, short.version), (
        "update wrote over an expired record"
    )
    assert not await store.touch(expiring, later), "touch found an expired record"
    assert await store.get(expiring) is None, "a record outlived its expiry"
    for session_id, record in survivors.items():
        assert_same_record(await store.get(session_id), record)
    if enumerable:
        await assert_lists(store, survivors)


async def data_not_shared(store: AsyncStore) -> None:
    session_id = new_id()
    data: dict[str, Any] = {"cart": [1], "profile": {"name": "Ada"}}
    record = make_record(data)
    await store.set(session_id, record)

    data["cart"].append(2)
    data["profile"]["name"] = "Grace"
    loaded = await store.get(session_id)
    assert loaded is not None
    loaded.data["cart"].append(3)
    loaded.data["extra"] = True

    stored = await store.get(session_id)
    assert stored is not None
    assert stored.data == {"cart": [1], "profile": {"name": "Ada"}}, (
        "the store shares its data with the caller"
    )


async def non_json_refused(store: AsyncStore) -> None:
    session_id = new_id()
    good = make_record({"kept": [1, 2]})
    await store.set(session_id, good)

    with pytest.raises(SerializationError):
        await store.set(session_id, make_record({"kept": (1, 2)}))
    with pytest.raises(SerializationError):
        await store.set(session_id, make_record({"when": datetime.now(timezone.utc)}))
    with pytest.raises(SerializationError):
        await store.update(session_id, make_record({"kept": {1, 2}}, version=1), 0)

    assert_same_record(await store.get(session_id), good)


def large_data() -> dict[str, Any]:
    """About a megabyte of session data, as UTF-8 JSON."""
    return {
        "text": "zoë😀" * 60_000,
        "rows": [
            {"n": n, "name": f"item {n}", "ok": n % 2 == 0} for n in range(15_000)
        ],
    }


async def large_record(store: AsyncStore) -> None:
    session_id = new_id()
    record = make_record(large_data())
    later = now_to_the_millisecond() + timedelta(hours=2)

    await store.set(session_id, record)
    assert_same_record(await store.get(session_id), record)
    await store.touch(session_id, later)
    assert_same_record(await store.get(session_id), attrs.evolve(record, expires=later))

    replacement = make_record({**large_data(), "updated": True}, version=1)
    assert await store.update(session_id, replacement, 0) is True
    assert_same_record(await store.get(session_id), replacement)


async def lists_live_sessions(store: AsyncStore, ids: list[str]) -> None:
    await listing(store).clear()
    records = {session_id: make_record({"id": session_id}) for session_id in ids}
    destroyed = new_id("destroyed")
    await store.set(destroyed, make_record({}))

    for session_id, record in records.items():
        await store.set(session_id, record)
    await store.destroy(destroyed)

    await assert_lists(store, records)


async def clear_deletes_everything(store: AsyncStore) -> None:
    lister = listing(store)
    ids = [new_id() for _ in range(5)]
    for session_id in ids:
        await store.set(session_id, make_record({"id": session_id}))

    await lister.clear()

    for session_id in ids:
        assert await store.get(session_id) is None
    await assert_lists(store, {})
    after = new_id("after")
    record = make_record({"after": "clear"})
    await store.set(after, record)
    await assert_lists(store, {after: record})


# -- concurrent use -------------------------------------------------------------

WRITERS = 8
WRITES_EACH = 25


def own_id_records() -> dict[str, SessionRecord]:
    """What each concurrent writer writes: records under ids of its own."""
    return {
        new_id(f"w{writer}"): make_record({"writer": writer, "write": write})
        for writer in range(WRITERS)
        for write in range(WRITES_EACH)
    }


async def tasks_writing_own_ids(store: AsyncStore, enumerable: bool) -> None:
    if enumerable:
        await listing(store).clear()
    records = own_id_records()

    await asyncio.gather(
        *(store.set(session_id, record) for session_id, record in records.items())
    )

    for session_id, record in records.items():
        assert_same_record(await store.get(session_id), record)
    if enumerable:
        await assert_lists(store, records)


async def tasks_overwriting_one_id(store: AsyncStore) -> None:
    session_id = new_id()
    candidates = whole_records(WRITERS)
    await store.set(session_id, candidates[0])
    seen: list[SessionRecord | None] = []

    async def write(record: SessionRecord) -> None:
        for _ in range(WRITES_EACH):
            await store.set(session_id, record)
            await asyncio.sleep(0)

    async def read() -> None:
        for _ in range(WRITES_EACH):
            seen.append(await store.get(session_id))
            await asyncio.sleep(0)

    await asyncio.gather(*map(write, candidates), read(), read())

    for record in seen:
        assert_one_of(record, candidates)
    assert_one_of(await store.get(session_id), candidates)


def threads_writing_own_ids(store: Store, enumerable: bool) -> None:
    if enumerable:
        asyncio.run(listing(AwaitedStore(store)).clear())
    records = own_id_records()
    mine = [
        [item for item in records.items() if item[1].data["writer"] == writer]
        for writer in range(WRITERS)
    ]
    barrier = threading.Barrier(WRITERS)

    def write(items: list[tuple[str, SessionRecord]]) -> None:
        barrier.wait(timeout=30)
        for session_id, record in items:
            store.set(session_id, record)

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        for done in [pool.submit(write, items) for items in mine]:
            done.result()

    for session_id, record in records.items():
        assert_same_record(store.get(session_id), record)
    if enumerable:
        asyncio.run(assert_lists(AwaitedStore(store), records))


def threads_overwriting_one_id(store: Store) -> None:
    session_id = new_id()
    candidates = whole_records(WRITERS)
    store.set(session_id, candidates[0])
    readers = 2
    barrier = threading.Barrier(WRITERS + readers)

    def write(record: SessionRecord) -> None:
        barrier.wait(timeout=30)
        for _ in range(WRITES_EACH):
            store.set(session_id, record)

    def read() -> list[SessionRecord | None]:
        barrier.wait(timeout=30)
        return [store.get(session_id) for _ in range(WRITES_EACH)]

    with ThreadPoolExecutor(max_workers=WRITERS + readers) as pool:
        writes = [pool.submit(write, record) for record in candidates]
        reads = [pool.submit(read) for _ in range(readers)]
        for done in writes:
            done.result()
        seen = [record for done in reads for record in done.result()]

    for record in seen:
        assert_one_of(record, candidates)
    assert_one_of(store.get(session_id), candidates)


# -- many writers, one counter: the proof that update is atomic ----------------

INCREMENTS_EACH = 10
ATTEMPTS_PER_INCREMENT = 1000
"""How often one writer may be refused in a row before the check gives up:
far more than fair contention between :data:`WRITERS` writers ever needs."""


def counter_record() -> SessionRecord:
    """The record the counting writers share, at count 0 and version 1."""
    return make_record({"count": 0}, version=1)


def read_counter(current: SessionRecord | None) -> SessionRecord:
    assert current is not None, "the store lost the counter record"
    return current


def incremented(current: SessionRecord) -> SessionRecord:
    """What a writer that read ``current`` writes back: the count plus one,
    under the next version."""
    count = current.data["count"]
    assert isinstance(count, int), f"the count came back as {count!r}"
    return attrs.evolve(current, data={"count": count + 1}, version=current.version + 1)


def gave_up() -> AssertionError:
    return AssertionError(
        f"update() refused {ATTEMPTS_PER_INCREMENT} fresh reads in a row: it "
        "does not write when the version matches"
    )


def assert_counted(final: SessionRecord | None, start: SessionRecord) -> None:
    """Every increment of every writer is in the final record."""
    total = WRITERS * INCREMENTS_EACH
    assert final is not None, "the store lost the counter record"
    count = final.data["count"]
    assert count == total, (
        f"{total - count} of {total} increments were lost: update() wrote over "
        "a version that another writer had already replaced, so its check and "
        "its write are not one atomic step"
    )
    assert final.version == start.version + total, (
        f"the version is {final.version} after {total} updates from {start.version}"
    )


async def tasks_incrementing_one_counter(store: AsyncStore) -> None:
    session_id = new_id("counter")
    start = counter_record()
    await store.set(session_id, start)

    async def increment() -> None:
        for _ in range(ATTEMPTS_PER_INCREMENT):
            current = read_counter(await store.get(session_id))
            await asyncio.sleep(0)  # other writers run between read and write
            if await store.update(session_id, incremented(current), current.version):
                return
        raise gave_up()

    async def writer() -> None:
        for _ in range(INCREMENTS_EACH):
            await increment()

    await asyncio.gather(*(writer() for _ in range(WRITERS)))

    assert_counted(await store.get(session_id), start)


def threads_incrementing_one_counter(store: Store) -> None:
    session_id = new_id("counter")
    start = counter_record()
    store.set(session_id, start)
    barrier = threading.Barrier(WRITERS)

    def increment() -> None:
        for _ in range(ATTEMPTS_PER_INCREMENT):
            current = read_counter(store.get(session_id))
            time.sleep(0)  # other writers run between read and write
            if store.update(session_id, incremented(current), current.version):
                return
        raise gave_up()

    def writer() -> None:
        barrier.wait(timeout=30)
        for _ in range(INCREMENTS_EACH):
            increment()

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        for done in [pool.submit(writer) for _ in range(WRITERS)]:
            done.result()

    assert_counted(store.get(session_id), start)
