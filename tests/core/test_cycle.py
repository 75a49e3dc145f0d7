"""The request cycle's decisions, one request at a time, with a fixed clock:
which session a request gets, and what the store and the client get at
commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from sessions import (
    ClearCookie,
    CookieOptions,
    CookieWithheld,
    CycleState,
    Destroy,
    InvalidSessionIdError,
    LoadSession,
    NoSession,
    Save,
    SerializationError,
    Session,
    SessionCommittedError,
    SessionConfig,
    SessionCycle,
    SessionNotFoundError,
    SessionReady,
    SetCookie,
    StoreError,
    Touch,
    Update,
    UsageError,
)
from sessions.cookies import SetCookie as ParsedCookie
from sessions.cycle import (
    MAX_CANDIDATES,
    MAX_COOKIE_VALUES,
    ChangesDropped,
    StoreOperation,
    forwarded_secure,
    path_matches,
    request_path,
)
from sessions.signing import IdSigner

from .support import (
    NOW,
    DictStore,
    commit,
    facts,
    headers_of,
    make_config,
    make_record,
    of_type,
    open_session,
    run_operations,
    seconds,
    sent_cookie,
    sign,
    state_of,
)

COOKIE = f"sid={sign('abc')}"
PERSISTENT = CookieOptions(max_age=60)
# The lookup a request with COOKIE starts with: read abc, and restart a
# browser-session cookie's idle timeout (one day by default) on the way.
LOOKUP = LoadSession("abc", renew_to=NOW + seconds(24 * 3600))


def stored_abc(**record: Any) -> DictStore:
    """A store holding session ``abc`` for ``{"user": "ada"}``."""
    return DictStore({"abc": make_record({"user": "ada"}, **record)})


def start(
    config: SessionConfig, store: DictStore, *cookies: str, **request: Any
) -> tuple[SessionCycle, Session]:
    cycle = SessionCycle(config)
    session = open_session(cycle, store, facts(*cookies, **request))
    assert session is not None
    return cycle, session


def expiry_of(cookie: ParsedCookie) -> datetime:
    assert cookie.expires is not None
    return parsedate_to_datetime(cookie.expires)


def id_in(cookie: ParsedCookie, config: SessionConfig) -> str | None:
    return IdSigner(config.secret).unsign(cookie.value)


# -- path ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_path", "cookie_path", "expected"),
    [
        ("/foo/bar", "/foo/bar", True),
        ("/foo/bar/baz", "/foo/bar", True),
        ("/foo/bar/", "/foo/bar", True),
        ("/foo/barbaz", "/foo/bar", False),
        ("/", "/foo/bar", False),
        ("/foo", "/foo/bar", False),
        ("/foo/x", "/foo/", True),
        ("/foo", "/foo/", False),
        ("/anything/at/all", "/", True),
    ],
)
def test_path_match_follows_rfc_6265(
    request_path: str, cookie_path: str, expected: bool
) -> None:
    assert path_matches(request_path, cookie_path) is expected


def test_a_request_outside_the_cookie_path_gets_no_session_at_all() -> None:
    config = make_config(cookie=CookieOptions(path="/foo/bar"))
    store = stored_abc()
    cycle = SessionCycle(config)

    assert cycle.receive_request(facts(COOKIE, path="/foo/barbaz")) == NoSession()
    assert cycle.begin_commit(NOW) is None
    assert cycle.end_commit() == ()
    cycle.finish()

    assert store.lookups == []
    assert cycle.session is None
    assert cycle.state is CycleState.CLOSED


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("/shop/cart", "/shop/cart"),
        ("*", "/"),
        ("", "/"),
        ("x", "/"),
        ("http://example.com/shop/cart?x=1", "/shop/cart"),
        ("http://example.com", "/"),
    ],
)
def test_a_request_target_that_is_not_a_path_counts_as_its_path_or_root(
    target: str, path: str
) -> None:
    assert request_path(target) == path


@pytest.mark.parametrize("target", ["*", "http://example.com/"])
def test_odd_request_targets_still_get_a_session_under_the_root_path(
    target: str,
) -> None:
    cycle = SessionCycle(make_config())
    assert cycle.receive_request(facts(COOKIE, path=target)) == LOOKUP


@pytest.mark.parametrize("path", ["/foo/bar", "/foo/bar/baz"])
def test_a_request_inside_the_cookie_path_loads_its_session(path: str) -> None:
    config = make_config(cookie=CookieOptions(path="/foo/bar"))
    cycle = SessionCycle(config)
    assert cycle.receive_request(facts(COOKIE, path=path)) == LOOKUP


# -- is the request secure? ----------------------------------------------------


@pytest.mark.parametrize(
    "forwarded",
    [
        ("https",),
        ("https,http",),
        ("https, http",),
        ("HTTPS",),
        (" https ",),
        ("https", "http"),
    ],
)
def test_trusted_forwarded_proto_https_makes_the_request_secure(
    forwarded: tuple[str, ...],
) -> None:
    assert forwarded_secure(forwarded)
    cycle, _ = start(
        make_config(trust_proxy=True), DictStore(), forwarded_proto=forwarded
    )
    assert cycle.request_is_secure


@pytest.mark.parametrize(
    "forwarded",
    [
        (),
        ("http",),
        ("http,https",),
        ("http", "https"),
        ("ftp",),
        ("httpsx",),
        ("", "https"),
        (", https",),
        ("https\xa0",),
        ("\xa0https",),
        ("https\x85",),
        ("https\x0b",),
    ],
)
def test_forwarded_proto_not_starting_with_https_is_not_secure(
    forwarded: tuple[str, ...],
) -> None:
    assert not forwarded_secure(forwarded)
    cycle, _ = start(
        make_config(trust_proxy=True), DictStore(), forwarded_proto=forwarded
    )
    assert not cycle.request_is_secure


def test_forwarded_proto_is_ignored_unless_the_proxy_is_trusted() -> None:
    cycle, _ = start(make_config(), DictStore(), forwarded_proto=("https",))
    assert not cycle.request_is_secure


def test_tls_is_secure_whatever_a_proxy_says() -> None:
    config = make_config(trust_proxy=True)
    cycle, _ = start(config, DictStore(), is_tls=True, forwarded_proto=("http",))
    assert cycle.request_is_secure


@pytest.mark.parametrize("is_tls", [True, False])
def test_secure_auto_marks_the_cookie_secure_exactly_on_secure_requests(
    is_tls: bool,
) -> None:
    store = DictStore()
    cycle, session = start(make_config(), store, is_tls=is_tls)
    session["user"] = "ada"
    assert sent_cookie(commit(cycle, store)).secure is is_tls


# -- which session a request gets ----------------------------------------------


def test_a_request_without_a_cookie_gets_a_new_session_without_a_lookup() -> None:
    store = stored_abc()
    cycle = SessionCycle(make_config())
    decision = cycle.receive_request(facts("theme=dark"))
    assert isinstance(decision, SessionReady)
    assert decision.session.is_new
    assert decision.session == {}
    assert store.lookups == []
    assert cycle.state is CycleState.ACTIVE


def flipped(value: str) -> str:
    return value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]


@pytest.mark.parametrize(
    "header",
    [
        "sid=abc",
        "sid=",
        "sid=.",
        f"sid={sign('abc')}.",
        f"sid={sign('abc')[:-1]}",
        f"sid={flipped(sign('abc'))}",
        f"sid={sign('abc', secret='another secret')}",
        "sid=%FF%FE.%00",
        "sid=\u00ff\u00fe.abc",
    ],
)
def test_an_unverifiable_cookie_is_absent_and_never_looked_up(header: str) -> None:
    store = stored_abc()
    _, session = start(make_config(), store, header)
    assert store.lookups == []
    assert session.is_new
    assert session.id != "abc"


def test_a_stored_id_loads_its_data() -> None:
    store = stored_abc()
    cycle = SessionCycle(make_config())
    assert cycle.receive_request(facts(COOKIE)) == LOOKUP
    assert cycle.state is CycleState.LOADING
    ready = cycle.receive_record("abc", store.get("abc"))
    assert isinstance(ready, SessionReady)
    assert ready.session.id == "abc"
    assert ready.session == {"user": "ada"}
    assert not ready.session.is_new


def test_an_unknown_signed_id_is_never_adopted() -> None:
    config = make_config()
    store = DictStore()
    cycle, session = start(config, store, COOKIE)
    assert session.id != "abc"
    assert session.is_new

    session["user"] = "ada"
    effects = commit(cycle, store)

    (save,) = of_type(Save, effects)
    assert save.session_id == session.id
    assert id_in(sent_cookie(effects), config) == session.id
    assert "abc" not in store.records


def test_an_expired_record_counts_as_missing() -> None:
    store = stored_abc(expires=NOW)
    _, session = start(make_config(), store, COOKIE)
    assert session.is_new
    assert session.id != "abc"
    assert session == {}


def test_duplicate_cookies_are_tried_in_header_order_until_one_is_stored() -> None:
    store = DictStore({"new": make_record({"v": "new"})})
    cookie = f"sid={sign('old')}; sid={sign('new')}"
    _, session = start(make_config(), store, cookie)
    assert store.lookups == ["old", "new"]
    assert session.id == "new"


def test_when_several_duplicates_are_stored_the_first_in_header_order_wins() -> None:
    store = DictStore({"old": make_record({"v": "old"}), "new": make_record()})
    _, session = start(make_config(), store, f"sid={sign('old')}; sid={sign('new')}")
    assert store.lookups == ["old"]
    assert session == {"v": "old"}


def test_unverified_duplicates_are_skipped_and_repeated_ids_looked_up_once() -> None:
    store = stored_abc()
    cookie = f"sid=garbage; sid={sign('abc')}; sid={sign('abc')}"
    _, session = start(make_config(), store, "sid=x.y", cookie)
    assert store.lookups == ["abc"]
    assert session.id == "abc"


def test_candidates_follow_the_order_of_the_cookie_fields() -> None:
    store = DictStore()
    start(make_config(), store, f"sid={sign('first')}", f"a=1; sid={sign('second')}")
    assert store.lookups == ["first", "second"]


def test_at_most_max_candidates_ids_are_looked_up() -> None:
    ids = [f"id{number}" for number in range(MAX_CANDIDATES + 3)]
    store = DictStore({ids[-1]: make_record()})
    cookie = "; ".join(f"sid={sign(session_id)}" for session_id in ids)
    _, session = start(make_config(), store, cookie)
    assert store.lookups == ids[:MAX_CANDIDATES]
    assert session.is_new
    assert session.id not in ids


def test_only_the_first_values_of_the_cookie_are_checked_at_all() -> None:
    forged = "; ".join(f"sid=forged{n}.{'A' * 43}" for n in range(MAX_COOKIE_VALUES))
    store = stored_abc()
    cycle = SessionCycle(make_config())
    # A valid value behind as many forged ones as are checked is not reached.
    decision = cycle.receive_request(facts(f"{forged}; {COOKIE}"))
    assert isinstance(decision, SessionReady)
    assert decision.session.is_new

    cycle = SessionCycle(make_config())
    fewer = forged.rsplit(";", 1)[0]
    assert cycle.receive_request(facts(f"{fewer}; {COOKIE}")) == LOOKUP
    assert store.lookups == []


def test_an_old_secret_still_loads_and_the_new_one_signs_the_reply() -> None:
    config = make_config(secret=["new secret", "old secret"], cookie=PERSISTENT)
    store = stored_abc()
    cycle, session = start(config, store, f"sid={sign('abc', secret='old secret')}")
    assert session.id == "abc"

    session["visits"] = 1
    cookie = sent_cookie(commit(cycle, store))

    assert cookie.value == sign("abc", secret="new secret")
    assert (cookie.path, cookie.max_age, cookie.http_only) == ("/", 60, True)


@pytest.mark.parametrize("bad_id", ["", 42, None, "a;b", "a b", "x" * 257])
def test_a_genid_result_that_cannot_be_an_id_raises_where_it_is_used(
    bad_id: object,
) -> None:
    config = make_config(genid=lambda: bad_id)
    cycle = SessionCycle(config)
    with pytest.raises(InvalidSessionIdError):
        cycle.receive_request(facts())
    assert cycle.state is CycleState.ERROR


def test_genid_is_not_called_for_a_stored_session() -> None:
    calls: list[int] = []

    def genid() -> str:
        calls.append(1)
        return "generated"

    _, session = start(make_config(genid=genid), stored_abc(), COOKIE)
    assert session.id == "abc"
    assert calls == []


def test_a_custom_genid_names_new_sessions() -> None:
    _, session = start(make_config(genid=lambda: "custom-id"), DictStore())
    assert session.id == "custom-id"


# -- misuse while loading ------------------------------------------------------


def test_receive_record_for_an_id_not_asked_for_is_a_usage_error() -> None:
    cycle = SessionCycle(make_config())
    cycle.receive_request(facts(COOKIE))
    with pytest.raises(UsageError):
        cycle.receive_record("other", make_record())
    assert cycle.state is CycleState.ERROR


@pytest.mark.parametrize("cookies", [(), (COOKIE,)])
@pytest.mark.parametrize("record", [None, make_record()])
def test_receive_record_without_a_pending_lookup_is_a_usage_error(
    cookies: tuple[str, ...], record: Any
) -> None:
    cycle = SessionCycle(make_config())
    if cookies:
        open_session(cycle, stored_abc(), facts(*cookies))
    with pytest.raises(UsageError):
        cycle.receive_record("abc", record)
    assert cycle.state is CycleState.ERROR


def test_receive_record_before_the_request_is_a_usage_error() -> None:
    cycle = SessionCycle(make_config())
    with pytest.raises(UsageError):
        cycle.receive_record("abc", None)
    assert cycle.state is CycleState.ERROR


def test_a_naive_now_is_a_usage_error() -> None:
    cycle = SessionCycle(make_config())
    with pytest.raises(UsageError, match="timezone-aware"):
        cycle.receive_request(facts(now=datetime(2030, 1, 1)))
    assert cycle.state is CycleState.ERROR


def test_a_second_request_on_one_cycle_is_a_usage_error() -> None:
    cycle, _ = start(make_config(), DictStore())
    with pytest.raises(UsageError):
        cycle.receive_request(facts())
    assert cycle.state is CycleState.ERROR


# -- new sessions at commit ----------------------------------------------------


@pytest.mark.parametrize("rolling", [False, True])
def test_an_untouched_new_session_sends_nothing_and_stores_nothing(
    rolling: bool,
) -> None:
    store = DictStore()
    cycle, session = start(make_config(rolling=rolling), store)
    _ = session.get("user")
    assert commit(cycle, store) == ()
    assert store.records == {}


def test_save_uninitialized_stores_an_untouched_new_session_and_sends_its_cookie() -> (
    None
):
    store = DictStore()
    cycle, session = start(make_config(save_uninitialized=True), store)
    effects = commit(cycle, store)
    assert [type(effect) for effect in effects] == [Save, SetCookie]
    assert store.records[session.id].data == {}


def test_a_new_session_with_data_is_saved_before_its_cookie_is_sent() -> None:
    config = make_config(cookie=PERSISTENT)
    store = DictStore()
    cycle, session = start(config, store)
    session["user"] = "ada"

    effects = commit(cycle, store)

    assert [type(effect) for effect in effects] == [Save, SetCookie]
    (save,) = of_type(Save, effects)
    assert save.record.data == {"user": "ada"}
    assert save.record.expires == NOW + seconds(60)
    assert save.record.max_age == 60
    assert save.record.created == NOW
    cookie = sent_cookie(effects)
    assert id_in(cookie, config) == session.id
    assert cookie.max_age == 60
    assert expiry_of(cookie) == NOW + seconds(60)


def test_browser_session_cookie_has_no_expiry_and_the_store_uses_idle_timeout() -> None:
    store = DictStore()
    cycle, session = start(make_config(idle_timeout=600), store)
    session["user"] = "ada"
    effects = commit(cycle, store)

    cookie = sent_cookie(effects)
    assert cookie.max_age is None
    assert cookie.expires is None
    (save,) = of_type(Save, effects)
    assert save.record.expires == NOW + seconds(600)
    assert save.record.max_age is None


def test_the_cookie_is_rendered_with_every_configured_attribute() -> None:
    cookie_options = CookieOptions(
        domain="example.com",
        path="/app",
        same_site="strict",
        priority="high",
        partitioned=True,
        max_age=60,
    )
    config = make_config(name="session_id", cookie=cookie_options)
    store = DictStore()
    cycle, session = start(config, store, path="/app/x", is_tls=True)
    session["user"] = "ada"
    (header,) = headers_of(commit(cycle, store))
    assert header == (
        f"session_id={sign(session.id)}; Domain=example.com; Path=/app; "
        "Max-Age=60; Expires=Tue, 01 Jan 2030 12:01:00 GMT; HttpOnly; Secure; "
        "SameSite=Strict; Priority=High; Partitioned"
    )


# -- stored sessions at commit -------------------------------------------------


def test_a_read_only_request_with_a_persistent_cookie_sends_and_stores_nothing() -> (
    None
):
    store = stored_abc()
    cycle, session = start(make_config(cookie=PERSISTENT), store, COOKIE)
    assert session["user"] == "ada"
    assert commit(cycle, store) == ()


def test_a_read_only_browser_session_only_restarts_its_idle_timeout() -> None:
    store = stored_abc(max_age=None, expires=NOW + seconds(100))
    cycle, _ = start(make_config(idle_timeout=600), store, COOKIE)
    assert commit(cycle, store) == (Touch("abc", NOW + seconds(600)),)


def test_resave_writes_an_unchanged_session_but_sends_no_cookie() -> None:
    store = stored_abc(version=7)
    cycle, _ = start(make_config(resave=True, cookie=PERSISTENT), store, COOKIE)
    effects = commit(cycle, store)
    assert [type(effect) for effect in effects] == [Update]
    # A loaded session is written only if the store still holds what it read.
    (update,) = of_type(Update, effects)
    assert (update.session_id, update.expected_version) == ("abc", 7)
    assert update.record.version == 8
    assert store.records["abc"] == update.record


def test_rolling_resends_the_cookie_and_moves_the_stored_expiry_with_it() -> None:
    store = stored_abc(expires=NOW + seconds(30))
    cycle, _ = start(make_config(rolling=True, cookie=PERSISTENT), store, COOKIE)
    later = NOW + seconds(10)
    effects = commit(cycle, store, later)

    cookie = sent_cookie(effects)
    assert cookie.max_age == 60
    assert expiry_of(cookie) == later + seconds(60)
    assert of_type(Touch, effects) == [Touch("abc", later + seconds(60))]
    assert of_type(Save, effects) == []
    assert of_type(Update, effects) == []


def test_rolling_browser_cookie_gets_no_expiry_but_the_store_is_refreshed() -> None:
    store = stored_abc(max_age=None, expires=NOW + seconds(5))
    cycle, _ = start(make_config(rolling=True, idle_timeout=600), store, COOKIE)
    effects = commit(cycle, store)
    cookie = sent_cookie(effects)
    assert (cookie.max_age, cookie.expires) == (None, None)
    assert of_type(Touch, effects) == [Touch("abc", NOW + seconds(600))]


def test_a_change_is_saved_and_resent_with_one_expiry_for_cookie_and_store() -> None:
    store = stored_abc(expires=NOW + seconds(30))
    cycle, session = start(make_config(cookie=PERSISTENT), store, COOKIE)
    session["cart"] = [1]
    later = NOW + seconds(5)
    effects = commit(cycle, store, later)

    assert [type(effect) for effect in effects] == [Update, SetCookie]
    (update,) = of_type(Update, effects)
    assert update.expected_version == 1
    assert update.record.data == {"user": "ada", "cart": [1]}
    assert (
        update.record.expires == expiry_of(sent_cookie(effects)) == later + seconds(60)
    )


def test_a_nested_in_place_change_is_saved() -> None:
    store = DictStore({"abc": make_record({"cart": [1]})})
    cycle, session = start(make_config(), store, COOKIE)
    session["cart"].append(2)
    commit(cycle, store)
    assert store.records["abc"].data == {"cart": [1, 2]}


def test_a_browser_session_cookie_is_sent_once_when_the_session_is_created() -> None:
    config = make_config()
    store = DictStore()
    cycle, session = start(config, store)
    session["visits"] = 1
    first = commit(cycle, store)
    assert len(headers_of(first)) == 1

    cycle, session = start(config, store, f"sid={sign(session.id)}")
    session["visits"] = 2
    second = commit(cycle, store)
    assert headers_of(second) == []
    assert [type(effect) for effect in second] == [Update]
    assert of_type(Update, second)[0].expected_version == 1


def test_modify_modify_read_modify_sends_three_cookies_and_three_writes() -> None:
    config = make_config(cookie=PERSISTENT)
    store = DictStore()
    cookie = ""
    cookies_sent: list[bool] = []
    writes: list[Save | Update] = []
    for step, changes in enumerate([True, True, False, True]):
        cycle, session = start(config, store, *([cookie] if cookie else []))
        if changes:
            session["step"] = step
        effects = commit(cycle, store, NOW + seconds(step))
        cookies_sent.append(bool(headers_of(effects)))
        writes += [e for e in effects if isinstance(e, (Save, Update))]
        cookie = f"sid={sign(session.id)}"
    assert cookies_sent == [True, True, False, True]
    # Created once, then each change is conditional on the version before it.
    assert [type(write) for write in writes] == [Save, Update, Update]
    assert [write.record.version for write in writes] == [1, 2, 3]
    assert [update.expected_version for update in of_type(Update, writes)] == [1, 2]
    assert len(store.records) == 1


def test_touch_moves_the_expiry_to_now_plus_the_original_max_age() -> None:
    store = stored_abc(expires=NOW + seconds(30), max_age=60)
    cycle, session = start(make_config(cookie=PERSISTENT), store, COOKIE)
    session.touch()
    later = NOW + seconds(10)
    effects = commit(cycle, store, later)
    assert expiry_of(sent_cookie(effects)) == later + seconds(60)
    assert of_type(Touch, effects) == [Touch("abc", later + seconds(60))]


def test_a_new_cookie_max_age_changes_this_response_and_sticks() -> None:
    config = make_config(cookie=PERSISTENT)
    store = stored_abc()
    cycle, session = start(config, store, COOKIE)
    session.cookie.max_age = 5000
    effects = commit(cycle, store)

    cookie = sent_cookie(effects)
    assert cookie.max_age == 5000
    (update,) = of_type(Update, effects)
    assert update.expected_version == 1
    assert update.record.max_age == 5000
    assert update.record.expires == expiry_of(cookie) == NOW + seconds(5000)

    later = NOW + seconds(100)
    cycle, session = start(config, store, COOKIE, now=later)
    assert session.cookie.original_max_age == 5000
    session["more"] = 1
    assert sent_cookie(commit(cycle, store, later)).max_age == 5000


def test_cookie_expires_none_makes_a_browser_session_cookie_from_then_on() -> None:
    config = make_config(cookie=PERSISTENT, idle_timeout=600)
    store = stored_abc()
    cycle, session = start(config, store, COOKIE)
    session.cookie.expires = None
    effects = commit(cycle, store)

    cookie = sent_cookie(effects)
    assert (cookie.max_age, cookie.expires) == (None, None)
    (update,) = of_type(Update, effects)
    assert update.expected_version == 1
    assert update.record.max_age is None
    assert update.record.expires == NOW + seconds(600)

    cycle, session = start(config, store, COOKIE)
    assert session.cookie.expires is None


@pytest.mark.parametrize(
    "end", ["expires in the past", "max_age zero", "max_age negative"]
)
def test_an_expiry_moved_into_the_past_ends_the_session_like_destroy(end: str) -> None:
    store = stored_abc()
    cycle, session = start(make_config(cookie=PERSISTENT), store, COOKIE)
    if end == "expires in the past":
        session.cookie.expires = NOW - seconds(1)
    else:
        session.cookie.max_age = 0 if end == "max_age zero" else -5
    effects = commit(cycle, store)

    assert [type(effect) for effect in effects] == [Destroy, ClearCookie]
    assert of_type(Destroy, effects) == [Destroy("abc")]
    assert sent_cookie(effects).max_age == 0
    assert store.records == {}
    cycle.finish()


# -- destroy, regenerate, detach -----------------------------------------------


def test_destroy_deletes_the_record_and_sends_one_deletion_cookie_mirroring_it() -> (
    None
):
    cookie_options = CookieOptions(
        domain="example.com", path="/app", secure=True, same_site="none", max_age=60
    )
    config = make_config(cookie=cookie_options)
    store = stored_abc()
    cycle, session = start(config, store, COOKIE, path="/app", is_tls=True)
    session.destroy()
    effects = commit(cycle, store)

    assert effects == (
        Destroy("abc"),
        ClearCookie(
            "sid=; Domain=example.com; Path=/app; Max-Age=0; "
            "Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=None"
        ),
    )
    assert store.records == {}


def test_data_written_after_destroy_is_saved_under_a_new_id() -> None:
    config = make_config()
    store = stored_abc()
    cycle, session = start(config, store, COOKIE)
    session.destroy()
    session["fresh"] = True
    effects = commit(cycle, store)

    assert [type(effect) for effect in effects] == [Save, Destroy, SetCookie]
    assert of_type(Destroy, effects) == [Destroy("abc")]
    assert id_in(sent_cookie(effects), config) == session.id != "abc"
    assert store.records[session.id].data == {"fresh": True}


def test_destroying_a_session_the_client_never_held_sends_nothing() -> None:
    store = DictStore()
    cycle, session = start(make_config(), store)
    session.destroy()
    assert commit(cycle, store) == ()


def test_regenerate_saves_the_new_id_before_destroying_the_old_one() -> None:
    config = make_config()
    store = stored_abc()
    cycle, session = start(config, store, COOKIE)
    session.regenerate()
    session["user"] = "grace"
    effects = commit(cycle, store)

    assert [type(effect) for effect in effects] == [Save, Destroy, SetCookie]
    assert effects[1] == Destroy("abc")
    assert id_in(sent_cookie(effects), config) == session.id
    assert set(store.records) == {session.id}
    assert store.records[session.id].data == {"user": "grace"}


def test_regenerate_keeping_data_saves_it_under_the_new_id_even_unchanged() -> None:
    store = stored_abc()
    cycle, session = start(make_config(), store, COOKIE)
    session.regenerate(keep_data=True)
    commit(cycle, store)
    assert set(store.records) == {session.id}
    assert store.records[session.id].data == {"user": "ada"}


def test_regenerating_a_new_session_saves_it_with_nothing_to_destroy() -> None:
    store = DictStore()
    cycle, session = start(make_config(), store)
    session.regenerate()
    effects = commit(cycle, store)
    assert [type(effect) for effect in effects] == [Save, SetCookie]


def test_detach_with_unset_keep_leaves_store_and_cookie_as_they_were() -> None:
    store = stored_abc()
    cycle, session = start(make_config(cookie=PERSISTENT, rolling=True), store, COOKIE)
    session["user"] = "mallory"
    session.detach()
    assert commit(cycle, store) == ()
    assert store.records["abc"].data == {"user": "ada"}
    cycle.finish()


def test_detach_with_unset_keep_also_drops_a_regenerate_of_the_request() -> None:
    store = stored_abc()
    cycle, session = start(make_config(), store, COOKIE)
    session.regenerate()
    session.detach()
    assert commit(cycle, store) == ()
    assert store.records["abc"].data == {"user": "ada"}


def test_detach_with_unset_destroy_deletes_the_record_and_clears_the_cookie() -> None:
    store = stored_abc()
    cycle, session = start(make_config(unset="destroy"), store, COOKIE)
    session.detach()
    effects = commit(cycle, store)
    assert [type(effect) for effect in effects] == [Destroy, ClearCookie]
    assert store.records == {}


# -- Secure cookies on plain requests ------------------------------------------


def test_secure_cookie_on_plain_request_is_withheld_and_nothing_stored() -> None:
    store = DictStore()
    cycle, session = start(make_config(cookie=CookieOptions(secure=True)), store)
    session["user"] = "ada"
    effects = commit(cycle, store)
    assert [type(effect) for effect in effects] == [CookieWithheld]
    assert store.records == {}
    cycle.finish()


def test_an_explicit_save_of_a_session_whose_cookie_cannot_be_sent_stores_nothing() -> (
    None
):
    store = DictStore()
    cycle, session = start(make_config(cookie=CookieOptions(secure=True)), store)
    session["user"] = "ada"
    assert cycle.begin_save(NOW) is None
    assert cycle.state is CycleState.ACTIVE
    assert [type(effect) for effect in commit(cycle, store)] == [CookieWithheld]
    assert store.records == {}


def test_a_secure_cookie_is_sent_on_a_tls_request() -> None:
    store = DictStore()
    config = make_config(cookie=CookieOptions(secure=True))
    cycle, session = start(config, store, is_tls=True)
    session["user"] = "ada"
    effects = commit(cycle, store)
    assert sent_cookie(effects).secure
    assert session.id in store.records


def test_a_secure_cookie_is_not_cleared_over_a_plain_request() -> None:
    store = stored_abc()
    cycle, session = start(
        make_config(cookie=CookieOptions(secure=True)), store, COOKIE
    )
    session.destroy()
    effects = commit(cycle, store)
    assert [type(effect) for effect in effects] == [Destroy, CookieWithheld]


# -- explicit save and reload --------------------------------------------------


def explicit_save(
    cycle: SessionCycle, store: DictStore, now: datetime = NOW
) -> Save | Update:
    """Run an explicit save as an adapter does; return its first write."""
    write = cycle.begin_save(now)
    assert write is not None
    run_operations(cycle, store, write)
    cycle.end_save()
    return write


def outage() -> StoreError:
    return StoreError("the store is unreachable")


def test_an_explicit_save_with_no_later_change_is_the_only_save_of_the_request() -> (
    None
):
    store = DictStore()
    cycle, session = start(make_config(), store)
    session["user"] = "ada"
    save = explicit_save(cycle, store)
    assert isinstance(save, Save), "a new id is created, not updated"
    assert save.record.data == {"user": "ada"}
    assert save.record.version == 1
    assert not session.is_new

    effects = commit(cycle, store)
    assert of_type(Save, effects) == []
    assert of_type(Update, effects) == []
    assert len(headers_of(effects)) == 1, "the client does not hold the id yet"


def test_an_explicit_save_then_another_change_saves_everything_again() -> None:
    store = DictStore()
    cycle, session = start(make_config(), store)
    session["a"] = 1
    explicit_save(cycle, store)
    session["b"] = 2
    effects = commit(cycle, store)
    assert of_type(Save, effects) == []
    (update,) = of_type(Update, effects)
    assert update.record.data == {"a": 1, "b": 2}
    assert (update.expected_version, update.record.version) == (1, 2)


def test_after_an_explicit_save_the_store_expiry_follows_the_cookie_sent_later() -> (
    None
):
    store = DictStore()
    cycle, session = start(make_config(cookie=PERSISTENT), store)
    session["user"] = "ada"
    explicit_save(cycle, store, NOW)
    later = NOW + seconds(30)
    effects = commit(cycle, store, later)

    assert expiry_of(sent_cookie(effects)) == later + seconds(60)
    assert store.records[session.id].expires == later + seconds(60)
    assert of_type(Save, effects) == []
    assert of_type(Update, effects) == []


def test_an_explicit_save_of_a_loaded_session_is_conditional_on_its_version() -> None:
    store = stored_abc(version=4)
    cycle, session = start(make_config(), store, COOKIE)
    session["cart"] = [1]
    update = explicit_save(cycle, store)
    assert update == Update("abc", update.record, 4)
    assert update.record.version == 5
    assert store.records["abc"] == update.record

    # The next write of the request names the version the save produced.
    session["cart"].append(2)
    (update,) = of_type(Update, commit(cycle, store))
    assert (update.expected_version, update.record.version) == (5, 6)


def test_a_failed_explicit_save_leaves_the_save_to_the_commit() -> None:
    store = DictStore()
    cycle, session = start(make_config(), store)
    session["user"] = "ada"
    save = cycle.begin_save(NOW)
    assert isinstance(save, Save)
    error = outage()
    with pytest.raises(StoreError) as caught:
        cycle.receive_error(error)
    assert caught.value is error
    assert cycle.state is CycleState.ACTIVE
    assert session.is_new
    assert store.records == {}
    assert len(of_type(Save, commit(cycle, store))) == 1
    assert store.records[session.id].data == {"user": "ada"}


def test_a_failed_late_save_returns_to_the_committed_state() -> None:
    store = stored_abc()
    cycle, session = start(make_config(), store, COOKIE)
    commit(cycle, store)
    session["late"] = True
    assert isinstance(cycle.begin_save(NOW), Update)
    assert cycle.state is CycleState.LATE_SAVING
    error = outage()
    with pytest.raises(StoreError) as caught:
        cycle.receive_error(error)
    assert caught.value is error
    assert state_of(cycle) is CycleState.COMMITTED
    assert store.records["abc"].data == {"user": "ada"}
    # The change is still unsaved, and finishing says so.
    with pytest.raises(SessionCommittedError):
        cycle.finish()


def test_end_save_before_the_save_ran_is_a_usage_error() -> None:
    store = DictStore()
    cycle, session = start(make_config(), store)
    session["user"] = "ada"
    assert cycle.begin_save(NOW) is not None
    with pytest.raises(UsageError):
        cycle.end_save()
    assert cycle.state is CycleState.ERROR
    assert store.records == {}


def test_an_explicit_save_of_data_json_cannot_carry_leaves_the_request_usable() -> None:
    store = DictStore()
    cycle, session = start(make_config(), store)
    session["tags"] = {"a"}
    with pytest.raises(SerializationError):
        cycle.begin_save(NOW)
    assert cycle.state is CycleState.ACTIVE

    session["tags"] = ["a"]
    commit(cycle, store)
    assert store.records[session.id].data == {"tags": ["a"]}


def test_reload_replaces_the_data_with_what_the_store_holds_now() -> None:
    store = stored_abc()
    cycle, session = start(make_config(), store, COOKIE)
    session["scratch"] = True
    store.records["abc"] = make_record({"user": "grace"})

    assert cycle.begin_reload() == LoadSession("abc")
    cycle.end_reload(store.get("abc"))

    assert session == {"user": "grace"}
    assert commit(cycle, store) == ()


def test_a_write_after_reload_is_conditional_on_the_version_reloaded() -> None:
    store = stored_abc()
    cycle, session = start(make_config(), store, COOKIE)
    store.records["abc"] = make_record({"user": "grace"}, version=3)
    assert cycle.begin_reload() == LoadSession("abc")
    cycle.end_reload(store.get("abc"))
    session["visits"] = 1
    (update,) = of_type(Update, commit(cycle, store))
    assert update.expected_version == 3
    assert store.records["abc"].data == {"user": "grace", "visits": 1}


@pytest.mark.parametrize("record", [None, make_record(expires=NOW)])
def test_reload_of_a_session_the_store_lost_raises_and_keeps_the_data(
    record: Any,
) -> None:
    store = stored_abc()
    cycle, session = start(make_config(), store, COOKIE)
    cycle.begin_reload()
    with pytest.raises(SessionNotFoundError):
        cycle.end_reload(record)
    assert session == {"user": "ada"}
    assert cycle.state is CycleState.ACTIVE


def test_a_failed_reload_returns_to_the_handler_unchanged() -> None:
    store = stored_abc()
    cycle, session = start(make_config(), store, COOKIE)
    session["scratch"] = True
    cycle.begin_reload()
    error = outage()
    with pytest.raises(StoreError) as caught:
        cycle.receive_error(error)
    assert caught.value is error
    assert cycle.state is CycleState.ACTIVE
    assert session == {"user": "ada", "scratch": True}
    # The request goes on as if the reload had not been asked for.
    (update,) = of_type(Update, commit(cycle, store))
    assert update.record.data == {"user": "ada", "scratch": True}


def change_id_or_lifetime(session: Session, call: str) -> None:
    if call == "regenerate":
        session.regenerate(keep_data=True)
    elif call == "destroy":
        session.destroy()
    else:
        session.cookie.max_age = 10


@pytest.mark.parametrize("call", ["regenerate", "destroy", "max_age"])
@pytest.mark.parametrize("running", ["save", "reload"])
def test_id_and_lifetime_changes_wait_for_a_running_save_or_reload(
    running: str, call: str
) -> None:
    store = stored_abc()
    cycle, session = start(make_config(), store, COOKIE)
    if running == "save":
        update = cycle.begin_save(NOW)
        assert isinstance(update, Update)
        assert update.expected_version == 1
    else:
        assert cycle.begin_reload() == LoadSession("abc")

    with pytest.raises(UsageError, match="still running"):
        change_id_or_lifetime(session, call)
    assert session.id == "abc"

    # A failure ends the running operation as surely as success does.
    with pytest.raises(StoreError):
        cycle.receive_error(outage())
    assert cycle.state is CycleState.ACTIVE
    session.regenerate(keep_data=True)
    assert session.id != "abc"


def test_a_session_saved_explicitly_is_never_counted_stored_under_another_id() -> None:
    store = DictStore()
    cycle, session = start(make_config(), store)
    save = cycle.begin_save(NOW)
    assert isinstance(save, Save)
    with pytest.raises(UsageError):
        session.regenerate()
    assert run_operations(cycle, store, save) == [save]
    cycle.end_save()
    commit(cycle, store)
    assert session.id == save.session_id
    assert session.id in store.records


# -- after the response started ------------------------------------------------


def test_a_change_after_commit_that_is_never_saved_makes_finish_raise() -> None:
    store = stored_abc()
    cycle, session = start(make_config(), store, COOKIE)
    commit(cycle, store)
    session["late"] = True
    with pytest.raises(SessionCommittedError):
        cycle.finish()


def test_a_change_after_commit_that_is_saved_is_persisted() -> None:
    store = stored_abc()
    cycle, session = start(make_config(), store, COOKIE)
    commit(cycle, store)
    session["late"] = True
    update = explicit_save(cycle, store)
    assert isinstance(update, Update)
    assert update.expected_version == 1
    cycle.finish()
    assert store.records["abc"].data == {"user": "ada", "late": True}
    assert cycle.state is CycleState.CLOSED


def test_a_late_save_of_a_session_whose_cookie_was_never_sent_is_refused() -> None:
    store = DictStore()
    cycle, session = start(make_config(), store)
    commit(cycle, store)
    session["late"] = True
    with pytest.raises(SessionCommittedError):
        cycle.begin_save(NOW)
    assert cycle.state is CycleState.ERROR
    assert store.records == {}


def test_an_unchanged_session_finishes_quietly() -> None:
    store = stored_abc()
    cycle, _ = start(make_config(), store, COOKIE)
    commit(cycle, store)
    cycle.finish()
    assert cycle.state is CycleState.CLOSED


def test_lifecycle_calls_while_the_commit_runs_are_refused() -> None:
    store = DictStore({"abc": make_record({})})
    cycle, session = start(make_config(resave=True), store, COOKIE)
    update = cycle.begin_commit(NOW)
    assert isinstance(update, Update)
    with pytest.raises(SessionCommittedError):
        session.regenerate()
    assert run_operations(cycle, store, update) == [update]
    assert cycle.end_commit() == ()
    cycle.finish()
    assert session.id == "abc"


# -- the commit's conversation with the store ----------------------------------


def test_the_commit_hands_out_one_store_operation_per_answer_in_order() -> None:
    config = make_config()
    store = stored_abc()
    cycle, session = start(config, store, COOKIE)
    session.regenerate(keep_data=True)

    save = cycle.begin_commit(NOW)
    assert isinstance(save, Save)
    assert save.session_id == session.id != "abc"
    assert save.record.version == 1
    assert cycle.state is CycleState.COMMITTING
    assert cycle.receive_result(store.answer(save)) == Destroy("abc")
    assert cycle.receive_result(store.answer(Destroy("abc"))) is None
    (header,) = cycle.end_commit()
    assert isinstance(header, SetCookie)
    assert state_of(cycle) is CycleState.COMMITTED
    assert set(store.records) == {session.id}


def test_end_commit_before_the_store_operations_ran_is_a_usage_error() -> None:
    store = DictStore()
    cycle, session = start(make_config(), store)
    session["user"] = "ada"
    assert isinstance(cycle.begin_commit(NOW), Save)
    with pytest.raises(UsageError):
        cycle.end_commit()
    assert cycle.state is CycleState.ERROR


@pytest.mark.parametrize("answer", [None, True, False])
def test_an_answer_when_no_operation_is_waiting_is_a_usage_error(
    answer: bool | None,
) -> None:
    store = stored_abc()
    cycle, session = start(make_config(), store, COOKIE)
    session["cart"] = [1]
    update = cycle.begin_commit(NOW)
    assert isinstance(update, Update)
    assert cycle.receive_result(store.answer(update)) is None
    with pytest.raises(UsageError):
        cycle.receive_result(answer)
    assert cycle.state is CycleState.ERROR


@pytest.mark.parametrize("when", ["active", "committed"])
def test_an_answer_or_error_outside_a_save_or_commit_is_a_usage_error(
    when: str,
) -> None:
    reports: list[Callable[[SessionCycle], object]] = [
        lambda c: c.receive_result(None),
        lambda c: c.receive_error(outage()),
    ]
    for report in reports:
        store = stored_abc()
        cycle, _ = start(make_config(), store, COOKIE)
        if when == "committed":
            commit(cycle, store)
        with pytest.raises(UsageError):
            report(cycle)
        assert cycle.state is CycleState.ERROR


@pytest.mark.parametrize("failing", [Save, Destroy])
def test_a_store_error_during_the_commit_is_reraised_and_sends_no_cookie(
    failing: type[StoreOperation],
) -> None:
    store = stored_abc()
    cycle, session = start(make_config(), store, COOKIE)
    session.regenerate()
    session["user"] = "grace"
    operation = cycle.begin_commit(NOW)
    while not isinstance(operation, failing):
        assert operation is not None
        operation = cycle.receive_result(store.answer(operation))

    error = outage()
    with pytest.raises(StoreError) as caught:
        cycle.receive_error(error)
    assert caught.value is error
    assert cycle.state is CycleState.ERROR
    with pytest.raises(UsageError):
        cycle.end_commit()
    cycle.finish()
    assert cycle.state is CycleState.ERROR


def test_a_failed_touch_fails_the_commit_by_default() -> None:
    store = stored_abc(max_age=None)
    cycle, _ = start(make_config(), store, COOKIE)
    touch = cycle.begin_commit(NOW)
    assert isinstance(touch, Touch)
    with pytest.raises(StoreError):
        cycle.receive_error(outage())
    assert cycle.state is CycleState.ERROR


def test_read_only_tolerates_a_failed_touch_and_withholds_the_renewed_cookie() -> None:
    store = stored_abc(max_age=None)
    config = make_config(rolling=True, store_outage="read_only")
    cycle, _ = start(config, store, COOKIE)
    touch = cycle.begin_commit(NOW)
    assert isinstance(touch, Touch)
    assert cycle.receive_error(outage()) is None
    (notice,) = cycle.end_commit()
    assert isinstance(notice, ChangesDropped)
    assert cycle.state is CycleState.COMMITTED
    assert store.records["abc"] == make_record({"user": "ada"}, max_age=None)


# -- the store failing while loading ---------------------------------------------


def test_a_store_error_while_loading_is_reraised_by_default() -> None:
    cycle = SessionCycle(make_config())
    assert cycle.receive_request(facts(COOKIE)) == LOOKUP
    error = outage()
    with pytest.raises(StoreError) as caught:
        cycle.load_failed(error)
    assert caught.value is error
    assert cycle.state is CycleState.ERROR
    assert cycle.session is None


def stand_in(store: DictStore, **options: Any) -> tuple[SessionCycle, Session]:
    """A cycle whose lookup of ``abc`` failed, under ``read_only``."""
    cycle = SessionCycle(make_config(store_outage="read_only", **options))
    lookup = cycle.receive_request(facts(COOKIE))
    assert isinstance(lookup, LoadSession)
    assert lookup.session_id == "abc"
    ready = cycle.load_failed(outage())
    assert cycle.state is CycleState.ACTIVE
    return cycle, ready.session


def test_read_only_goes_on_with_a_stand_in_that_writes_and_sends_nothing() -> None:
    store = stored_abc()
    cycle, session = stand_in(store, rolling=True, save_uninitialized=True)
    assert not session.is_available
    assert session.is_new
    assert session.id != "abc"
    assert session == {}

    # No cookie that would replace the client's, no record for the stand-in.
    assert commit(cycle, store) == ()
    cycle.finish()
    assert store.records == {"abc": make_record({"user": "ada"})}


@pytest.mark.parametrize("change", ["data", "regenerate", "touch", "destroy"])
def test_a_changed_stand_in_fails_the_commit(change: str) -> None:
    store = stored_abc()
    cycle, session = stand_in(store)
    if change == "data":
        session["user"] = "mallory"
    else:
        getattr(session, change)()
    with pytest.raises(StoreError):
        cycle.begin_commit(NOW)
    assert cycle.state is CycleState.ERROR
    assert store.records == {"abc": make_record({"user": "ada"})}


def test_a_stand_in_cannot_be_saved_or_reloaded() -> None:
    store = stored_abc()
    cycle, session = stand_in(store)
    session["user"] = "mallory"
    with pytest.raises(StoreError):
        cycle.begin_save(NOW)
    assert cycle.state is CycleState.ACTIVE
    with pytest.raises(StoreError):
        cycle.begin_reload()
    assert cycle.state is CycleState.ACTIVE


# -- misuse during a reload, and changes made while a write is in flight -------


def test_receive_result_during_a_reload_is_a_usage_error() -> None:
    store = stored_abc()
    cycle, _ = start(make_config(), store, COOKIE)
    lookup = cycle.begin_reload()
    with pytest.raises(UsageError):
        cycle.receive_result(store.answer(lookup))
    assert cycle.state is CycleState.ERROR


@pytest.mark.parametrize("call", ["save", "reload"])
def test_saving_or_reloading_a_stand_in_during_the_commit_is_a_usage_error(
    call: str,
) -> None:
    store = stored_abc()
    cycle, _ = stand_in(store)
    assert cycle.begin_commit(NOW) is None
    begin: Callable[[], object] = (
        (lambda: cycle.begin_save(NOW)) if call == "save" else cycle.begin_reload
    )
    with pytest.raises(UsageError):
        begin()
    assert cycle.state is CycleState.ERROR


@pytest.mark.parametrize("during", ["save", "commit"])
def test_a_change_made_while_a_write_is_in_flight_survives_its_replay(
    during: str,
) -> None:
    store = stored_abc()
    cycle, session = start(make_config(), store, COOKIE)
    session["cart"] = [1]
    # Another request writes first, so this request's write is replayed.
    store.records["abc"] = make_record({"user": "ada", "theme": "dark"}, version=2)
    first = cycle.begin_save(NOW) if during == "save" else cycle.begin_commit(NOW)
    session["late"] = True  # changed while the write is in flight
    ran = run_operations(cycle, store, first)
    assert [type(operation) for operation in ran] == [Update, LoadSession, Update]

    if during == "save":
        cycle.end_save()
        commit(cycle, store)
        cycle.finish()
        assert store.records["abc"].data["late"] is True
    else:
        cycle.end_commit()
        # Changed after the response started and never saved: not silently.
        with pytest.raises(SessionCommittedError):
            cycle.finish()


# -- errors --------------------------------------------------------------------


def test_data_json_cannot_carry_fails_the_commit_naming_the_key() -> None:
    store = DictStore()
    cycle, session = start(make_config(), store)
    session["cart"] = [{"added": {1, 2}}]
    with pytest.raises(SerializationError) as caught:
        cycle.begin_commit(NOW)
    assert caught.value.path == "cart[0].added"
    assert cycle.state is CycleState.ERROR
    assert store.records == {}


def test_fail_makes_every_later_call_a_usage_error_except_finish() -> None:
    cycle, _ = start(make_config(), DictStore())
    cycle.fail()
    for call in (
        lambda: cycle.begin_commit(NOW),
        lambda: cycle.begin_save(NOW),
        cycle.end_save,
        cycle.begin_reload,
        lambda: cycle.end_reload(None),
        cycle.end_commit,
        lambda: cycle.receive_request(facts()),
        lambda: cycle.receive_result(None),
        lambda: cycle.receive_error(outage()),
        lambda: cycle.load_failed(outage()),
    ):
        with pytest.raises(UsageError):
            call()
        assert cycle.state is CycleState.ERROR
    cycle.finish()
    assert cycle.state is CycleState.ERROR


def test_committing_twice_is_a_usage_error() -> None:
    store = DictStore()
    cycle, _ = start(make_config(), store)
    commit(cycle, store)
    with pytest.raises(UsageError, match="commit begins"):
        cycle.begin_commit(NOW)
    assert cycle.state is CycleState.ERROR


def test_a_cycle_can_be_finished_before_it_loaded_anything() -> None:
    cycle = SessionCycle(make_config())
    cycle.finish()
    assert cycle.state is CycleState.CLOSED
