"""A conformance suite for session stores, ready for pytest.

A store author subclasses :class:`StoreConformance` (for a synchronous
store) or :class:`AsyncStoreConformance` (for an asynchronous one) in a test
module and provides a fixture named ``store``; every check of the store
contract then runs as a test of that class::

    import pytest
    from sessions.testing import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        def store(self, tmp_path):
            store = MyStore(tmp_path / "sessions")
            yield store
            store.close()

The checks cover the round trip of every JSON type and of the record's
moments, max-age and version, replacement, deletion, ``touch`` and what it
returns, the conditional ``update`` (it writes only over the version it
names, and never creates a record), expiry enforced by the store itself
(the one check that waits, about 1.5 seconds of real time), listing, and
concurrent writers, among them writers that each add one to a shared
counter through ``update`` and must not lose a single increment. Set
``enumerable = False`` on the class for a store without
``ids``/``all``/``length``/``clear``; the listing checks then skip.

The fixture must give a store that is empty when the test starts. Checks
that use hypothesis run many examples against that one store; each example
writes under ids of its own or clears the store first, so a store needs no
reset between examples.

Every check of :class:`AsyncStoreConformance` runs in an event loop of its
own, started with :func:`asyncio.run` (no pytest plugin is needed), and each
hypothesis example likewise. The fixture is an ordinary synchronous fixture
and may return either of:

- the asynchronous store itself, when it can be used from one event loop
  after another (the memory store, or a store whose work runs on threads of
  its own);
- an :data:`AsyncStoreFactory`: a function that returns an asynchronous
  context manager yielding the store. The suite opens it inside each event
  loop and closes it there, for stores whose connections belong to the loop
  that made them. Every store it opens must see the same, initially empty,
  data.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any, Concatenate, ParamSpec, TypeAlias

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from sessions.stores.base import AsyncStore, Store, is_async_store
from sessions.testing import _checks as checks
from sessions.testing._checks import EDGE_DATA, RecordPlan, versions

__all__ = ["AsyncStoreConformance", "AsyncStoreFactory", "StoreConformance"]

AsyncStoreFactory: TypeAlias = Callable[[], AbstractAsyncContextManager[AsyncStore]]
"""Opens an asynchronous store inside the running event loop and closes it
on exit; for example ``lambda: AsyncSQLiteStore(path)``, or a function
decorated with :func:`contextlib.asynccontextmanager`."""

_P = ParamSpec("_P")
Check: TypeAlias = Callable[Concatenate[AsyncStore, _P], Coroutine[Any, Any, None]]

# Each check gets one store from a function-scoped fixture and keeps it for
# all of its examples (see the module docstring). Every subclass runs the
# same methods against a store of its own; they keep nothing on ``self``, so
# calls from several instances are safe, and an example that one store
# failed on is one more valid input for the next. Real I/O has no deadline.
_examples = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.differing_executors,
    ],
)
_LISTING = ("ids", "all", "length", "clear")
_PROTOCOL = ("get", "set", "update", "destroy", "touch")


class _StoreContract:
    """The checks both suites share; a subclass says how to run them."""

    enumerable: bool = True
    """Whether the store implements ``ids``, ``all``, ``length`` and
    ``clear``; when ``False`` the checks of those skip."""

    def _run(
        self, store: object, check: Check[_P], *args: _P.args, **kwargs: _P.kwargs
    ) -> None:
        raise NotImplementedError

    def _listing_only(self) -> None:
        if not self.enumerable:
            pytest.skip(
                f"{type(self).__name__}.enumerable is False: the store does not "
                "list or clear its sessions"
            )

    def _methods(self) -> tuple[str, ...]:
        return _PROTOCOL + _LISTING if self.enumerable else _PROTOCOL

    def test_get_of_an_unknown_id_is_none(self, store: object) -> None:
        self._run(store, checks.get_of_an_unknown_id)

    @given(plan=checks.record_plans)
    @example(plan=RecordPlan(EDGE_DATA, timedelta(hours=1), None, timedelta(0)))
    @_examples
    def test_a_record_comes_back_as_it_was_set(
        self, store: object, plan: RecordPlan
    ) -> None:
        self._run(store, checks.round_trip, plan)

    @given(first=checks.session_ids, second=checks.session_ids)
    @_examples
    def test_any_two_ids_are_kept_apart(
        self, store: object, first: str, second: str
    ) -> None:
        assume(first != second)
        self._run(store, checks.ids_kept_apart, first, second)

    def test_every_kind_of_id_is_kept_apart(self, store: object) -> None:
        self._run(store, checks.varied_ids, self.enumerable)

    def test_set_replaces_the_whole_record(self, store: object) -> None:
        self._run(store, checks.set_replaces)

    def test_an_expired_record_is_not_stored(self, store: object) -> None:
        self._run(store, checks.expired_set, self.enumerable)

    def test_destroy_removes_only_its_record(self, store: object) -> None:
        self._run(store, checks.destroy_removes)

    def test_destroy_of_an_unknown_id_is_not_an_error(self, store: object) -> None:
        self._run(store, checks.destroy_unknown)

    def test_touch_moves_the_expiry_and_keeps_the_stored_data(
        self, store: object
    ) -> None:
        self._run(store, checks.touch_keeps_stored_data)

    def test_touch_of_an_unknown_id_creates_nothing(self, store: object) -> None:
        self._run(store, checks.touch_unknown, self.enumerable)

    def test_touch_into_the_past_removes_the_record(self, store: object) -> None:
        self._run(store, checks.touch_into_the_past)

    @given(first=checks.record_plans, second=checks.record_plans)
    @_examples
    def test_update_writes_when_the_stored_version_is_the_expected_one(
        self, store: object, first: RecordPlan, second: RecordPlan
    ) -> None:
        self._run(store, checks.update_writes_on_a_match, first, second)

    @given(stored=versions, expected=versions)
    @example(stored=1, expected=0)
    @example(stored=1, expected=2)
    @_examples
    def test_update_over_another_version_changes_nothing(
        self, store: object, stored: int, expected: int
    ) -> None:
        assume(stored != expected)
        self._run(store, checks.update_refuses_another_version, stored, expected)

    def test_update_of_an_unknown_id_creates_nothing(self, store: object) -> None:
        self._run(store, checks.update_unknown, self.enumerable)

    def test_update_with_an_expired_record_deletes_the_matching_one(
        self, store: object
    ) -> None:
        self._run(store, checks.expired_update)

    def test_the_store_forgets_expired_records_by_itself(self, store: object) -> None:
        self._run(store, checks.forgets_expired, self.enumerable)

    def test_stored_data_is_not_shared_with_the_caller(self, store: object) -> None:
        self._run(store, checks.data_not_shared)

    def test_data_json_cannot_carry_is_refused(self, store: object) -> None:
        self._run(store, checks.non_json_refused)

    def test_a_megabyte_record_round_trips(self, store: object) -> None:
        self._run(store, checks.large_record)

    @given(ids=st.lists(checks.session_ids, max_size=12, unique=True))
    @_examples
    def test_ids_all_and_length_list_the_live_sessions(
        self, store: object, ids: list[str]
    ) -> None:
        self._listing_only()
        self._run(store, checks.lists_live_sessions, ids)

    def test_clear_deletes_every_session(self, store: object) -> None:
        self._listing_only()
        self._run(store, checks.clear_deletes_everything)


def _synchronous(store: object) -> Store:
    """``store``, checked to be a synchronous store."""
    if is_async_store(store):
        raise TypeError(
            f"the store fixture gave {type(store).__name__}, an asynchronous "
            "store; test it with AsyncStoreConformance"
        )
    if isinstance(store, type) or not isinstance(store, Store):
        raise TypeError(f"the store fixture gave {store!r}, not a session store")
    return store


class StoreConformance(_StoreContract):
    """The store contract, checked against a synchronous store.

    Subclass it in a test module (with a name pytest collects, such as
    ``TestMyStore``) and provide a fixture ``store`` that returns a new,
    empty :class:`~sessions.stores.base.Store` and cleans it up afterwards.
    """

    def _run(
        self, store: object, check: Check[_P], *args: _P.args, **kwargs: _P.kwargs
    ) -> None:
        asyncio.run(check(checks.AwaitedStore(_synchronous(store)), *args, **kwargs))

    def test_the_fixture_gives_a_synchronous_store(self, store: object) -> None:
        checked = _synchronous(store)
        for name in self._methods():
            method = getattr(checked, name, None)
            assert callable(method), f"{type(checked).__name__} has no {name}()"
            assert not inspect.iscoroutinefunction(method), (
                f"{type(checked).__name__}.{name} is a coroutine function in a "
                "synchronous store"
            )

    def test_threads_writing_their_own_ids_all_land(self, store: object) -> None:
        checks.threads_writing_own_ids(_synchronous(store), self.enumerable)

    def test_threads_overwriting_one_id_leave_one_whole_record(
        self, store: object
    ) -> None:
        checks.threads_overwriting_one_id(_synchronous(store))

    def test_threads_counting_through_update_lose_no_increment(
        self, store: object
    ) -> None:
        checks.threads_incrementing_one_counter(_synchronous(store))


@asynccontextmanager
async def _opened(provided: object) -> AsyncIterator[AsyncStore]:
    """The store an asynchronous check uses: the fixture's store itself, or
    one its factory opens in the running event loop."""
    if isinstance(provided, type):
        raise TypeError(f"the store fixture gave the class {provided.__name__}")
    if is_async_store(provided):
        assert isinstance(provided, AsyncStore)
        yield provided
        return
    if isinstance(provided, Store):
        raise TypeError(
            f"the store fixture gave {type(provided).__name__}, a synchronous "
            "store; test it with StoreConformance"
        )
    if not callable(provided):
        raise TypeError(
            f"the store fixture gave {provided!r}, neither an asynchronous store "
            "nor a factory of one"
        )
    manager = provided()
    if not isinstance(manager, AbstractAsyncContextManager):
        if inspect.iscoroutine(manager):
            manager.close()
        raise TypeError(
            "the store fixture's factory must return an asynchronous context "
            f"manager that yields the store, not {type(manager).__name__}"
        )
    async with manager as store:
        if not is_async_store(store):
            raise TypeError(
                f"the store fixture's factory opened {type(store).__name__}, not "
                "an asynchronous store"
            )
        yield store


class AsyncStoreConformance(_StoreContract):
    """The store contract, checked against an asynchronous store.

    Subclass it in a test module and provide a synchronous fixture ``store``
    that returns a new, empty :class:`~sessions.stores.base.AsyncStore`, or
    an :data:`AsyncStoreFactory` that opens one in each event loop (see the
    module documentation), and cleans up afterwards.
    """

    def _run(
        self, store: object, check: Check[_P], *args: _P.args, **kwargs: _P.kwargs
    ) -> None:
        async def run_check() -> None:
            async with _opened(store) as opened:
                await check(opened, *args, **kwargs)

        asyncio.run(run_check())

    def test_the_fixture_gives_an_asynchronous_store(self, store: object) -> None:
        self._run(store, checks.asynchronous_methods, self._methods())

    def test_tasks_writing_their_own_ids_all_land(self, store: object) -> None:
        self._run(store, checks.tasks_writing_own_ids, self.enumerable)

    def test_tasks_overwriting_one_id_leave_one_whole_record(
        self, store: object
    ) -> None:
        self._run(store, checks.tasks_overwriting_one_id)

    def test_tasks_counting_through_update_lose_no_increment(
        self, store: object
    ) -> None:
        self._run(store, checks.tasks_incrementing_one_counter)
