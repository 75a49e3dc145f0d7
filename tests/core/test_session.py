"""The Session a handler sees: a real dict whose changes are found by
comparing JSON snapshots, plus lifecycle intents and the cookie lifetime."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from sessions import (
    InvalidSessionIdError,
    Session,
    SessionCommittedError,
    SessionCycle,
)

from .support import (
    NOW,
    DictStore,
    commit,
    facts,
    make_config,
    make_record,
    open_session,
    seconds,
    sign,
)


def counting_ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"id-{next(counter)}"


def new_session(max_age: int | None = 60) -> Session:
    return Session(session_id="fresh", now=NOW, genid=counting_ids(), max_age=max_age)


def loaded_session(
    data: dict[str, Any] | None = None,
    *,
    expires: datetime = NOW + timedelta(seconds=30),
    max_age: int | None = 60,
) -> Session:
    record = make_record(
        {"user": "ada", "cart": [1]} if data is None else data,
        expires=expires,
        max_age=max_age,
    )
    return Session(session_id="stored", now=NOW, genid=counting_ids(), record=record)


# -- a real dict ---------------------------------------------------------------


def test_session_works_wherever_a_dict_does() -> None:
    session = loaded_session()
    assert isinstance(session, dict)
    assert json.loads(json.dumps(session)) == {"user": "ada", "cart": [1]}
    assert dict(session) == {"user": "ada", "cart": [1]}
    assert session | {"extra": True} == {"user": "ada", "cart": [1], "extra": True}
    session |= {"theme": "dark"}
    assert session["theme"] == "dark"
    assert repr(session) == "Session({'user': 'ada', 'cart': [1], 'theme': 'dark'})"


def test_stored_keys_named_like_the_api_never_shadow_it() -> None:
    session = loaded_session({"cookie": {"max_age": 1}, "id": "x", "destroy": True})
    assert session.id == "stored"
    assert session.cookie.max_age == 30
    assert session["cookie"] == {"max_age": 1}
    assert callable(session.destroy)


# -- change detection ----------------------------------------------------------


def test_reading_is_not_a_change() -> None:
    session = loaded_session()
    _ = session["user"], session.get("missing"), list(session.items()), len(session)
    _ = session.cookie.max_age, session.is_new, session.id
    assert not session.is_modified


def test_writing_back_the_same_values_is_not_a_change() -> None:
    session = loaded_session()
    session["user"] = "ada"
    session["cart"] = [1]
    session.update(user="ada")
    assert not session.is_modified


MUTATIONS: dict[str, Callable[[Session], object]] = {
    "setitem": lambda s: s.__setitem__("user", "grace"),
    "new key": lambda s: s.__setitem__("theme", "dark"),
    "delitem": lambda s: s.__delitem__("user"),
    "pop": lambda s: s.pop("user"),
    "popitem": lambda s: s.popitem(),
    "update": lambda s: s.update({"user": "grace"}),
    "setdefault": lambda s: s.setdefault("theme", "dark"),
    "clear": lambda s: s.clear(),
    "ior": lambda s: s.__ior__({"theme": "dark"}),
    "nested append": lambda s: s["cart"].append(2),
    "nested replace": lambda s: s["cart"].__setitem__(0, 9),
}


@pytest.mark.parametrize("mutate", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_every_mutator_counts_as_a_change(mutate: Callable[[Session], object]) -> None:
    session = loaded_session()
    mutate(session)
    assert session.is_modified


def test_a_change_undone_is_no_change() -> None:
    session = loaded_session()
    session["cart"].append(2)
    session["cart"].pop()
    assert not session.is_modified


def test_a_value_json_cannot_carry_counts_as_a_change() -> None:
    session = loaded_session()
    session["tags"] = {"a"}
    assert session.is_modified


def test_key_order_alone_is_not_a_change() -> None:
    session = loaded_session({"a": 1, "b": 2})
    del session["a"]
    session["a"] = 1
    assert not session.is_modified


# -- new and loaded sessions ---------------------------------------------------


def test_a_new_session_is_empty_new_and_created_now() -> None:
    session = new_session()
    assert session == {}
    assert session.is_new
    assert session.id == "fresh"
    assert session.created == NOW
    assert session.cookie.max_age == 60
    assert session.cookie.expires == NOW + seconds(60)


def test_a_new_browser_session_has_no_cookie_expiry() -> None:
    session = new_session(max_age=None)
    assert session.cookie.max_age is None
    assert session.cookie.expires is None
    assert session.cookie.original_max_age is None


def test_a_loaded_session_is_not_new_and_keeps_its_creation_time() -> None:
    session = loaded_session()
    assert not session.is_new
    assert session.created == NOW - timedelta(hours=1)


def test_cookie_max_age_reads_the_remaining_time_not_the_configured_one() -> None:
    session = loaded_session(expires=NOW + seconds(30), max_age=60)
    assert session.cookie.max_age == 30
    assert session.cookie.original_max_age == 60
    assert session.cookie.expires == NOW + seconds(30)


def test_a_loaded_browser_session_ignores_the_stored_idle_expiry() -> None:
    session = loaded_session(expires=NOW + seconds(86400), max_age=None)
    assert session.cookie.max_age is None
    assert session.cookie.expires is None


# -- changing the cookie lifetime ----------------------------------------------


def test_assigning_max_age_gives_a_new_lifetime_from_now() -> None:
    session = loaded_session()
    session.cookie.max_age = 5000
    assert session.cookie.max_age == 5000
    assert session.cookie.original_max_age == 5000
    assert session.cookie.expires == NOW + seconds(5000)


def test_max_age_accepts_a_timedelta() -> None:
    session = loaded_session()
    session.cookie.max_age = timedelta(minutes=2)
    assert session.cookie.original_max_age == 120


def test_max_age_none_makes_a_browser_session_cookie() -> None:
    session = loaded_session()
    session.cookie.max_age = None
    assert session.cookie.expires is None
    assert session.cookie.original_max_age is None


@pytest.mark.parametrize("value", [True, 1.5, "60"])
def test_max_age_of_the_wrong_type_is_refused(value: Any) -> None:
    session = loaded_session()
    with pytest.raises(TypeError):
        session.cookie.max_age = value


def test_assigning_expires_sets_the_matching_max_age() -> None:
    session = loaded_session()
    session.cookie.expires = NOW + seconds(90)
    assert session.cookie.max_age == 90
    assert session.cookie.original_max_age == 90


@pytest.mark.parametrize("ahead", [0.001, 0.4, 0.6, 1.0])
def test_an_expires_less_than_a_second_ahead_keeps_a_lifetime_of_a_second(
    ahead: float,
) -> None:
    session = loaded_session()
    session.cookie.expires = NOW + seconds(ahead)
    assert session.cookie.original_max_age == 1


def test_expires_must_be_timezone_aware() -> None:
    session = loaded_session()
    with pytest.raises(ValueError, match="timezone-aware"):
        session.cookie.expires = datetime(2030, 1, 1)


def test_expires_in_another_zone_is_the_same_instant() -> None:
    session = loaded_session()
    tokyo = timezone(timedelta(hours=9))
    session.cookie.expires = (NOW + seconds(120)).astimezone(tokyo)
    assert session.cookie.max_age == 120


def test_cookie_repr_shows_the_lifetime() -> None:
    assert repr(new_session().cookie) == (
        f"SessionCookie(max_age=60, expires={NOW + seconds(60)!r})"
    )


# -- lifecycle intents ---------------------------------------------------------


def test_regenerate_moves_to_a_new_id_and_clears_the_data() -> None:
    session = loaded_session()
    session.regenerate()
    assert session.id == "id-1"
    assert session == {}
    assert session.is_new
    assert session.created == NOW


def test_regenerate_can_keep_the_data() -> None:
    session = loaded_session()
    session.regenerate(keep_data=True)
    assert session.id == "id-1"
    assert session == {"user": "ada", "cart": [1]}


def test_destroy_leaves_an_empty_new_session_under_a_new_id() -> None:
    session = loaded_session()
    session.destroy()
    assert session.id == "id-1"
    assert session == {}
    assert session.is_new


def test_destroy_restores_the_configured_lifetime() -> None:
    session = Session(
        session_id="s",
        now=NOW,
        genid=counting_ids(),
        record=make_record(max_age=5000, expires=NOW + seconds(5000)),
        max_age=60,
    )
    session.destroy()
    assert session.cookie.original_max_age == 60


@pytest.mark.parametrize("bad_id", ["", "a;b", "caf\u00e9", 42, None])
def test_regenerate_with_a_genid_that_returns_no_usable_id_raises(bad_id: Any) -> None:
    session = Session(
        session_id="s", now=NOW, genid=lambda: bad_id, record=make_record()
    )
    with pytest.raises(InvalidSessionIdError):
        session.regenerate()
    with pytest.raises(InvalidSessionIdError):
        session.destroy()


LIFECYCLE: dict[str, Callable[[Session], object]] = {
    "regenerate": lambda s: s.regenerate(),
    "destroy": lambda s: s.destroy(),
    "touch": lambda s: s.touch(),
    "detach": lambda s: s.detach(),
    "max_age": lambda s: setattr(s.cookie, "max_age", 10),
    "expires": lambda s: setattr(s.cookie, "expires", None),
}


def committed_session() -> Session:
    """A loaded session whose request has already started its response."""
    store = DictStore({"stored": make_record({"user": "ada", "cart": [1]})})
    cycle = SessionCycle(make_config())
    session = open_session(cycle, store, facts(f"sid={sign('stored')}"))
    assert session is not None
    commit(cycle, store)
    return session


@pytest.mark.parametrize("call", LIFECYCLE.values(), ids=LIFECYCLE.keys())
def test_lifecycle_changes_after_the_response_started_are_refused(
    call: Callable[[Session], object],
) -> None:
    session = committed_session()
    with pytest.raises(SessionCommittedError):
        call(session)
    assert session.id == "stored"
    assert session == {"user": "ada", "cart": [1]}


@pytest.mark.parametrize("value", [400 * 86400 + 1, timedelta(days=500), 10**12])
def test_a_cookie_lifetime_beyond_400_days_is_refused(value: int | timedelta) -> None:
    session = new_session()
    with pytest.raises(ValueError, match="400 days"):
        session.cookie.max_age = value
    assert session.cookie.max_age == 60


def test_an_expiry_beyond_400_days_is_refused() -> None:
    session = new_session()
    with pytest.raises(ValueError, match="400 days"):
        session.cookie.expires = NOW + timedelta(days=401)


@pytest.mark.parametrize("value", [5, "2030-01-01", 1.5])
def test_an_expiry_that_is_not_a_datetime_is_a_type_error(value: Any) -> None:
    session = new_session()
    with pytest.raises(TypeError):
        session.cookie.expires = value
