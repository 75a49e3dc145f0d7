"""Requests that overlap on one session: conditional writes, replays of a
request's own key-level changes, and sessions ended by another request.

Each test drives two or more cycles by hand against one :class:`DictStore`,
in an order chosen to produce the race it is about.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from sessions import (
    CycleState,
    LoadSession,
    SessionConfig,
    SessionCycle,
    SessionNotFoundError,
    SetCookie,
    WriteConflictError,
)
from sessions.cycle import (
    MAX_WRITE_ATTEMPTS,
    ChangesDropped,
    StoreAnswer,
    StoreOperation,
    Touch,
    Update,
)
from sessions.session import Session

from .support import (
    NOW,
    DictStore,
    commit,
    facts,
    make_config,
    make_record,
    of_type,
    open_session,
    run_operations,
    seconds,
    sign,
)

COOKIE = f"sid={sign('abc')}"


def shared(data: dict[str, Any] | None = None, **record: Any) -> DictStore:
    """A store holding session ``abc`` (version 1)."""
    return DictStore({"abc": make_record(data or {}, **record)})


def load(
    store: DictStore, config: SessionConfig | None = None, *cookies: str
) -> tuple[SessionCycle, Session]:
    cycle = SessionCycle(config or make_config())
    session = open_session(cycle, store, facts(*(cookies or (COOKIE,))))
    assert session is not None
    return cycle, session


def test_changes_to_different_keys_both_survive() -> None:
    store = shared({"seen": 0})
    first, tab_a = load(store)
    second, tab_b = load(store)
    tab_a["a"] = 1
    tab_b["b"] = 2

    commit(first, store)
    effects = commit(second, store)

    assert store.records["abc"].data == {"seen": 0, "a": 1, "b": 2}
    assert store.records["abc"].version == 3
    # The second write lost once, read the record again and replayed.
    updates = of_type(Update, effects)
    assert [update.expected_version for update in updates] == [1, 2]
    assert tab_b == {"seen": 0, "a": 1, "b": 2}


def test_the_later_commit_wins_for_a_key_both_changed() -> None:
    store = shared({"colour": "red"})
    first, tab_a = load(store)
    second, tab_b = load(store)
    tab_a["colour"] = "green"
    tab_b["colour"] = "blue"

    commit(first, store)
    commit(second, store)

    assert store.records["abc"].data == {"colour": "blue"}


def test_a_key_that_was_only_read_is_never_written_back() -> None:
    store = shared({"cart": [1], "theme": "dark"})
    reader, tab_a = load(store)
    writer, tab_b = load(store)
    assert tab_a["cart"] == [1]  # read only
    tab_a["theme"] = "light"
    tab_b["cart"].append(2)

    commit(writer, store)
    commit(reader, store)

    assert store.records["abc"].data == {"cart": [1, 2], "theme": "light"}


def test_a_deletion_is_replayed_too() -> None:
    store = shared({"coupon": "X", "cart": []})
    first, tab_a = load(store)
    second, tab_b = load(store)
    del tab_a["coupon"]
    tab_b["cart"] = ["book"]

    commit(second, store)
    commit(first, store)

    assert store.records["abc"].data == {"cart": ["book"]}


def test_clear_deletes_only_the_keys_this_request_saw() -> None:
    store = shared({"a": 1})
    first, tab_a = load(store)
    second, tab_b = load(store)
    tab_b["b"] = 2
    commit(second, store)

    tab_a.clear()
    commit(first, store)

    assert store.records["abc"].data == {"b": 2}


def test_an_explicit_save_that_lost_merges_the_other_request_into_the_session() -> None:
    store = shared({})
    first, tab_a = load(store)
    second, tab_b = load(store)
    tab_b["b"] = 2
    commit(second, store)

    tab_a["a"] = 1
    run_operations(first, store, first.begin_save(NOW))
    first.end_save()

    assert dict(tab_a) == {"a": 1, "b": 2}
    assert store.records["abc"].data == {"a": 1, "b": 2}
    # Nothing changed since the save: the commit writes nothing more.
    assert not of_type(Update, commit(first, store))


def test_logout_sticks_against_a_request_that_was_in_flight() -> None:
    store = shared({"user": "ada"})
    slow, in_flight = load(store)
    logout, leaving = load(store)
    leaving.destroy()
    commit(logout, store)
    assert "abc" not in store.records

    in_flight["cart"] = ["book"]
    effects = commit(slow, store)

    assert "abc" not in store.records
    assert store.records == {}
    assert not of_type(SetCookie, effects)
    (dropped,) = of_type(ChangesDropped, effects)
    assert "the session ended while this request ran" in dropped.reason
    slow.finish()  # the dropped change is not reported as a late change


def test_a_regenerated_id_stays_dead_and_the_new_one_keeps_the_login() -> None:
    store = shared({"cart": []})
    slow, in_flight = load(store)
    login, logging_in = load(store)
    logging_in.regenerate(keep_data=True)
    logging_in["user"] = "ada"
    commit(login, store)

    in_flight["cart"] = ["book"]
    commit(slow, store)

    assert set(store.records) == {logging_in.id}
    assert store.records[logging_in.id].data == {"cart": [], "user": "ada"}


def test_a_rolling_request_whose_session_ended_meanwhile_sends_no_cookie() -> None:
    store = shared({"user": "ada"})
    config = make_config(rolling=True)
    slow, _ = load(store, config)
    logout, leaving = load(store, config)
    leaving.destroy()
    commit(logout, store)

    effects = commit(slow, store)

    # The touch found nothing, so no cookie naming the dead id is sent: it
    # could only replace the one the logout response left.
    assert not of_type(SetCookie, effects)
    assert store.records == {}


def test_an_explicit_save_after_a_logout_elsewhere_raises_and_commits_nothing() -> None:
    store = shared({"user": "ada"})
    slow, in_flight = load(store)
    logout, leaving = load(store)
    leaving.destroy()
    commit(logout, store)

    in_flight["cart"] = ["book"]
    first = slow.begin_save(NOW)
    assert first is not None
    run_operations(slow, store, first)
    with pytest.raises(SessionNotFoundError):
        slow.end_save()
    assert slow.state is CycleState.ACTIVE
    with pytest.raises(SessionNotFoundError):
        slow.begin_save(NOW)

    assert commit(slow, store) == ()
    assert store.records == {}


class AlwaysBusy(DictStore):
    """A store on which another writer always wins: every update is refused
    and every read shows a newer version."""

    def answer(self, operation: StoreOperation) -> StoreAnswer:
        if isinstance(operation, Update):
            record = self.records["abc"]
            self.records["abc"] = attrs.evolve(record, version=record.version + 1)
            return False
        return super().answer(operation)


def test_a_write_that_keeps_losing_gives_up_with_a_store_error() -> None:
    store = AlwaysBusy({"abc": make_record({})})
    cycle, session = load(store)
    session["a"] = 1

    with pytest.raises(WriteConflictError):
        commit(cycle, store)

    assert cycle.state is CycleState.ERROR
    # The load, then one read before each replay.
    assert store.lookups.count("abc") == 1 + MAX_WRITE_ATTEMPTS - 1


def test_each_replay_is_conditional_on_the_version_it_read() -> None:
    store = shared({})
    cycle, session = load(store)
    session["a"] = 1
    first = cycle.begin_commit(NOW)
    assert isinstance(first, Update)
    assert first.expected_version == 1

    store.records["abc"] = make_record({"b": 2}, version=7)
    lookup = cycle.receive_result(False)
    assert lookup == LoadSession("abc", after_conflicts=1)
    replay = cycle.receive_result(store.records["abc"])
    assert isinstance(replay, Update)
    assert replay.expected_version == 7
    assert replay.record.version == 8
    assert replay.record.data == {"a": 1, "b": 2}
    assert cycle.receive_result(True) is None


def test_the_replayed_record_keeps_the_stored_creation_time() -> None:
    store = shared({}, created=NOW - seconds(500))
    cycle, session = load(store)
    session["a"] = 1
    store.records["abc"] = make_record({"b": 2}, created=NOW - seconds(500), version=2)
    commit(cycle, store)
    assert store.records["abc"].created == NOW - seconds(500)
    assert store.records["abc"].data == {"a": 1, "b": 2}


# -- a lifetime another request changed ------------------------------------------

REMEMBER_ME = 30 * 24 * 3600


def test_a_read_only_request_does_not_cut_short_a_lifetime_set_meanwhile() -> None:
    store = shared({"user": "ada"}, max_age=None, expires=NOW + seconds(3600))
    reader, _ = load(store)
    login, remembered = load(store)
    remembered.cookie.max_age = REMEMBER_ME
    commit(login, store)

    effects = commit(reader, store, NOW + seconds(5))

    # The reader's touch asks for an earlier expiry, which the store ignores.
    (touch,) = of_type(Touch, effects)
    assert touch.expires < NOW + seconds(REMEMBER_ME)
    assert store.records["abc"].expires == NOW + seconds(REMEMBER_ME)
    assert store.records["abc"].max_age == REMEMBER_ME


@pytest.mark.parametrize("rolling", [False, True])
def test_a_replayed_write_keeps_a_lifetime_another_request_set(rolling: bool) -> None:
    store = shared({"user": "ada"}, max_age=None, expires=NOW + seconds(3600))
    config = make_config(rolling=rolling, idle_timeout=3600)
    cart, basket = load(store, config)
    login, remembered = load(store, config)
    basket["cart"] = [1]
    remembered.cookie.max_age = REMEMBER_ME
    commit(login, store)

    effects = commit(cart, store, NOW + seconds(5))

    held = store.records["abc"]
    assert held.data == {"user": "ada", "cart": [1]}
    assert held.max_age == REMEMBER_ME
    assert basket.cookie.original_max_age == REMEMBER_ME
    if rolling:
        # The lifetime restarts from this commit, and the cookie says so.
        assert held.expires == NOW + seconds(5 + REMEMBER_ME)
        (cookie,) = of_type(SetCookie, effects)
        assert f"Max-Age={REMEMBER_ME};" in cookie.header
    else:
        assert held.expires == NOW + seconds(REMEMBER_ME)
        assert not of_type(SetCookie, effects)


def test_a_replayed_write_that_changed_the_lifetime_itself_keeps_its_own() -> None:
    store = shared({"user": "ada"}, max_age=None, expires=NOW + seconds(3600))
    first, shortened = load(store)
    second, remembered = load(store)
    shortened["x"] = 1
    shortened.cookie.max_age = 600
    remembered.cookie.max_age = REMEMBER_ME
    commit(second, store)

    commit(first, store)

    # The later commit wins for the lifetime, as for a key both changed.
    assert store.records["abc"].max_age == 600
    assert store.records["abc"].expires == NOW + seconds(600)
