"""Carrying out a cycle's decisions against a store, sync or async.

The request cycle (:mod:`sessions.cycle`) only decides. This module performs
what it decides, so that no adapter has to: each step of a request (load,
explicit save, explicit reload, commit) is written once, as a generator that
yields the store operations it needs and receives their results. A
:class:`SyncRunner` feeds those generators from a :class:`~sessions.Store`,
an :class:`AsyncRunner` from an :class:`~sessions.AsyncStore`, and both hand
the handler a session whose ``save()`` and ``reload()`` fit their I/O style.

A store exception is thrown back into the step, which hands it to the cycle
(:meth:`~sessions.cycle.SessionCycle.receive_error`,
:meth:`~sessions.cycle.SessionCycle.load_failed`). The cycle decides: as a
rule it goes to its error state (or, for an explicit save or reload, back
where it was) and the exception continues to the framework's error
handling, as a :class:`~sessions.errors.StoreError` (see
:func:`_store_failure`); ``store_outage="read_only"`` lets a failed load or
touch pass.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import weakref
from collections.abc import Callable, Generator
from datetime import datetime, timezone
from typing import Any, TypeAlias, TypeVar, cast

from sessions.config import SessionConfig
from sessions.cycle import (
    ChangesDropped,
    ClearCookie,
    CookieWithheld,
    Destroy,
    LoadSession,
    NoSession,
    RequestFacts,
    Save,
    SessionCycle,
    SetCookie,
    StoreAnswer,
    StoreOperation,
    Touch,
    Update,
)
from sessions.errors import SessionError, StoreError
from sessions.records import SessionRecord
from sessions.session import Session
from sessions.signing import IdSigner
from sessions.stores.base import (
    AsyncRenewingStore,
    AsyncStore,
    RenewingStore,
    Store,
    is_async_store,
)
from sessions.stores.memory import MemoryStore

__all__ = [
    "AsyncRunner",
    "AsyncSession",
    "SyncRunner",
    "SyncSession",
    "async_store",
    "conflict_backoff",
    "sync_store",
    "utc_now",
]

_Result = TypeVar("_Result")
Steps: TypeAlias = "Generator[StoreOperation, StoreAnswer, _Result]"


def utc_now() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(timezone.utc)


def sync_store(store: Store | AsyncStore | None) -> Store:
    """The store a synchronous adapter uses: ``None`` means a new
    :class:`~sessions.MemoryStore`.

    Raises:
        TypeError: ``store`` is asynchronous.
    """
    if store is None:
        return MemoryStore()
    if is_async_store(store):
        raise TypeError(
            f"{type(store).__name__} is an asynchronous store; a synchronous "
            "framework needs a synchronous one"
        )
    assert isinstance(store, Store)
    return store


def async_store(store: Store | AsyncStore | None) -> AsyncStore:
    """The store an asynchronous adapter uses: ``None`` means a new
    :class:`~sessions.MemoryStore`, and a ``MemoryStore`` is used through
    its asynchronous face.

    Raises:
        TypeError: ``store`` is a synchronous store that would block the
            event loop.
    """
    if store is None:
        return MemoryStore().as_async()
    if isinstance(store, MemoryStore) and not is_async_store(store):
        return store.as_async()
    if not is_async_store(store):
        raise TypeError(
            f"{type(store).__name__} is a synchronous store and would block the "
            "event loop; pass its asynchronous counterpart"
        )
    assert isinstance(store, AsyncStore)
    return store


# -- the steps of a request, written once -------------------------------------


def _load(
    cycle: SessionCycle, facts: RequestFacts, outage: list[BaseException]
) -> Steps[Session | None]:
    decision = cycle.receive_request(facts)
    while isinstance(decision, LoadSession):
        try:
            record = yield decision
        except Exception as error:
            ready = cycle.load_failed(error)  # re-raises unless "read_only"
            outage.append(error)
            return ready.session
        except BaseException:
            cycle.fail()
            raise
        assert record is None or isinstance(record, SessionRecord)
        decision = cycle.receive_record(decision.session_id, record)
    if isinstance(decision, NoSession):
        return None
    return decision.session


def _run_operations(
    cycle: SessionCycle, operation: StoreOperation | None
) -> Steps[None]:
    """Run a save's or a commit's store operations, one answer at a time."""
    while operation is not None:
        try:
            answer = yield operation
        except Exception as error:
            operation = cycle.receive_error(error)
        except BaseException:
            cycle.fail()
            raise
        else:
            operation = cycle.receive_result(answer)


def _save(cycle: SessionCycle, now: datetime) -> Steps[None]:
    first = cycle.begin_save(now)
    if first is None:
        return  # nothing to write (see SessionCycle.begin_save)
    yield from _run_operations(cycle, first)
    cycle.end_save()


def _reload(cycle: SessionCycle) -> Steps[None]:
    lookup = cycle.begin_reload()
    try:
        record = yield lookup
    except Exception as error:
        cycle.receive_error(error)  # re-raises
        raise
    except BaseException:
        cycle.fail()
        raise
    assert record is None or isinstance(record, SessionRecord)
    cycle.end_reload(record)


def _commit(
    cycle: SessionCycle, now: datetime, notices: list[CookieWithheld | ChangesDropped]
) -> Steps[list[str]]:
    yield from _run_operations(cycle, cycle.begin_commit(now))
    headers: list[str] = []
    for effect in cycle.end_commit():
        if isinstance(effect, (SetCookie, ClearCookie)):
            headers.append(effect.header)
        else:
            notices.append(effect)
    return headers


# -- drivers -----------------------------------------------------------------


def _write_key(operation: StoreOperation) -> str | None:
    """The session id whose in-process write lock ``operation`` runs under:
    a conditional write, and the re-read after one lost. ``None`` for any
    other operation."""
    if isinstance(operation, Update) or (
        isinstance(operation, LoadSession) and operation.after_conflicts
    ):
        return operation.session_id
    return None


class _ThreadLocks:
    """One lock per session id being written, for the threads of a process.

    Requests of one process that write the same session take turns, so
    their conditional writes only ever lose to another process's writes
    (or to a write that landed before they began theirs), and a crowd of
    threads on one session does not keep invalidating each other's reads.
    A lock lives only while some thread holds or awaits it.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    def acquire(self, session_id: str) -> None:
        with self._guard:
            lock, users = self._locks.get(session_id, (None, 0))
            if lock is None:
                lock = threading.Lock()
            self._locks[session_id] = (lock, users + 1)
        lock.acquire()

    def release(self, session_id: str) -> None:
        with self._guard:
            lock, users = self._locks[session_id]
            if users == 1:
                del self._locks[session_id]
            else:
                self._locks[session_id] = (lock, users - 1)
        lock.release()


