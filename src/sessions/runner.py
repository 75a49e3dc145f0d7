"""Carrying out a cycle's decisions against a store, sync or async.

The request cycle (:mod:`sessions.cycle`) only decides. This module performs
what it decides, so that no adapter has to: each step of a request (load,
explicit save, explicit reload, commit) is written once, as a generator that
yields the store operations it needs and receives their results. A
:class:`SyncRunner` feeds those generators from a :class:`~sessions.Store`,
an :class:`AsyncRunner` from an :class:`~sessions.AsyncStore`, and both hand
the handler a session whose ``save()`` and ``reload()`` fit their I/O style.

A store exception is thrown back into the step, which puts the cycle in its
error state (or, for an explicit save or reload, back where it was) and lets
the exception continue to the framework's error handling, as a
:class:`~sessions.errors.StoreError` (see :func:`_store_failure`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import datetime, timezone
from typing import TypeAlias, TypeVar

from sessions.config import SessionConfig
from sessions.cycle import (
    ClearCookie,
    CookieWithheld,
    Destroy,
    LoadSession,
    NoSession,
    RequestFacts,
    Save,
    SessionCycle,
    SetCookie,
    StoreEffect,
    Touch,
)
from sessions.errors import SessionError, StoreError
from sessions.records import SessionRecord
from sessions.session import Session
from sessions.signing import IdSigner
from sessions.stores.base import AsyncStore, Store, is_async_store
from sessions.stores.memory import MemoryStore

__all__ = [
    "AsyncRunner",
    "AsyncSession",
    "SyncRunner",
    "SyncSession",
    "async_store",
    "sync_store",
    "utc_now",
]

StoreOp: TypeAlias = "LoadSession | StoreEffect"
_Result = TypeVar("_Result")
Steps: TypeAlias = "Generator[StoreOp, SessionRecord | None, _Result]"


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


def _load(cycle: SessionCycle, facts: RequestFacts) -> Steps[Session | None]:
    decision = cycle.receive_request(facts)
    while isinstance(decision, LoadSession):
        try:
            record = yield decision
        except BaseException:
            cycle.fail()
            raise
        decision = cycle.receive_record(decision.session_id, record)
    if isinstance(decision, NoSession):
        return None
    return decision.session


def _save(cycle: SessionCycle, now: datetime) -> Steps[None]:
    effect = cycle.begin_save(now)
    if effect is None:
        return  # a new session the client could never present: not stored
    try:
        yield effect
    except BaseException:
        cycle.end_save(ok=False)
        raise
    cycle.end_save()


def _reload(cycle: SessionCycle) -> Steps[None]:
    lookup = cycle.begin_reload()
    try:
        record = yield lookup
    except BaseException:
        cycle.end_reload(None, ok=False)
        raise
    cycle.end_reload(record)


def _commit(
    cycle: SessionCycle, now: datetime, withheld: list[str]
) -> Steps[list[str]]:
    headers: list[str] = []
    for effect in cycle.begin_commit(now):
        if isinstance(effect, (SetCookie, ClearCookie)):
            headers.append(effect.header)
        elif isinstance(effect, CookieWithheld):
            withheld.append(effect.reason)
        else:
            try:
                yield effect
            except BaseException:
                cycle.fail()
                raise
    cycle.end_commit()
    return headers


# -- drivers -----------------------------------------------------------------

_OPERATION_NAMES: dict[type[StoreOp], str] = {
    LoadSession: "get",
    Save: "set",
    Touch: "touch",
    Destroy: "destroy",
}


def _store_failure(error: BaseException, operation: StoreOp) -> BaseException:
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
    result: SessionRecord | None = None
    try:
        operation = next(steps)
        while True:
            try:
                result = _perform_sync(store, operation)
            except BaseException as error:
                operation = steps.throw(_store_failure(error, operation))
            else:
                operation = steps.send(result)
    except StopIteration as stop:
        value: _Result = stop.value
        return value


def _perform_sync(store: Store, operation: StoreOp) -> SessionRecord | None:
    if isinstance(operation, LoadSession):
        return store.get(operation.session_id)
    if isinstance(operation, Save):
        store.set(operation.session_id, operation.record)
    elif isinstance(operation, Touch):
        store.touch(operation.session_id, operation.expires)
    else:
        store.destroy(operation.session_id)
    return None


async def _run_async(steps: Steps[_Result], store: AsyncStore) -> _Result:
    result: SessionRecord | None = None
    try:
        operation = next(steps)
        while True:
            try:
                result = await _perform_async(store, operation)
            except BaseException as error:
                operation = steps.throw(_store_failure(error, operation))
            else:
                operation = steps.send(result)
    except StopIteration as stop:
        value: _Result = stop.value
        return value


async def _perform_async(store: AsyncStore, operation: StoreOp) -> SessionRecord | None:
    if isinstance(operation, LoadSession):
        return await store.get(operation.session_id)
    if isinstance(operation, Save):
        await store.set(operation.session_id, operation.record)
    elif isinstance(operation, Touch):
        await store.touch(operation.session_id, operation.expires)
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
        self.withheld: list[str] = []
        """Why a due cookie was not sent (adapters log these)."""

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
        session = _run_sync(_load(self.cycle, facts), self.store)
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
        return _run_sync(_commit(self.cycle, self.clock(), self.withheld), self.store)


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
        session = await _run_async(_load(self.cycle, facts), self.store)
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
            _commit(self.cycle, self.clock(), self.withheld), self.store
        )
