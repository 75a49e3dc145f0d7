"""A store in one SQLite file: for one machine, shared by its processes.

Every process and thread that opens the same file sees the same sessions, so
a site served by several worker processes (or restarted) keeps its logins.
It needs nothing beyond the standard library's :mod:`sqlite3`.

The table has one row per session::

    id       TEXT PRIMARY KEY   the session id
    record   TEXT               the record as JSON (record_to_json)
    expires  INTEGER            when the row dies, in microseconds since the
                                Unix epoch (UTC); indexed
    version  INTEGER            the record's version, for conditional writes
                                (0 for rows written before the column existed)

The ``expires`` and ``version`` columns are the ones that count. ``touch``
rewrites the ``expires`` number alone, never the record, so the ``expires``
inside the JSON is the one the record had when it was last written; every
record this store returns carries the columns' values instead.

A conditional write (``update``) is one ``UPDATE`` statement that names the
version it expects in its ``WHERE`` clause, so the check and the write are
one atomic step even between processes. A file made before the ``version``
column existed gets it when a store first opens the file.

Reads skip expired rows. Expired rows are deleted by the writes, through the
index, at most once per ``purge_interval``, so no request ever scans the
table. The file uses write-ahead logging, which lets readers go on while one
process writes, and a busy timeout, which makes a writer wait for another
instead of failing at once.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import TypeVar

import attrs
from typing_extensions import ParamSpec, Self

from sessions.errors import StoreError
from sessions.records import SessionRecord, record_from_json, record_to_json

__all__ = ["AsyncSQLiteStore", "SQLiteStore"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _micros(moment: datetime) -> int:
    """``moment`` (timezone-aware) as whole microseconds since the epoch."""
    return (moment - _EPOCH) // _MICROSECOND


def _moment(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _create_private_file(path: str) -> None:
    """Create the database file readable by its owner only, unless it exists.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's
    permissions, so they stay private too.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)


