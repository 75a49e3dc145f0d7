"""An in-process store: for development, tests and single-process apps.

Everything lives in this process's memory: sessions vanish on restart and
are not shared between worker processes. Session data is kept as JSON text,
so a handler can never change a stored session by mutating a loaded one,
and anything that would not survive a real store fails here too.

Expired records are dropped when read and swept as new ones are written;
when the store is full, the record closest to expiry makes room. All
operations take one lock, so the store is safe to share between threads,
and a conditional :meth:`MemoryStore.update` compares the version and
writes the record without another thread getting in between.
"""

from __future__ import annotations

import heapq
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from sessions.records import SessionRecord, check_json_data

__all__ = ["AsyncMemoryStore", "MemoryStore"]


class _Entry(NamedTuple):
    """What the store keeps for one session: the record, with its data as
    JSON text."""

    expiry: float
    """When the record dies, as POSIX time (``expires`` as a number, so the
    sweep compares floats)."""
    data: str
    """The record's data as JSON text."""
    expires: datetime
    max_age: int | None
    created: datetime
    version: int

    def record(self) -> SessionRecord:
        """The record, with data of its own that no caller shares."""
        return SessionRecord(
            data=json.loads(self.data),
            expires=self.expires,
            max_age=self.max_age,
            created=self.created,
            version=self.version,
        )


def _entry_for(record: SessionRecord) -> _Entry:
    """What to keep for ``record``.

    Raises:
        SerializationError: the record's data is not JSON-safe.
    """
    check_json_data(record.data)
    return _Entry(
        record.expires.timestamp(),
        _encode_data(record.data),
        record.expires,
        record.max_age,
        record.created,
        record.version,
    )