class _TaskLocks:
    """The :class:`_ThreadLocks` of tasks: one :class:`asyncio.Lock` per
    session id being written, per event loop."""

    def __init__(self) -> None:
        self._tables: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, list[Any]]
        ] = weakref.WeakKeyDictionary()

    def _table(self) -> dict[str, list[Any]]:
        loop = asyncio.get_running_loop()
        table = self._tables.get(loop)
        if table is None:
            table = self._tables[loop] = {}
        return table

    async def acquire(self, session_id: str) -> None:
        table = self._table()
        entry = table.get(session_id)
        if entry is None:
            entry = table[session_id] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            await entry[0].acquire()
        except BaseException:
            self._leave(table, session_id, entry)
            raise

    def release(self, session_id: str) -> None:
        table = self._table()
        entry = table[session_id]
        self._leave(table, session_id, entry)
        entry[0].release()

    @staticmethod
    def _leave(table: dict[str, list[Any]], session_id: str, entry: list[Any]) -> None:
        entry[1] -= 1
        if entry[1] == 0:
            del table[session_id]


_THREAD_LOCKS = _ThreadLocks()
_TASK_LOCKS = _TaskLocks()

_BACKOFF_UNIT = 0.001
_BACKOFF_CAP = 0.05


def conflict_backoff(conflicts: int) -> float:
    """Seconds to wait before re-reading a session after ``conflicts`` lost
    writes in a row: a random time (full jitter) under a bound that doubles
    from one millisecond with each loss, up to 50 milliseconds."""
    bound = min(_BACKOFF_CAP, _BACKOFF_UNIT * 2 ** min(conflicts, 16))
    return random.uniform(0, bound)