class SQLiteStore:
    """A session store in an SQLite database file.

    It implements :class:`~sessions.stores.base.Store` and the enumeration
    methods of :class:`~sessions.stores.base.EnumerableStore`. Any number of
    threads may share one instance and any number of processes may open the
    same file. A missing file is created, readable by its owner only.

    Args:
        path: The database file.
        table: The table to keep sessions in; created if missing.
        busy_timeout: Seconds a write waits for another connection's write
            to finish before giving up with :class:`~sessions.StoreError`.
        purge_interval: Seconds between two deletions of expired rows; a
            deletion rides on the first write after the interval.
        clock: Returns the current POSIX time; tests may pass a fake one.

    Raises:
        ValueError: an option is out of range, or ``path`` names an
            in-memory database (which no second connection could see; use
            :class:`~sessions.MemoryStore` instead).
        StoreError: the file cannot be opened or its table created.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = "sessions",
        busy_timeout: float = 5.0,
        purge_interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = os.fspath(path)
        if self.path in ("", ":memory:"):
            raise ValueError(
                "an in-memory SQLite database is private to one connection; "
                "use MemoryStore for sessions that live in memory"
            )
        if not _TABLE_NAME.fullmatch(table):
            raise ValueError(
                "table must be a letter or underscore followed by at most 62 "
                "letters, digits or underscores"
            )
        if not busy_timeout >= 0:
            raise ValueError("busy_timeout must be zero or more seconds")
        if not purge_interval >= 0:
            raise ValueError("purge_interval must be zero or more seconds")
        self.table = table
        self.busy_timeout = busy_timeout
        self.purge_interval = purge_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        self._next_purge = 0.0
        self._statements = _Statements(table)

        with self._failures("open"):
            _create_private_file(self.path)
        with self._connection("open") as connection:
            # WAL is a property of the file; a file system that cannot share
            # memory between processes keeps its rollback journal instead.
            connection.execute("PRAGMA journal_mode=WAL")
            self._prepare_table(connection)
            # A write that changes nothing: a file the process may read but
            # not write fails here, at start-up, not at the first login.
            connection.execute(self._statements.probe_write)

    def _prepare_table(self, connection: sqlite3.Connection) -> None:
        """Create the table and its index, or bring a table made by an
        earlier release up to date by adding the ``version`` column.

        It all runs in one write transaction, so two processes opening an
        old file at the same moment cannot both add the column.
        """
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(self._statements.create_table)
            columns = {
                row[1] for row in connection.execute(self._statements.table_info)
            }
            if "version" not in columns:
                connection.execute(self._statements.add_version_column)
            connection.execute(self._statements.create_index)
        except BaseException:
            if connection.in_transaction:  # some errors end it themselves
                connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    # -- connections and failures ---------------------------------------------

    @contextmanager
    def _failures(self, operation: str) -> Iterator[None]:
        """Turn a failure of the database into a :class:`StoreError`."""
        try:
            yield
        except (sqlite3.Error, OSError) as error:
            raise StoreError(
                f"the SQLite session store could not {operation}: {error}"
            ) from error

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,  # every statement commits on its own
            check_same_thread=False,  # connections move between threads
        )
        try:
            # With WAL, NORMAL never corrupts the file; a power cut may lose
            # the last writes, which for sessions means a few logins.
            connection.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            connection.close()
            raise
        return connection

    @contextmanager
    def _connection(self, operation: str) -> Iterator[sqlite3.Connection]:
        """Lend an idle connection (or a new one) to one thread for one
        operation; database errors leave as :class:`StoreError`.

        A connection that saw an error is closed rather than lent again.
        """
        with self._lock:
            if self._closed:
                raise StoreError(f"could not {operation}: the store is closed")
            connection = self._idle.pop() if self._idle else None
        with self._failures(operation):
            if connection is None:
                connection = self._connect()
            try:
                yield connection
            except BaseException:
                connection.close()
                raise
            with self._lock:
                keep = not self._closed  # close() may have run meanwhile
                if keep:
                    self._idle.append(connection)
            if not keep:
                connection.close()

    def _now(self) -> int:
        return round(self._clock() * 1_000_000)

    def _purge_due(self) -> bool:
        now = self._clock()
        with self._lock:
            if now < self._next_purge:
                return False
            self._next_purge = now + self.purge_interval
            return True

    def _decode(self, text: str, expires: int, version: int) -> SessionRecord:
        try:
            record = record_from_json(text)
        except ValueError as error:
            raise StoreError(
                f"the SQLite session store holds a record it cannot read: {error}"
            ) from error
        return attrs.evolve(record, expires=_moment(expires), version=version)

    # -- the Store protocol ---------------------------------------------------

    def get(self, session_id: str) -> SessionRecord | None:
        """Return the live record for ``session_id``, or ``None``."""
        with self._connection("read a session") as connection:
            row = connection.execute(
                self._statements.get, (session_id, self._now())
            ).fetchone()
        return None if row is None else self._decode(*row)

    def set(self, session_id: str, record: SessionRecord) -> None:
        """Store ``record``; an already expired one deletes the id instead.

        Raises:
            SerializationError: the record's data is not JSON-safe.
            StoreError: the database failed.
        """
        text = record_to_json(record)
        expires = _micros(record.expires)
        now = self._now()
        with self._connection("save a session") as connection:
            if expires <= now:
                connection.execute(self._statements.destroy, (session_id,))
                return
            connection.execute(
                self._statements.set, (session_id, text, expires, record.version)
            )
            if self._purge_due():
                connection.execute(self._statements.purge, (now,))

    def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        """Replace the live record for ``session_id`` only if its version is
        ``expected_version``, in one statement; return whether it was
        replaced. An already expired ``record`` deletes the matching row
        instead.

        Raises:
            SerializationError: the record's data is not JSON-safe.
            StoreError: the database failed.
        """
        text = record_to_json(record)
        expires = _micros(record.expires)
        now = self._now()
        with self._connection("save a session") as connection:
            if expires <= now:
                deleted = connection.execute(
                    self._statements.destroy_version,
                    (session_id, expected_version, now),
                )
                return deleted.rowcount > 0
            written = connection.execute(
                self._statements.update,
                (text, expires, record.version, session_id, expected_version, now),
            )
            if self._purge_due():
                connection.execute(self._statements.purge, (now,))
            return written.rowcount > 0

    def destroy(self, session_id: str) -> None:
        """Delete the record for ``session_id`` if there is one."""
        with self._connection("delete a session") as connection:
            connection.execute(self._statements.destroy, (session_id,))

    def touch(self, session_id: str, expires: datetime) -> bool:
        """Move the expiry of the live record for ``session_id`` to
        ``expires`` unless it is already later; an expiry in the past
        deletes it. Return whether there was a live record. Only the
        ``expires`` column is written."""
        new_expires = _micros(expires)
        now = self._now()
        with self._connection("touch a session") as connection:
            if new_expires <= now:
                changed = connection.execute(
                    self._statements.destroy_live, (session_id, now)
                )
            else:
                changed = connection.execute(
                    self._statements.touch, (new_expires, session_id, now)
                )
            return changed.rowcount > 0

    # -- enumeration ----------------------------------------------------------

    def ids(self) -> list[str]:
        """The ids of every live session."""
        with self._connection("list sessions") as connection:
            rows = connection.execute(self._statements.ids, (self._now(),))
            return [session_id for (session_id,) in rows]

    def all(self) -> dict[str, SessionRecord]:
        """Every live session, by id."""
        with self._connection("list sessions") as connection:
            rows = connection.execute(self._statements.all, (self._now(),))
            found = rows.fetchall()
        return {
            session_id: self._decode(text, expires, version)
            for session_id, text, expires, version in found
        }

    def length(self) -> int:
        """How many live sessions there are."""
        with self._connection("count sessions") as connection:
            (count,) = connection.execute(
                self._statements.length, (self._now(),)
            ).fetchone()
        return int(count)

    def clear(self) -> None:
        """Delete every session."""
        with self._connection("delete every session") as connection:
            connection.execute(self._statements.clear)

    # -- housekeeping ---------------------------------------------------------

    def purge(self) -> int:
        """Delete the expired rows now and return how many there were.

        The store does this by itself as it writes; call it from a scheduled
        job if a site may go quiet for long with many dead sessions on disk.
        """
        with self._connection("delete expired sessions") as connection:
            return connection.execute(self._statements.purge, (self._now(),)).rowcount

    def close(self) -> None:
        """Close every connection; the store cannot be used afterwards.

        A connection lent to another thread at that moment is closed when
        its operation ends.
        """
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _Statements:
    """The SQL of a store, for one table name (checked to be an identifier)."""

    def __init__(self, table: str) -> None:
        name = f'"{table}"'
        self.create_table = (
            f"CREATE TABLE IF NOT EXISTS {name} ("
            "id TEXT PRIMARY KEY NOT NULL, "
            "record TEXT NOT NULL, "
            "expires INTEGER NOT NULL, "
            "version INTEGER NOT NULL DEFAULT 0)"
        )
        self.table_info = f"PRAGMA table_info({name})"
        # For a table made before conditional writes existed; its rows get
        # version 0, which is also what their JSON reads as.
        self.add_version_column = (
            f"ALTER TABLE {name} ADD COLUMN version INTEGER NOT NULL DEFAULT 0"
        )
        self.create_index = (
            f'CREATE INDEX IF NOT EXISTS "{table}_expires" ON {name} (expires)'
        )
        self.get = (
            f"SELECT record, expires, version FROM {name} WHERE id = ? AND expires > ?"
        )
        self.set = (
            f"INSERT OR REPLACE INTO {name} (id, record, expires, version) "
            "VALUES (?, ?, ?, ?)"
        )
        self.update = (
            f"UPDATE {name} SET record = ?, expires = ?, version = ? "
            "WHERE id = ? AND version = ? AND expires > ?"
        )
        self.destroy = f"DELETE FROM {name} WHERE id = ?"
        self.destroy_live = f"DELETE FROM {name} WHERE id = ? AND expires > ?"
        self.destroy_version = (
            f"DELETE FROM {name} WHERE id = ? AND version = ? AND expires > ?"
        )
        self.probe_write = f"DELETE FROM {name} WHERE 0"
        self.touch = (
            f"UPDATE {name} SET expires = MAX(expires, ?) WHERE id = ? AND expires > ?"
        )
        self.purge = f"DELETE FROM {name} WHERE expires <= ?"
        self.ids = f"SELECT id FROM {name} WHERE expires > ?"
        self.all = f"SELECT id, record, expires, version FROM {name} WHERE expires > ?"
        self.length = f"SELECT count(*) FROM {name} WHERE expires > ?"
        self.clear = f"DELETE FROM {name}"


class AsyncSQLiteStore:
    """The asynchronous form of :class:`SQLiteStore`, for asyncio frameworks.

    The database work runs on one thread of the store's own, so the event
    loop never waits for the disk or for another process's write. That
    thread is not tied to any event loop: one store may serve several loops
    one after another. It implements
    :class:`~sessions.stores.base.AsyncStore` and the enumeration methods of
    :class:`~sessions.stores.base.AsyncEnumerableStore`.

    The constructor opens the file (briefly blocking: do it at start-up)
    and takes the same arguments as :class:`SQLiteStore`. Close the store
    with ``await store.close()`` or ``async with``.

    An operation whose awaiting task is cancelled still completes on the
    store's thread; only its result is lost.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = "sessions",
        busy_timeout: float = 5.0,
        purge_interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = SQLiteStore(
            path,
            table=table,
            busy_timeout=busy_timeout,
            purge_interval=purge_interval,
            clock=clock,
        )
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="sessions-sqlite"
        )
        self._closed = False

    @property
    def path(self) -> str:
        """The database file."""
        return self._store.path

    async def _call(
        self, function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        if self._closed:
            raise StoreError("the SQLite session store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(function, *args, **kwargs)
        )

    async def get(self, session_id: str) -> SessionRecord | None:
        """See :meth:`SQLiteStore.get`."""
        return await self._call(self._store.get, session_id)

    async def set(self, session_id: str, record: SessionRecord) -> None:
        """See :meth:`SQLiteStore.set`."""
        await self._call(self._store.set, session_id, record)

    async def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        """See :meth:`SQLiteStore.update`."""
        return await self._call(
            self._store.update, session_id, record, expected_version
        )

    async def destroy(self, session_id: str) -> None:
        """See :meth:`SQLiteStore.destroy`."""
        await self._call(self._store.destroy, session_id)

    async def touch(self, session_id: str, expires: datetime) -> bool:
        """See :meth:`SQLiteStore.touch`."""
        return await self._call(self._store.touch, session_id, expires)

    async def ids(self) -> list[str]:
        """See :meth:`SQLiteStore.ids`."""
        return await self._call(self._store.ids)

    async def all(self) -> dict[str, SessionRecord]:
        """See :meth:`SQLiteStore.all`."""
        return await self._call(self._store.all)

    async def length(self) -> int:
        """See :meth:`SQLiteStore.length`."""
        return await self._call(self._store.length)

    async def clear(self) -> None:
        """See :meth:`SQLiteStore.clear`."""
        await self._call(self._store.clear)

    async def purge(self) -> int:
        """See :meth:`SQLiteStore.purge`."""
        return await self._call(self._store.purge)

    async def close(self) -> None:
        """Close the connection and stop the store's thread; the store cannot
        be used afterwards. Closing twice does nothing."""
        if self._closed:
            return
        try:
            await self._call(self._store.close)
        finally:
            self._closed = True
            self._executor.shutdown(wait=False)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
