"""An in-process store: for development, tests and single-process apps.

Everything lives in this process's memory: sessions vanish on restart and
are not shared between worker processes. Records are kept as JSON text, so a
handler can never change a stored session by mutating a loaded one, and
anything that would not survive a real store fails here too.

Expired records are dropped when read and swept as new ones are written;
when the store is full, the record closest to expiry makes room. All
operations take one lock, so the store is safe to share between threads.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sessions.records import SessionRecord, record_from_json, record_to_json

__all__ = ["AsyncMemoryStore", "MemoryStore"]


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
        # id -> (expiry as POSIX time, record as JSON text)
        self._entries: dict[str, tuple[float, str]] = {}
        # (expiry, id) for every write; stale pairs are skipped when popped.
        self._by_expiry: list[tuple[float, str]] = []

    # -- internals (the lock is held) ----------------------------------------

    def _live(self, session_id: str, now: float) -> tuple[float, str] | None:
        entry = self._entries.get(session_id)
        if entry is not None and entry[0] <= now:
            del self._entries[session_id]
            return None
        return entry

    def _remember(self, session_id: str, expiry: float, text: str) -> None:
        self._entries[session_id] = (expiry, text)
        heapq.heappush(self._by_expiry, (expiry, session_id))
        if len(self._by_expiry) > 2 * len(self._entries) + 64:
            self._by_expiry = [
                (entry_expiry, key) for key, (entry_expiry, _) in self._entries.items()
            ]
            heapq.heapify(self._by_expiry)

    def _make_room(self, now: float, incoming: str) -> None:
        """Drop expired records, then the soonest-expiring ones while full."""
        heap, entries = self._by_expiry, self._entries
        while heap:
            expiry, key = heap[0]
            entry = entries.get(key)
            if entry is None or entry[0] != expiry:
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
        return None if entry is None else record_from_json(entry[1])

    def set(self, session_id: str, record: SessionRecord) -> None:
        """Store ``record``; an already expired one deletes the id instead.

        Raises:
            SerializationError: the record's data is not JSON-safe.
        """
        text = record_to_json(record)
        expiry = record.expires.timestamp()
        with self._lock:
            now = self._clock()
            if expiry <= now:
                self._entries.pop(session_id, None)
                return
            self._make_room(now, session_id)
            self._remember(session_id, expiry, text)

    def destroy(self, session_id: str) -> None:
        """Delete the record for ``session_id`` if there is one."""
        with self._lock:
            self._entries.pop(session_id, None)

    def touch(self, session_id: str, expires: datetime) -> None:
        """Move the expiry of the stored record, keeping its stored data."""
        expiry = expires.timestamp()
        with self._lock:
            now = self._clock()
            entry = self._live(session_id, now)
            if entry is None:
                return
            if expiry <= now:
                del self._entries[session_id]
                return
            record = record_from_json(entry[1])
            moved = SessionRecord(
                data=record.data,
                expires=expires,
                max_age=record.max_age,
                created=record.created,
            )
            self._remember(session_id, expiry, record_to_json(moved))

    # -- enumeration ------------------------------------------------------------

    def ids(self) -> list[str]:
        """The ids of every live session."""
        with self._lock:
            now = self._clock()
            return [key for key, (expiry, _) in self._entries.items() if expiry > now]

    def all(self) -> dict[str, SessionRecord]:
        """Every live session, by id."""
        with self._lock:
            now = self._clock()
            live = [(k, text) for k, (exp, text) in self._entries.items() if exp > now]
        return {key: record_from_json(text) for key, text in live}

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

    async def destroy(self, session_id: str) -> None:
        """See :meth:`MemoryStore.destroy`."""
        self.sync.destroy(session_id)

    async def touch(self, session_id: str, expires: datetime) -> None:
        """See :meth:`MemoryStore.touch`."""
        self.sync.touch(session_id, expires)

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
