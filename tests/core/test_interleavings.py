"""Property: however two or three requests on one session interleave, the
store ends equal to a model that applies each request's key-level changes
in the order their writes landed.

Each request loads the session, makes random changes (set a key, delete a
key, or end the session), and commits. Hypothesis picks which request takes
its next store step, so a request can load, lose a write, read again and
replay in any order relative to the others. Every store step is one call
of a real store (memory or SQLite), as an adapter would make it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions import MemoryStore, SessionCycle, Store
from sessions.cycle import (
    ChangesDropped,
    Destroy,
    LoadSession,
    Save,
    StoreOperation,
    Update,
)
from sessions.runner import _perform_sync
from sessions.session import Session
from sessions.stores.sqlite import SQLiteStore

from .support import NOW, facts, make_config, make_record, sign

KEYS = ("a", "b", "c", "d")
CONFIG = make_config()
COOKIE = f"sid={sign('abc')}"


@attrs.frozen
class Change:
    """One thing a handler does: set ``key`` to ``value``, delete ``key``
    (``value`` is ``None``), or end the session (``key`` is ``None``)."""

    key: str | None
    value: int | None


changes = st.one_of(
    st.builds(Change, st.sampled_from(KEYS), st.integers(0, 3)),
    st.builds(Change, st.sampled_from(KEYS), st.none()),
)
handler_actions = st.lists(changes, max_size=4) | st.lists(changes, max_size=2).map(
    lambda done: [*done, Change(None, None)]
)
initial_data = st.dictionaries(st.sampled_from(KEYS), st.integers(0, 3), max_size=4)


class Request:
    """One request on session ``abc``, advanced one store step at a time."""

    def __init__(self, actions: list[Change]) -> None:
        self.actions = actions
        self.cycle = SessionCycle(CONFIG)
        self.session: Session | None = None
        self.pending: StoreOperation | None = None
        self.done = False
        self.loaded: dict[str, Any] = {}
        self.found = False  # it loaded session abc (not a new one)
        self.landed = False  # a write of this request's changes succeeded
        self.dropped = False  # its changes were refused: the session ended

    def step(self, store: Store, model: Model) -> None:
        """Run this request's next store call."""
        if self.session is None:
            lookup = self.cycle.receive_request(facts(COOKIE))
            assert isinstance(lookup, LoadSession)
            ready = self.cycle.receive_record("abc", store.get("abc"))
            session = ready.session  # type: ignore[union-attr]
            self.session = session
            self.found = not session.is_new
            self.loaded = dict(session)
            for action in self.actions:
                if action.key is None:
                    session.destroy()
                elif action.value is None:
                    session.pop(action.key, None)
                else:
                    session[action.key] = action.value
            self.pending = self.cycle.begin_commit(NOW)
        else:
            operation = self.pending
            assert operation is not None
            answer = _perform_sync(store, operation)
            if operation.session_id == "abc":
                model.saw(self, operation, answer)
            self.pending = self.cycle.receive_result(answer)
        if self.pending is None:
            headers = self.cycle.end_commit()
            self.dropped = any(isinstance(each, ChangesDropped) for each in headers)
            self.done = True

    def changed_something(self) -> bool:
        session = self.session
        assert session is not None
        return self.found and not session._destroyed and dict(session) != self.loaded


class Model:
    """What the store must hold: ``None`` once the session was ended."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data: dict[str, Any] | None = dict(data)

    def saw(self, request: Request, operation: StoreOperation, answer: object) -> None:
        if isinstance(operation, Destroy):
            self.data = None
        elif isinstance(operation, (Save, Update)) and answer is not False:
            assert self.data is not None, "a write brought an ended session back"
            request.landed = True
            session = request.session
            assert session is not None
            for key in request.loaded.keys() - session.keys():
                self.data.pop(key, None)
            for key, value in session.items():
                if request.loaded.get(key, object()) != value:
                    self.data[key] = value


@contextmanager
def memory_store() -> Iterator[Store]:
    yield MemoryStore()


@contextmanager
def sqlite_store() -> Iterator[Store]:
    with tempfile.TemporaryDirectory() as directory:
        store = SQLiteStore(Path(directory) / "sessions.db")
        try:
            yield store
        finally:
            store.close()


def check_interleaving(
    make_store: Callable[[], Any],
    data: dict[str, Any],
    actions: list[list[Change]],
    schedule: list[int],
) -> None:
    with make_store() as store:
        store.set("abc", make_record(data, expires=NOW.replace(year=2100)))
        model = Model(data)
        requests = [Request(each) for each in actions]
        turns = iter(schedule)
        while not all(request.done for request in requests):
            waiting = [request for request in requests if not request.done]
            waiting[next(turns, 0) % len(waiting)].step(store, model)
        for request in requests:
            if request.changed_something():
                # Every change either landed or was refused because another
                # request had ended the session: none vanished.
                assert request.landed != request.dropped
        held = store.get("abc")
        if model.data is None:
            assert held is None
        else:
            assert held is not None
            assert held.data == model.data


interleavings = given(
    data=initial_data,
    actions=st.lists(handler_actions, min_size=2, max_size=3),
    schedule=st.lists(st.integers(0, 2), max_size=40),
)


@settings(max_examples=300, deadline=None)
@interleavings
def test_memory_store_ends_equal_to_the_model(
    data: dict[str, Any], actions: list[list[Change]], schedule: list[int]
) -> None:
    check_interleaving(memory_store, data, actions, schedule)


@settings(max_examples=60, deadline=None)
@interleavings
def test_sqlite_store_ends_equal_to_the_model(
    data: dict[str, Any], actions: list[list[Change]], schedule: list[int]
) -> None:
    check_interleaving(sqlite_store, data, actions, schedule)