_OPERATION_NAMES: dict[type[StoreOperation], str] = {
    LoadSession: "get",
    Save: "set",
    Update: "update",
    Touch: "touch",
    Destroy: "destroy",
}


def _store_failure(error: BaseException, operation: StoreOperation) -> BaseException:
    """The exception a failed store operation passes on to the framework.

    Stores promise :class:`~sessions.errors.StoreError`; any other exception
    a store lets out is wrapped in one, with the original as its cause.
    Above all an :class:`OSError` must not travel on bare: WSGI servers take
    a ``ConnectionResetError`` or ``BrokenPipeError`` crossing the
    application for the client hanging up, and answer nothing at all.
    """
    if not isinstance(error, Exception) or isinstance(error, SessionError):
        return error
    failure = StoreError(
        f"the session store's {_OPERATION_NAMES[type(operation)]}() failed"
    )
    failure.__cause__ = error
    return failure


def _run_sync(steps: Steps[_Result], store: Store) -> _Result:
    result: StoreAnswer = None
    held: str | None = None
    try:
        operation = next(steps)
        while True:
            key = _write_key(operation)
            if held is not None and held != key:
                _THREAD_LOCKS.release(held)
                held = None
            if key is not None and held is None:
                _THREAD_LOCKS.acquire(key)
                held = key
            if isinstance(operation, LoadSession) and operation.after_conflicts:
                time.sleep(conflict_backoff(operation.after_conflicts))
            try:
                result = _perform_sync(store, operation)
            except BaseException as error:
                operation = steps.throw(_store_failure(error, operation))
            else:
                operation = steps.send(result)
    except StopIteration as stop:
        value: _Result = stop.value
        return value
    finally:
        if held is not None:
            _THREAD_LOCKS.release(held)


def _perform_sync(store: Store, operation: StoreOperation) -> StoreAnswer:
    if isinstance(operation, LoadSession):
        renew_to = operation.renew_to
        if renew_to is not None and hasattr(store, "get_and_renew"):
            renewing = cast(RenewingStore, store)
            return renewing.get_and_renew(operation.session_id, renew_to)
        return store.get(operation.session_id)
    if isinstance(operation, Update):
        return store.update(
            operation.session_id, operation.record, operation.expected_version
        )
    if isinstance(operation, Touch):
        return store.touch(operation.session_id, operation.expires)
    if isinstance(operation, Save):
        store.set(operation.session_id, operation.record)
    else:
        store.destroy(operation.session_id)
    return None


async def _run_async(steps: Steps[_Result], store: AsyncStore) -> _Result:
    result: StoreAnswer = None
    held: str | None = None
    try:
        operation = next(steps)
        while True:
            key = _write_key(operation)
            if held is not None and held != key:
                _TASK_LOCKS.release(held)
                held = None
            if key is not None and held is None:
                await _TASK_LOCKS.acquire(key)
                held = key
            if isinstance(operation, LoadSession) and operation.after_conflicts:
                await asyncio.sleep(conflict_backoff(operation.after_conflicts))
            try:
                result = await _perform_async(store, operation)
            except BaseException as error:
                operation = steps.throw(_store_failure(error, operation))
            else:
                operation = steps.send(result)
    except StopIteration as stop:
        value: _Result = stop.value
        return value
    finally:
        if held is not None:
            _TASK_LOCKS.release(held)


async def _perform_async(store: AsyncStore, operation: StoreOperation) -> StoreAnswer:
    if isinstance(operation, LoadSession):
        renew_to = operation.renew_to
        if renew_to is not None and hasattr(store, "get_and_renew"):
            renewing = cast(AsyncRenewingStore, store)
            return await renewing.get_and_renew(operation.session_id, renew_to)
        return await store.get(operation.session_id)
    if isinstance(operation, Update):
        return await store.update(
            operation.session_id, operation.record, operation.expected_version
        )
    if isinstance(operation, Touch):
        return await store.touch(operation.session_id, operation.expires)
    if isinstance(operation, Save):
        await store.set(operation.session_id, operation.record)
    else:
        assert isinstance(operation, Destroy)
        await store.destroy(operation.session_id)
    return None


