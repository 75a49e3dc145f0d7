"""Lifetimes beyond the idle timeout (``absolute_timeout``), fewer expiry
writes (``touch_after``), and what a request does when the store cannot be
reached (``store_outage``)."""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from sessions import (
    ClearCookie,
    CookieOptions,
    CycleState,
    Destroy,
    SessionConfig,
    SessionCycle,
    SetCookie,
    StoreError,
    Touch,
    Update,
)
from sessions.cycle import ChangesDropped, LoadSession
from sessions.errors import ConfigError
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
    seconds,
    sent_cookie,
    sign,
)

COOKIE = f"sid={sign('abc')}"
HOUR = 3600


def start(
    config: SessionConfig, store: DictStore, now: datetime = NOW
) -> tuple[SessionCycle, Session]:
    cycle = SessionCycle(config)
    session = open_session(cycle, store, facts(COOKIE, now=now))
    assert session is not None
    return cycle, session


def stored(**record: Any) -> DictStore:
    return DictStore({"abc": make_record({"user": "ada"}, **record)})


# -- absolute_timeout ----------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, 1.5, "1", True])
def test_absolute_timeout_and_touch_after_must_be_positive_seconds(
    value: object,
) -> None:
    for field in ("absolute_timeout", "touch_after"):
        options: dict[str, Any] = {field: value}
        with pytest.raises(ConfigError, match=field):
            make_config(**options)


@pytest.mark.parametrize(
    "options",
    [
        {"idle_timeout": 3600, "touch_after": 3600},
        {"idle_timeout": 3600, "touch_after": 7200},
        {"cookie": CookieOptions(max_age=600), "touch_after": 600},
    ],
)
def test_touch_after_must_be_shorter_than_the_lifetime(options: Any) -> None:
    # Otherwise no touch is ever due, and a session in steady read-only use
    # expires under its user.
    with pytest.raises(ConfigError, match="touch_after"):
        make_config(**options)
    make_config(**{**options, "touch_after": 60})


def test_a_rolling_session_kept_busy_ends_at_its_absolute_deadline() -> None:
    config = make_config(
        rolling=True, cookie=CookieOptions(max_age=HOUR), absolute_timeout=3 * HOUR
    )
    store = DictStore()
    cycle = SessionCycle(config)
    session = open_session(cycle, store, facts())
    assert session is not None
    session["user"] = "ada"
    commit(cycle, store)
    cookie = f"sid={sign(session.id)}"
    created = NOW

    # A request every 20 minutes keeps the idle timeout from ever running out.
    moment = NOW
    while True:
        moment += seconds(20 * 60)
        cycle = SessionCycle(config)
        busy = open_session(cycle, store, facts(cookie, now=moment))
        assert busy is not None
        if busy.is_new:
            break
        assert busy["user"] == "ada"
        effects = commit(cycle, store, moment)
        (header,) = of_type(SetCookie, effects)
        expires = parsedate_to_datetime(sent_cookie(effects).expires or "")
        # Neither the cookie nor the store reaches past the deadline.
        assert expires <= created + seconds(3 * HOUR)
        assert store.records[busy.id].expires <= created + seconds(3 * HOUR)
        assert header.header.count("Max-Age=") == 1
    assert moment >= created + seconds(3 * HOUR)
    assert moment < created + seconds(3 * HOUR + 20 * 60 + 1)


def test_the_cookie_max_age_counts_down_to_the_deadline() -> None:
    config = make_config(
        rolling=True, cookie=CookieOptions(max_age=HOUR), absolute_timeout=2 * HOUR
    )
    store = stored(created=NOW - seconds(2 * HOUR - 600), max_age=HOUR)
    cycle, _ = start(config, store)
    effects = commit(cycle, store)
    assert sent_cookie(effects).max_age == 600
    (touch,) = of_type(Touch, effects)
    assert touch.expires == NOW + seconds(600)


def test_a_session_past_its_deadline_is_not_loaded() -> None:
    config = make_config(absolute_timeout=HOUR)
    store = stored(created=NOW - seconds(HOUR), expires=NOW + seconds(60))
    cycle, session = start(config, store)
    assert session.is_new
    assert "user" not in session
    # It is deleted rather than left to the store's own expiry.
    assert commit(cycle, store) == (Destroy("abc"),)
    assert store.records == {}


def test_a_change_at_the_deadline_ends_the_session_instead_of_saving_it() -> None:
    config = make_config(absolute_timeout=HOUR)
    store = stored(created=NOW - seconds(HOUR - 1))
    cycle, session = start(config, store)
    session["cart"] = ["book"]
    effects = commit(cycle, store, NOW + seconds(1))
    assert of_type(Destroy, effects) == [Destroy("abc")]
    assert of_type(ClearCookie, effects)
    assert "abc" not in store.records


def test_a_browser_session_cookie_is_stored_no_longer_than_the_deadline() -> None:
    config = make_config(idle_timeout=HOUR, absolute_timeout=HOUR + 60)
    store = stored(created=NOW - seconds(HOUR), max_age=None)
    cycle, _ = start(config, store)
    (touch,) = of_type(Touch, commit(cycle, store))
    assert touch.expires == NOW + seconds(60)


# -- touch_after ---------------------------------------------------------------


