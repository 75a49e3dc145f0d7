"""The SQLite stores against the store contract: the synchronous store, the
asynchronous one used from one event loop after another, and the
asynchronous one opened and closed inside each loop through a factory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sessions.stores.sqlite import AsyncSQLiteStore, SQLiteStore
from sessions.testing import AsyncStoreConformance, AsyncStoreFactory, StoreConformance

from .sqlite_support import closing_async


class TestSQLiteStore(StoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteStore]:
        with SQLiteStore(tmp_path / "sessions.sqlite3") as store:
            yield store


class TestAsyncSQLiteStore(AsyncStoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[AsyncSQLiteStore]:
        with closing_async(AsyncSQLiteStore(tmp_path / "sessions.sqlite3")) as store:
            yield store


class TestAsyncSQLiteStoreOpenedInEachLoop(AsyncStoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> AsyncStoreFactory:
        return lambda: AsyncSQLiteStore(tmp_path / "sessions.sqlite3")
