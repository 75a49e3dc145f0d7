"""The store protocols: what the request cycle needs from a store.

A store keeps one :class:`~sessions.records.SessionRecord` per session id
and forgets it when the record's ``expires`` has passed, on its own (a TTL),
never relying on the cookie alone. Records must be kept as JSON-safe data;
:func:`~sessions.records.record_to_json` and
:func:`~sessions.records.record_from_json` do the conversion.

Writes of a session that was loaded from the store are conditional: the
request names the record version it read, and :meth:`Store.update` writes
only when the store still holds that version, checking and writing in one
atomic step. A request whose write is refused reads the record again and
re-applies its own key-level changes on top (see ``docs/concurrency.md``).
Because such writes never create a record, a session that another request
destroyed stays destroyed. :meth:`Store.set`, the unconditional write, is
used only for sessions under a newly generated id.

A store reports an outage (lost connection, timeout) by raising
:class:`~sessions.errors.StoreError` with the original exception as its
cause. "Not found" is ``None``, never an exception.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable

from sessions.records import SessionRecord

__all__ = [
    "AsyncEnumerableStore",
    "AsyncRenewingStore",
    "AsyncStore",
    "EnumerableStore",
    "RenewingStore",
    "Store",
    "is_async_store",
]


@runtime_checkable
class Store(Protocol):
    """A synchronous session store."""

    def get(self, session_id: str) -> SessionRecord | None:
        """Return the record for ``session_id``, or ``None`` when there is
        none or it has expired."""

    def set(self, session_id: str, record: SessionRecord) -> None:
        """Insert or replace the record, keeping ``record.version`` as the
        stored version. A record whose ``expires`` has already passed is
        deleted instead."""

    def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        """Replace the record only if the store holds a live record for
        ``session_id`` whose version is ``expected_version``; check and
        write as one atomic step. Return whether it was written.

        ``record.version`` is the new version (the request cycle passes
        ``expected_version + 1``). A missing or expired record, or one with
        another version, is left as it is and ``False`` returned: an update
        never creates a record. A ``record`` whose ``expires`` has already
        passed deletes the matching record instead (and counts as written).
        """

    def destroy(self, session_id: str) -> None:
        """Delete the record; a missing id is not an error."""

    def touch(self, session_id: str, expires: datetime) -> bool:
        """Move the stored record's expiry to ``expires`` if that is later
        than the one it has, keeping its data and version as the store holds
        them now. Return whether a live record was there; a missing id is
        not an error. An ``expires`` that has already passed deletes the
        record.

        A touch never brings the expiry closer: a request that only read the
        session must not cut short a longer lifetime that another request
        gave it meanwhile (a "remember me" at login, for one)."""


@runtime_checkable
class EnumerableStore(Store, Protocol):
    """A synchronous store that can also list and clear its sessions."""

    def ids(self) -> list[str]:
        """The ids of every live session."""

    def all(self) -> Mapping[str, SessionRecord]:
        """Every live session, by id."""

    def length(self) -> int:
        """How many live sessions there are."""

    def clear(self) -> None:
        """Delete every session."""


class RenewingStore(Store, Protocol):
    """A synchronous store that can read a session and restart its idle
    timeout in one call, saving the request a separate ``touch``.

    The request cycle asks for it with :attr:`LoadSession.renew_to
    <sessions.cycle.LoadSession.renew_to>`; the runners call
    :meth:`get_and_renew` instead of ``get`` when a store has it.
    """

    def get_and_renew(
        self, session_id: str, renew_to: datetime
    ) -> SessionRecord | None:
        """Do what ``get`` does; in the same step, if the live record's
        ``max_age`` is ``None`` (its cookie ends with the browser, and the
        idle timeout keeps it), move its expiry to ``renew_to`` unless it is
        later already, as ``touch`` would. The record returned carries the
        expiry the store now holds."""


@runtime_checkable
class AsyncStore(Protocol):
    """An asynchronous session store; the methods mean what they mean on
    :class:`Store`."""

    async def get(self, session_id: str) -> SessionRecord | None:
        """See :meth:`Store.get`."""

    async def set(self, session_id: str, record: SessionRecord) -> None:
        """See :meth:`Store.set`."""

    async def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        """See :meth:`Store.update`."""

    async def destroy(self, session_id: str) -> None:
        """See :meth:`Store.destroy`."""

    async def touch(self, session_id: str, expires: datetime) -> bool:
        """See :meth:`Store.touch`."""


class AsyncRenewingStore(AsyncStore, Protocol):
    """The asynchronous counterpart of :class:`RenewingStore`."""

    async def get_and_renew(
        self, session_id: str, renew_to: datetime
    ) -> SessionRecord | None:
        """See :meth:`RenewingStore.get_and_renew`."""


@runtime_checkable
class AsyncEnumerableStore(AsyncStore, Protocol):
    """An asynchronous store that can also list and clear its sessions."""

    async def ids(self) -> list[str]:
        """See :meth:`EnumerableStore.ids`."""

    async def all(self) -> Mapping[str, SessionRecord]:
        """See :meth:`EnumerableStore.all`."""

    async def length(self) -> int:
        """See :meth:`EnumerableStore.length`."""

    async def clear(self) -> None:
        """See :meth:`EnumerableStore.clear`."""


def is_async_store(store: object) -> bool:
    """Whether ``store`` implements the asynchronous protocol (its ``get``
    is a coroutine function)."""
    return inspect.iscoroutinefunction(getattr(store, "get", None))