def test_touch_after_skips_the_expiry_write_of_a_recently_used_session() -> None:
    config = make_config(idle_timeout=HOUR, touch_after=600)
    store = stored(max_age=None, expires=NOW + seconds(HOUR - 300))
    cycle, _ = start(config, store)
    assert commit(cycle, store) == ()


def test_touch_after_writes_once_the_expiry_would_move_far_enough() -> None:
    config = make_config(idle_timeout=HOUR, touch_after=600)
    store = stored(max_age=None, expires=NOW + seconds(HOUR - 600))
    cycle, _ = start(config, store)
    assert commit(cycle, store) == (Touch("abc", NOW + seconds(HOUR)),)


def test_a_rolling_cookie_skipped_by_touch_after_carries_the_stored_expiry() -> None:
    config = make_config(
        rolling=True, cookie=CookieOptions(max_age=HOUR), touch_after=600
    )
    stored_expiry = NOW + seconds(HOUR - 120)
    store = stored(max_age=HOUR, expires=stored_expiry)
    cycle, _ = start(config, store)
    effects = commit(cycle, store)
    assert not of_type(Touch, effects)
    cookie = sent_cookie(effects)
    assert cookie.max_age == HOUR - 120
    assert parsedate_to_datetime(cookie.expires or "") == stored_expiry
    assert store.records["abc"].expires == stored_expiry


def test_touch_after_never_skips_a_data_change_or_an_explicit_touch() -> None:
    config = make_config(idle_timeout=HOUR, touch_after=600)
    store = stored(max_age=None, expires=NOW + seconds(HOUR - 1))
    cycle, session = start(config, store)
    session["cart"] = []
    assert of_type(Update, commit(cycle, store))

    cycle, session = start(config, store)
    session.touch()
    assert of_type(Touch, commit(cycle, store))


# -- store_outage ---------------------------------------------------------------


def open_during_outage(config: SessionConfig) -> tuple[SessionCycle, Session]:
    cycle = SessionCycle(config)
    lookup = cycle.receive_request(facts(COOKIE))
    assert isinstance(lookup, LoadSession)
    ready = cycle.load_failed(StoreError("the store is down"))
    return cycle, ready.session


def test_by_default_a_failed_load_fails_the_request() -> None:
    cycle = SessionCycle(make_config())
    cycle.receive_request(facts(COOKIE))
    with pytest.raises(StoreError, match="down"):
        cycle.load_failed(StoreError("the store is down"))
    assert cycle.state is CycleState.ERROR


def test_read_only_outage_serves_a_read_with_no_cookie_and_no_store_call() -> None:
    cycle, session = open_during_outage(make_config(store_outage="read_only"))
    assert session.is_available is False
    assert session.is_new
    assert dict(session) == {}
    assert cycle.begin_commit(NOW) is None
    assert cycle.end_commit() == ()
    cycle.finish()


def test_read_only_outage_sends_nothing_even_with_save_uninitialized() -> None:
    config = make_config(store_outage="read_only", save_uninitialized=True)
    cycle, _ = open_during_outage(config)
    assert cycle.begin_commit(NOW) is None
    assert cycle.end_commit() == ()


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.__setitem__("user", "ada"),
        lambda s: s.regenerate(),
        lambda s: s.destroy(),
        lambda s: s.touch(),
    ],
    ids=["data", "regenerate", "destroy", "touch"],
)
def test_read_only_outage_fails_a_write_loudly_at_commit(change: Any) -> None:
    cycle, session = open_during_outage(make_config(store_outage="read_only"))
    change(session)
    with pytest.raises(StoreError, match="could not be reached") as failure:
        cycle.begin_commit(NOW)
    assert isinstance(failure.value.__cause__, StoreError)
    assert cycle.state is CycleState.ERROR


def test_read_only_outage_refuses_an_explicit_save_or_reload() -> None:
    cycle, session = open_during_outage(make_config(store_outage="read_only"))
    session["user"] = "ada"
    with pytest.raises(StoreError):
        cycle.begin_save(NOW)
    with pytest.raises(StoreError):
        cycle.begin_reload()
    assert cycle.state is CycleState.ACTIVE


def test_read_only_outage_tolerates_a_failed_touch_and_withholds_its_cookie() -> None:
    config = make_config(store_outage="read_only", rolling=True)
    store = stored()
    cycle, _ = start(config, store)
    first = cycle.begin_commit(NOW)
    assert isinstance(first, Touch)
    assert cycle.receive_error(StoreError("the store is down")) is None
    headers = cycle.end_commit()
    assert not of_type(SetCookie, headers)
    assert of_type(ChangesDropped, headers)


def test_by_default_a_failed_touch_fails_the_request() -> None:
    config = make_config(rolling=True)
    store = stored()
    cycle, _ = start(config, store)
    cycle.begin_commit(NOW)
    with pytest.raises(StoreError):
        cycle.receive_error(StoreError("the store is down"))
    assert cycle.state is CycleState.ERROR


def test_read_only_outage_still_fails_a_failed_write() -> None:
    config = make_config(store_outage="read_only")
    store = stored()
    cycle, session = start(config, store)
    session["cart"] = []
    assert isinstance(cycle.begin_commit(NOW), Update)
    with pytest.raises(StoreError):
        cycle.receive_error(StoreError("the store is down"))
    assert cycle.state is CycleState.ERROR