# -- sessions whose save() and reload() do I/O -----------------------------------


class SyncSession(Session):
    """A session for synchronous frameworks (WSGI): ``save()`` and
    ``reload()`` are plain calls."""

    __slots__ = ("_runner",)
    _runner: SyncRunner

    def save(self) -> None:
        """Write the session to the store now, instead of at response start.

        Useful before a long-running response or from code that runs after
        the response has started; the commit then writes nothing more unless
        the data changes again.
        """
        self._runner.save()

    def reload(self) -> None:
        """Replace the data with what the store holds now.

        Raises:
            SessionNotFoundError: the store no longer has the session.
        """
        self._runner.reload()


class AsyncSession(Session):
    """A session for asynchronous frameworks: ``await session.save()`` and
    ``await session.reload()``."""

    __slots__ = ("_runner",)
    _runner: AsyncRunner

    async def save(self) -> None:
        """Write the session to the store now; see :meth:`SyncSession.save`."""
        await self._runner.save()

    async def reload(self) -> None:
        """Replace the data with what the store holds now.

        Raises:
            SessionNotFoundError: the store no longer has the session.
        """
        await self._runner.reload()


# -- runners -----------------------------------------------------------------


class _Runner:
    """What the sync and async runners share: the cycle and the clock."""

    def __init__(
        self,
        config: SessionConfig,
        *,
        signer: IdSigner | None,
        clock: Callable[[], datetime],
        session_class: type[Session],
    ) -> None:
        self.cycle = SessionCycle(config, signer=signer, session_class=session_class)
        self.clock = clock
        self.notices: list[CookieWithheld | ChangesDropped] = []
        """Why a due cookie was not sent, or changes were not stored
        (adapters log these)."""
        self.outage: list[BaseException] = []
        """The store error a ``store_outage="read_only"`` load let pass."""

    def finish(self) -> None:
        """Close the cycle; see :meth:`SessionCycle.finish`."""
        self.cycle.finish()


class SyncRunner(_Runner):
    """Runs one request's session cycle against a synchronous store."""

    def __init__(
        self,
        config: SessionConfig,
        store: Store,
        *,
        signer: IdSigner | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(config, signer=signer, clock=clock, session_class=SyncSession)
        self.store = store

    def load(self, facts: RequestFacts) -> SyncSession | None:
        """Load (or create) the request's session; ``None`` outside the
        cookie path."""
        session = _run_sync(_load(self.cycle, facts, self.outage), self.store)
        if session is None:
            return None
        assert isinstance(session, SyncSession)
        session._runner = self
        return session

    def save(self) -> None:
        """Run an explicit ``save()``."""
        _run_sync(_save(self.cycle, self.clock()), self.store)

    def reload(self) -> None:
        """Run an explicit ``reload()``."""
        _run_sync(_reload(self.cycle), self.store)

    def commit(self) -> list[str]:
        """Run the commit's store effects and return the ``Set-Cookie``
        values to send with the response start."""
        return _run_sync(_commit(self.cycle, self.clock(), self.notices), self.store)


class AsyncRunner(_Runner):
    """Runs one request's session cycle against an asynchronous store."""

    def __init__(
        self,
        config: SessionConfig,
        store: AsyncStore,
        *,
        signer: IdSigner | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(config, signer=signer, clock=clock, session_class=AsyncSession)
        self.store = store

    async def load(self, facts: RequestFacts) -> AsyncSession | None:
        """Load (or create) the request's session; ``None`` outside the
        cookie path."""
        session = await _run_async(_load(self.cycle, facts, self.outage), self.store)
        if session is None:
            return None
        assert isinstance(session, AsyncSession)
        session._runner = self
        return session

    async def save(self) -> None:
        """Run an explicit ``save()``."""
        await _run_async(_save(self.cycle, self.clock()), self.store)

    async def reload(self) -> None:
        """Run an explicit ``reload()``."""
        await _run_async(_reload(self.cycle), self.store)

    async def commit(self) -> list[str]:
        """Run the commit's store effects and return the ``Set-Cookie``
        values to send with the response start."""
        return await _run_async(
            _commit(self.cycle, self.clock(), self.notices), self.store
        )