_encode_data = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class MemoryStore:
    """A bounded, expiring, thread-safe in-memory store.

    It implements :class:`~sessions.stores.base.Store` (and the enumeration
    methods); :meth:`as_async` gives an
    :class:`~sessions.stores.base.AsyncStore` over the same records.

    Args:
        max_entries: How many sessions it holds at most. When a new session
            arrives at a full store, the one that would expire soonest is
            evicted.
        clock: Returns the current POSIX time; tests may pass a fake one.
    """

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int):
            raise TypeError("max_entries must be an int")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        # (expiry, id) for every write; stale pairs are skipped when popped.
        self._by_expiry: list[tuple[float, str]] = []

    # -- internals (the lock is held) ----------------------------------------

    def _live(self, session_id: str, now: float) -> _Entry | None:
        entry = self._entries.get(session_id)
        if entry is not None and entry.expiry <= now:
            del self._entries[session_id]
            return None
        return entry

    def _remember(self, session_id: str, entry: _Entry) -> None:
        self._entries[session_id] = entry
        heapq.heappush(self._by_expiry, (entry.expiry, session_id))
        if len(self._by_expiry) > 2 * len(self._entries) + 64:
            self._by_expiry = [
                (kept.expiry, key) for key, kept in self._entries.items()
            ]
            heapq.heapify(self._by_expiry)

    def _make_room(self, now: float, incoming: str) -> None:
        """Drop expired records, then the soonest-expiring ones while full."""
        heap, entries = self._by_expiry, self._entries
        while heap:
            expiry, key = heap[0]
            entry = entries.get(key)
            if entry is None or entry.expiry != expiry:
                heapq.heappop(heap)  # stale: rewritten, touched or deleted
                continue
            full = len(entries) >= self.max_entries and incoming not in entries
            if expiry > now and not full:
                return
            heapq.heappop(heap)
            del entries[key]

    # -- the Store protocol ----------------------------------------------------

    def get(self, session_id: str) -> SessionRecord | None:
        """Return the live record for ``session_id``, or ``None``."""
        with self._lock:
            entry = self._live(session_id, self._clock())
        return None if entry is None else entry.record()

    def set(self, session_id: str, record: SessionRecord) -> None:
        """Store ``record``, whatever was there; an already expired one
        deletes the id instead.

        Raises:
            SerializationError: the record's data is not JSON-safe.
        """
        entry = _entry_for(record)
        with self._lock:
            now = self._clock()
            if entry.expiry <= now:
                self._entries.pop(session_id, None)
                return
            self._make_room(now, session_id)
            self._remember(session_id, entry)

    def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        """Replace the live record for ``session_id`` only if its version is
        ``expected_version``, and return whether it was replaced. An already
        expired ``record`` deletes the matching one instead.

        Raises:
            SerializationError: the record's data is not JSON-safe.
        """
        entry = _entry_for(record)
        with self._lock:
            now = self._clock()
            current = self._live(session_id, now)
            if current is None or current.version != expected_version:
                return False
            if entry.expiry <= now:
                del self._entries[session_id]
                return True
            self._make_room(now, session_id)
            self._remember(session_id, entry)
            return True

    def destroy(self, session_id: str) -> None:
        """Delete the record for ``session_id`` if there is one."""
        with self._lock:
            self._entries.pop(session_id, None)

    def touch(self, session_id: str, expires: datetime) -> bool:
        """Move the expiry of the stored record to ``expires`` unless it is
        already later, keeping its stored data and version; return whether
        there was a live record."""
        expiry = expires.timestamp()
        with self._lock:
            now = self._clock()
            entry = self._live(session_id, now)
            if entry is None:
                return False
            if expiry <= now:
                del self._entries[session_id]
                return True
            if expiry > entry.expiry:  # never closer; see Store.touch
                moved = entry._replace(expiry=expiry, expires=expires)
                self._remember(session_id, moved)
            return True

    # -- enumeration ------------------------------------------------------------

    def ids(self) -> list[str]:
        """The ids of every live session."""
        with self._lock:
            now = self._clock()
            return [key for key, entry in self._entries.items() if entry.expiry > now]

    def all(self) -> dict[str, SessionRecord]:
        """Every live session, by id."""
        with self._lock:
            now = self._clock()
            live = [(k, e) for k, e in self._entries.items() if e.expiry > now]
        return {key: entry.record() for key, entry in live}

    def length(self) -> int:
        """How many live sessions there are."""
        return len(self.ids())

    def clear(self) -> None:
        """Delete every session."""
        with self._lock:
            self._entries.clear()
            self._by_expiry.clear()

    def as_async(self) -> AsyncMemoryStore:
        """An :class:`~sessions.stores.base.AsyncStore` over these records."""
        return AsyncMemoryStore(self)


class AsyncMemoryStore:
    """The asynchronous face of a :class:`MemoryStore`.

    Every operation is a short in-memory step, so it runs directly on the
    event loop.
    """

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.sync = store if store is not None else MemoryStore()

    async def get(self, session_id: str) -> SessionRecord | None:
        """See :meth:`MemoryStore.get`."""
        return self.sync.get(session_id)

    async def set(self, session_id: str, record: SessionRecord) -> None:
        """See :meth:`MemoryStore.set`."""
        self.sync.set(session_id, record)

    async def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        """See :meth:`MemoryStore.update`."""
        return self.sync.update(session_id, record, expected_version)

    async def destroy(self, session_id: str) -> None:
        """See :meth:`MemoryStore.destroy`."""
        self.sync.destroy(session_id)

    async def touch(self, session_id: str, expires: datetime) -> bool:
        """See :meth:`MemoryStore.touch`."""
        return self.sync.touch(session_id, expires)

    async def ids(self) -> list[str]:
        """See :meth:`MemoryStore.ids`."""
        return self.sync.ids()

    async def all(self) -> dict[str, SessionRecord]:
        """See :meth:`MemoryStore.all`."""
        return self.sync.all()

    async def length(self) -> int:
        """See :meth:`MemoryStore.length`."""
        return self.sync.length()

    async def clear(self) -> None:
        """See :meth:`MemoryStore.clear`."""
        self.sync.clear()
