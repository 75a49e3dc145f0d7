"""The strategies draw what they promise, judged by the library itself: drawn
configurations construct; valid cookie headers verify and make the request
cycle look the id up; tampered and hostile ones never verify, and the cycle
starts a new session; drawn data passes the JSON check and comes back from
a store unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from sessions import (
    ConfigError,
    CookieOptions,
    InvalidSessionIdError,
    LoadSession,
    MemoryStore,
    NoSession,
    RequestFacts,
    SessionConfig,
    SessionCycle,
    SessionReady,
    SessionRecord,
)
from sessions.config import MAX_LIFETIME
from sessions.cookies import cookie_values
from sessions.records import canonical_json, check_json_data
from sessions.signing import IdSigner
from sessions.testing import SequentialIds
from sessions.testing import strategies as sst

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)

configs_and = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
# For the properties run once per option: fewer examples each.
per_option = settings(configs_and, max_examples=40)


def decision(config: SessionConfig, header: str) -> object:
    """What the request cycle decides for a request carrying ``header``."""
    cycle = SessionCycle(config)
    return cycle.receive_request(RequestFacts(cookie_headers=(header,), now=NOW))


def verified(config: SessionConfig, header: str) -> list[str | None]:
    signer = IdSigner(config.secret)
    return [signer.unsign(value) for value in cookie_values([header], config.name)]


# -- configurations -----------------------------------------------------------------


@given(config=sst.session_configs())
def test_every_drawn_configuration_constructs(config: SessionConfig) -> None:
    # Built again from its own fields, it passes validation a second time.
    fields = attrs.asdict(config, recurse=False)
    cookie = CookieOptions(**attrs.asdict(config.cookie))

    assert SessionConfig(**{**fields, "cookie": cookie}) == config


@pytest.mark.parametrize(
    "wanted",
    [
        lambda c: c.cookie.secure is True,
        lambda c: c.cookie.secure is False,
        lambda c: c.cookie.secure == "auto",
        lambda c: c.cookie.same_site == "none",
        lambda c: c.cookie.same_site == "auto",
        lambda c: c.cookie.same_site is None,
        lambda c: c.cookie.max_age is None,
        lambda c: c.cookie.max_age is not None,
        lambda c: c.cookie.partitioned,
        lambda c: c.cookie.priority == "high",
        lambda c: c.cookie.domain is not None,
        lambda c: c.cookie.path != "/",
        lambda c: c.name.startswith("__Host-"),
        lambda c: c.name.startswith("__Secure-"),
        lambda c: len(c.secret) == 3,
        lambda c: c.rolling and c.resave and c.save_uninitialized and c.trust_proxy,
        lambda c: c.unset == "destroy",
        lambda c: c.store_outage == "read_only",
        lambda c: c.absolute_timeout is not None,
        lambda c: c.touch_after is not None,
    ],
)
def test_every_option_is_drawn(wanted: Any) -> None:
    # find() raises when no drawn configuration has the property.
    assert wanted(find(sst.session_configs(), wanted))


@given(
    config=sst.session_configs(
        name="__Host-id",
        rolling=True,
        idle_timeout=st.just(60),
        genid=st.builds(SequentialIds),
    )
)
def test_pinned_options_hold_and_the_rest_fit_them(config: SessionConfig) -> None:
    assert config.name == "__Host-id"
    assert config.cookie.secure is True  # what a __Host- name needs
    assert config.cookie.path == "/"
    assert config.rolling is True
    assert config.idle_timeout == 60
    assert config.touch_after is None or config.touch_after < 60
    assert isinstance(config.genid, SequentialIds)


@given(config=sst.session_configs(idle_timeout=timedelta(minutes=1)))
def test_a_pinned_duration_may_be_a_timedelta(config: SessionConfig) -> None:
    assert config.idle_timeout == 60
    assert config.touch_after is None or config.touch_after < 60


@given(cookie=sst.cookie_options(secure=False))
def test_a_cookie_that_cannot_be_secure_gets_no_option_needing_it(
    cookie: CookieOptions,
) -> None:
    assert cookie.same_site != "none"
    assert not cookie.partitioned


SESSION_OPTIONS = [field.name for field in attrs.fields(SessionConfig)]
COOKIE_OPTIONS = [field.name for field in attrs.fields(CookieOptions)]


@per_option
@pytest.mark.parametrize(
    ("strategy", "option"),
    [
        pytest.param(strategy, name, id=f"{strategy.__name__}-{name}")
        for strategy, names in [
            (sst.session_configs, SESSION_OPTIONS),
            (sst.cookie_options, COOKIE_OPTIONS),
        ]
        for name in names
    ],
)
@given(data=st.data())
def test_pinning_any_valid_value_draws_only_valid_options(
    strategy: Callable[..., st.SearchStrategy[Any]], option: str, data: st.DataObject
) -> None:
    # Values taken from one valid configuration always fit together, so
    # pinning any of them leaves a valid configuration to draw. Pinned:
    # ``option`` and a few others, each as is or as a strategy that draws it.
    source = data.draw(strategy(), label="source")
    options = [field.name for field in attrs.fields(type(source))]
    chosen = {option} | data.draw(st.sets(st.sampled_from(options), max_size=3))
    pinned = {
        name: st.just(getattr(source, name))
        if data.draw(st.booleans())
        else getattr(source, name)
        for name in sorted(chosen)
    }

    drawn = data.draw(strategy(**pinned), label="drawn")

    for name in pinned:
        assert getattr(drawn, name) == getattr(source, name), name


@configs_and
@given(data=st.data())
def test_a_pinned_cookie_options_strategy_gets_what_the_other_pins_need(
    data: st.DataObject,
) -> None:
    source = data.draw(sst.session_configs(), label="source")
    cookie_pins = data.draw(
        st.sets(st.sampled_from(COOKIE_OPTIONS), max_size=3), label="cookie pins"
    )
    cookie = sst.cookie_options(
        **{name: getattr(source.cookie, name) for name in cookie_pins}
    )

    config = data.draw(
        sst.session_configs(
            name=source.name, touch_after=source.touch_after, cookie=cookie
        ),
        label="config",
    )

    assert (config.name, config.touch_after) == (source.name, source.touch_after)
    for name in cookie_pins:
        assert getattr(config.cookie, name) == getattr(source.cookie, name), name


@per_option
@pytest.mark.parametrize(
    "strategy",
    [
        sst.session_configs(touch_after=3600),
        sst.session_configs(touch_after=timedelta(days=399)),
        sst.session_configs(touch_after=3600, idle_timeout=7200),
        sst.session_configs(name="__Host-id", cookie=sst.cookie_options()),
        sst.session_configs(name="__Secure-id", cookie=sst.cookie_options()),
        sst.session_configs(name="__Host-id", cookie=sst.cookie_options(path="/")),
        sst.session_configs(name="__Host-id", touch_after=60),
        sst.cookie_options(same_site="none"),
        sst.cookie_options(partitioned=True),
        sst.cookie_options(same_site="none", partitioned=True),
    ],
    ids=repr,
)
@given(data=st.data())
def test_the_options_left_free_fit_the_pinned_ones(
    strategy: st.SearchStrategy[object], data: st.DataObject
) -> None:
    drawn = data.draw(strategy)

    assert isinstance(drawn, (SessionConfig, CookieOptions))


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (
            lambda: sst.cookie_options(same_site="none", secure=False),
            "cookie.same_site",
        ),
        (
            lambda: sst.cookie_options(partitioned=True, secure=False),
            "cookie.partitioned",
        ),
        (lambda: sst.cookie_options(secure="yes"), "cookie.secure"),
        (lambda: sst.session_configs(name="__Host-id", cookie=CookieOptions()), "name"),
        (
            lambda: sst.session_configs(
                name="__Host-id", cookie=sst.cookie_options(path="/shop")
            ),
            "name",
        ),
        (
            lambda: sst.session_configs(
                name="__Secure-id", cookie=sst.cookie_options(secure="auto")
            ),
            "name",
        ),
        (lambda: sst.session_configs(touch_after=60, idle_timeout=60), "touch_after"),
        (
            lambda: sst.session_configs(
                touch_after=3600, cookie=sst.cookie_options(max_age=60)
            ),
            "touch_after",
        ),
        (lambda: sst.session_configs(touch_after=MAX_LIFETIME), "touch_after"),
        (lambda: sst.session_configs(idle_timeout=0), "idle_timeout"),
    ],
)
def test_pinned_values_the_configuration_refuses_fail_at_once(
    make: Callable[[], object], field: str
) -> None:
    with pytest.raises(ConfigError, match="pinned in") as caught:
        make()

    assert caught.value.field == field


@given(
    cookie=sst.cookie_options(
        secure=st.sampled_from([True, False, "auto"]), same_site="none"
    ),
    config=sst.session_configs(
        name="__Secure-id",
        cookie=st.sampled_from([CookieOptions(secure=True), CookieOptions()]),
    ),
)
def test_draws_of_pinned_strategies_that_do_not_fit_are_drawn_again(
    cookie: CookieOptions, config: SessionConfig
) -> None:
    assert cookie.secure is not False
    assert config.cookie.secure is True


def test_a_pinned_strategy_that_draws_a_refused_value_raises_its_error() -> None:
    @settings(database=None)
    @given(config=sst.session_configs(idle_timeout=st.just(0)))
    def draw(config: SessionConfig) -> None:
        pass

    with pytest.raises(ConfigError, match="idle_timeout"):
        draw()


def test_an_option_the_configuration_lacks_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="lifetime"):
        sst.session_configs(lifetime=3)
    with pytest.raises(TypeError, match="colour"):
        sst.cookie_options(colour="blue")


# -- cookie headers -----------------------------------------------------------------

# Configurations whose cookie covers "/", the path decision() requests.
CONFIGS_ON_ROOT = sst.session_configs(cookie=sst.cookie_options(path="/"))


@configs_and
@given(data=st.data())
def test_a_valid_header_verifies_and_is_looked_up(data: st.DataObject) -> None:
    config = data.draw(CONFIGS_ON_ROOT)
    drawn = data.draw(sst.valid_cookie_headers(config))

    assert drawn.kind == "valid"
    assert verified(config, drawn.header) == [drawn.session_id]
    lookup = decision(config, drawn.header)
    assert isinstance(lookup, LoadSession)
    assert lookup.session_id == drawn.session_id


@configs_and
@given(data=st.data())
def test_a_tampered_header_never_verifies(data: st.DataObject) -> None:
    config = data.draw(CONFIGS_ON_ROOT)
    drawn = data.draw(sst.tampered_cookie_headers(config))

    assert drawn.kind == "tampered"
    assert drawn.value != sst.signed_cookie_value(config, drawn.session_id or "")
    assert all(found is None for found in verified(config, drawn.header))
    assert isinstance(decision(config, drawn.header), SessionReady)


@configs_and
@given(data=st.data())
def test_a_hostile_header_never_verifies_and_fits_a_header(
    data: st.DataObject,
) -> None:
    config = data.draw(CONFIGS_ON_ROOT)
    drawn = data.draw(sst.hostile_cookie_headers(config))
    header = drawn.header

    assert drawn.kind == "hostile"
    assert 0 < len(header.encode("utf-8")) <= sst.DEFAULT_MAX_HEADER_SIZE
    assert header == header.strip(" \t")
    assert all(c == "\t" or " " <= c <= "~" or "\x80" <= c <= "\xff" for c in header)
    assert all(found is None for found in verified(config, header))
    assert isinstance(decision(config, header), SessionReady)


CONFIG = SessionConfig(secret="s")


@pytest.mark.parametrize(
    ("shape", "wanted"),
    [
        ("huge", lambda drawn: len(drawn.header) >= sst.HUGE),
        ("duplicates", lambda drawn: drawn.header.count("sid=") >= 100),
        ("non-ASCII", lambda drawn: not drawn.header.isascii()),
        ("quoting", lambda drawn: 'sid="' in drawn.header),
        ("separators", lambda drawn: ";;" in drawn.header),
        ("lookalikes", lambda drawn: IdSigner.looks_signed(drawn.header[4:])),
    ],
)
def test_every_hostile_shape_is_drawn(shape: str, wanted: Any) -> None:
    assert wanted(find(sst.hostile_cookie_headers(CONFIG), wanted)), shape


def test_a_hostile_header_stays_under_the_size_asked_for() -> None:
    huge = find(
        sst.hostile_cookie_headers(CONFIG, max_size=5000),
        lambda drawn: len(drawn.header) > 4900,
    )

    assert len(huge.header.encode("utf-8")) <= 5000
    with pytest.raises(ValueError, match="at least"):
        sst.hostile_cookie_headers(CONFIG, max_size=100)


@given(drawn=sst.tampered_cookie_headers(CONFIG, ids=st.just("victim")))
def test_tampering_starts_from_the_id_given(drawn: sst.CookieHeader) -> None:
    assert drawn.session_id == "victim"


def test_the_signed_value_is_the_applications_own() -> None:
    config = SessionConfig(secret=["new", "old"])

    assert sst.signed_cookie_value(config, "abc") == IdSigner(config.secret).sign("abc")
    older = sst.signed_cookie_value(config, "abc", secret_index=1)
    assert IdSigner([b"old"]).unsign(older) == "abc"
    assert IdSigner([b"new"]).unsign(older) is None
    with pytest.raises(InvalidSessionIdError):
        sst.signed_cookie_value(config, "not an id")


@given(session_id=sst.session_ids())
def test_drawn_ids_are_ids(session_id: str) -> None:
    assert sst.signed_cookie_value(CONFIG, session_id).startswith(session_id + ".")


# -- request facts ------------------------------------------------------------------


@configs_and
@given(data=st.data())
def test_the_cycle_takes_any_drawn_request_without_raising(
    data: st.DataObject,
) -> None:
    config = data.draw(sst.session_configs())
    facts = data.draw(sst.request_facts(config))

    assert facts.now.tzinfo is not None
    assert len(facts.cookie_headers) <= 3
    assert isinstance(
        SessionCycle(config).receive_request(facts),
        (NoSession, SessionReady, LoadSession),
    )


@given(facts=sst.request_facts(now=NOW))
def test_request_facts_without_a_configuration(facts: RequestFacts) -> None:
    assert facts.now == NOW
    assert facts.path.startswith("/")


def test_request_facts_reach_inside_and_outside_the_cookie_path() -> None:
    config = SessionConfig(secret="s", cookie=CookieOptions(path="/shop"))
    strategy = sst.request_facts(config)

    inside = find(strategy, lambda facts: facts.path.startswith("/shop/"))
    outside = find(strategy, lambda facts: not facts.path.startswith("/shop"))
    assert isinstance(SessionCycle(config).receive_request(outside), NoSession)
    assert not isinstance(SessionCycle(config).receive_request(inside), NoSession)


# -- session data -------------------------------------------------------------------


@given(data=sst.session_data())
def test_drawn_data_passes_the_json_check(data: dict[str, Any]) -> None:
    check_json_data(data)
    assert canonical_json(json.loads(json.dumps(data))) == canonical_json(data)


@given(data=sst.session_data())
def test_drawn_data_comes_back_from_a_store_unchanged(data: dict[str, Any]) -> None:
    store = MemoryStore()
    store.set(
        "id",
        SessionRecord(
            data=data, expires=NOW + timedelta(days=1), max_age=None, created=NOW
        ),
    )
    record = store.get("id")

    assert record is not None
    assert canonical_json(record.data) == canonical_json(data)


def test_data_reaches_every_json_type() -> None:
    def kinds(value: Any) -> set[type]:
        found = {type(value)}
        if isinstance(value, dict):
            for item in value.values():
                found |= kinds(item)
        elif isinstance(value, list):
            for item in value:
                found |= kinds(item)
        return found

    every = {dict, list, str, int, float, bool, type(None)}
    assert kinds(find(sst.session_data(), lambda d: every <= kinds(d))) >= every
