"""Helpers shared by the SQLite store tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from sessions.stores.sqlite import AsyncSQLiteStore


@contextmanager
def closing_async(store: AsyncSQLiteStore) -> Iterator[AsyncSQLiteStore]:
    """``store``, closed on exit from a synchronous fixture."""
    try:
        yield store
    finally:
        asyncio.run(store.close())
