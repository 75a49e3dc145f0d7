"""The memory store, and its asynchronous face, against the store contract."""

from __future__ import annotations

import pytest

from sessions import AsyncMemoryStore, MemoryStore
from sessions.testing import AsyncStoreConformance, StoreConformance


class TestMemoryStore(StoreConformance):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()


class TestAsyncMemoryStore(AsyncStoreConformance):
    @pytest.fixture
    def store(self) -> AsyncMemoryStore:
        return MemoryStore().as_async()
