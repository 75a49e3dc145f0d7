"""The store protocols: what the request cycle needs from a store.

A store keeps one :class:`~sessions.records.SessionRecord` per session id
and forgets it when the record's ``expires`` has passed, on its own (a TTL),
never relying on the cookie alone. Records must be kept as JSON-safe data;
:func:`~sessions.records.record_to_json` and
:func:`~sessions.records.record_from_json` do the conversion.

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
    "AsyncStore",
    "EnumerableStore",
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
        """Insert or replace the record. A record whose ``expires`` has
        already passed is deleted instead."""

    def destroy(self, session_id: str) -> None:
        """Delete the record; a missing id is not an error."""

    def touch(self, session_id: str, expires: datetime) -> None:
        """Move the stored record's expiry to ``expires``, keeping its data
        as the store holds it now. A missing id is not an error."""


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


@runtime_checkable
class AsyncStore(Protocol):
    """An asynchronous session store; the methods mean what they mean on
    :class:`Store`."""

    async def get(self, session_id: str) -> SessionRecord | None:
        """See :meth:`Store.get`."""

    async def set(self, session_id: str, record: SessionRecord) -> None:
        """See :meth:`Store.set`."""

    async def destroy(self, session_id: str) -> None:
        """See :meth:`Store.destroy`."""

    async def touch(self, session_id: str, expires: datetime) -> None:
        """See :meth:`Store.touch`."""


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
