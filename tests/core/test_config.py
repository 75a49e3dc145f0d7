"""SessionConfig and CookieOptions: defaults, durations, and a ConfigError
naming the field for every invalid option, raised at construction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sessions import ConfigError, CookieOptions, SessionConfig
from sessions.config import MAX_LIFETIME
from sessions.cookies import parse_set_cookie
from sessions.ids import new_session_id


def config_error(**options: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        SessionConfig(**options)
    return caught.value


def cookie_error(**options: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        CookieOptions(**options)
    return caught.value


# -- defaults ------------------------------------------------------------------


def test_session_config_defaults_match_express_session() -> None:
    config = SessionConfig(secret="s")
    assert config.name == "sid"
    assert config.trust_proxy is False
    assert config.rolling is False
    assert config.resave is False
    assert config.save_uninitialized is False
    assert config.unset == "keep"
    assert config.idle_timeout == 86400
    assert config.genid is new_session_id
    assert config.cookie == CookieOptions()


def test_cookie_options_defaults_are_a_safe_browser_session_cookie() -> None:
    cookie = CookieOptions()
    assert cookie.path == "/"
    assert cookie.domain is None
    assert cookie.http_only is True
    assert cookie.secure == "auto"
    assert cookie.same_site == "lax"
    assert cookie.max_age is None
    assert cookie.partitioned is False
    assert cookie.priority is None


@pytest.mark.parametrize("field", ["name", "secret", "cookie"])
def test_config_is_frozen(field: str) -> None:
    config = SessionConfig(secret="s")
    with pytest.raises(AttributeError):
        setattr(config, field, "other")


# -- secrets -------------------------------------------------------------------


def test_one_secret_becomes_a_tuple_of_bytes() -> None:
    assert SessionConfig(secret="keyboard cat").secret == (b"keyboard cat",)


def test_a_list_of_secrets_keeps_its_order_newest_first() -> None:
    config = SessionConfig(secret=["new", b"old"])
    assert config.secret == (b"new", b"old")


def test_missing_secret_is_refused() -> None:
    assert config_error().field == "secret"


def test_empty_list_of_secrets_is_refused() -> None:
    assert config_error(secret=[]).field == "secret"


@pytest.mark.parametrize("secret", ["", b""])
def test_empty_secret_is_refused(secret: str | bytes) -> None:
    assert config_error(secret=secret).field == "secret[0]"


def test_empty_secret_inside_a_list_names_its_position() -> None:
    assert config_error(secret=["good", ""]).field == "secret[1]"


@pytest.mark.parametrize("secret", [42, {"a"}, [1]])
def test_secret_of_the_wrong_type_is_refused(secret: object) -> None:
    assert config_error(secret=secret).field.startswith("secret")


def test_text_secret_that_utf8_cannot_encode_is_refused() -> None:
    error = config_error(secret=["fine", "half a pair \ud800"])
    assert error.field == "secret[1]"
    assert "half a pair" not in str(error)


def test_error_message_never_quotes_the_secret() -> None:
    error = config_error(secret=["a-very-secret-value", ""])
    assert "a-very-secret-value" not in str(error)


# -- the cookie name -----------------------------------------------------------


def test_custom_cookie_name_is_kept() -> None:
    assert SessionConfig(secret="s", name="session_id").name == "session_id"


@pytest.mark.parametrize(
    "name",
    ["", "sid; Domain=evil.example", "a b", "a=b", "sid,x", "s\r\nid", "sïd", "(sid)"],
)
def test_cookie_name_that_is_not_a_token_is_refused(name: str) -> None:
    assert config_error(secret="s", name=name).field == "name"


def test_cookie_name_of_the_wrong_type_is_refused() -> None:
    assert config_error(secret="s", name=b"sid").field == "name"


# -- path and domain -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/app", "/a/b/", "/~user/x.y"])
def test_valid_cookie_paths_are_kept(path: str) -> None:
    assert CookieOptions(path=path).path == path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "app",
        "/app; HttpOnly=0",
        "/a,b",
        "/a\rb",
        "/a\nb",
        "/caf\u00e9",
        "/a b",
        "/a\x7f",
    ],
)
def test_cookie_path_with_separators_controls_or_non_ascii_is_refused(
    path: str,
) -> None:
    assert cookie_error(path=path).field == "cookie.path"


@pytest.mark.parametrize(
    "domain", ["example.com", ".example.com", "localhost", "a-b.c"]
)
def test_valid_cookie_domains_are_kept(domain: str) -> None:
    assert CookieOptions(domain=domain).domain == domain


@pytest.mark.parametrize(
    "domain",
    [
        "",
        "example.com;Secure",
        "example.com,evil",
        "example.com\r\n",
        "exa\nmple.com",
        "b\u00fccher.example",
        "example..com",
        "-example.com",
        "exa mple.com",
    ],
)
def test_cookie_domain_that_is_not_a_host_name_is_refused(domain: str) -> None:
    assert cookie_error(domain=domain).field == "cookie.domain"


# -- SameSite, Secure, Partitioned, Priority -----------------------------------


@pytest.mark.parametrize("same_site", ["strict", "lax", "auto", None])
def test_same_site_accepts_the_documented_values(same_site: Any) -> None:
    assert CookieOptions(same_site=same_site).same_site == same_site


def test_same_site_none_is_accepted_with_a_secure_cookie() -> None:
    assert CookieOptions(same_site="none", secure=True).same_site == "none"


@pytest.mark.parametrize("same_site", ["Lax", "LAX", "", "yes", True, 1])
def test_same_site_invalid_value_is_refused(same_site: Any) -> None:
    assert cookie_error(same_site=same_site).field == "cookie.same_site"


def test_same_site_none_without_secure_is_refused() -> None:
    assert cookie_error(same_site="none", secure=False).field == "cookie.same_site"


def test_partitioned_without_secure_is_refused() -> None:
    assert cookie_error(partitioned=True, secure=False).field == "cookie.partitioned"


@pytest.mark.parametrize("secure", ["yes", 1, None, "AUTO"])
def test_secure_must_be_a_bool_or_auto(secure: Any) -> None:
    assert cookie_error(secure=secure).field == "cookie.secure"


@pytest.mark.parametrize("priority", ["High", "urgent", 3])
def test_priority_invalid_value_is_refused(priority: Any) -> None:
    assert cookie_error(priority=priority).field == "cookie.priority"


@pytest.mark.parametrize(
    ("option", "field"),
    [("http_only", "cookie.http_only"), ("partitioned", "cookie.partitioned")],
)
def test_cookie_flags_must_be_bools(option: str, field: str) -> None:
    assert cookie_error(**{option: 1}).field == field


# -- durations -----------------------------------------------------------------


def test_max_age_accepts_seconds_or_a_timedelta() -> None:
    assert CookieOptions(max_age=60).max_age == 60
    assert CookieOptions(max_age=timedelta(days=30)).max_age == 30 * 86400


@pytest.mark.parametrize("max_age", [0, -1, timedelta(0), timedelta(seconds=-5)])
def test_max_age_zero_or_negative_is_refused(max_age: Any) -> None:
    error = cookie_error(max_age=max_age)
    assert error.field == "cookie.max_age"
    assert "None" in str(error), "the message points to None for a browser cookie"


@pytest.mark.parametrize("max_age", [True, False, 60.0, 1.5, "60"])
def test_max_age_that_is_not_whole_seconds_is_refused(max_age: Any) -> None:
    assert cookie_error(max_age=max_age).field == "cookie.max_age"


def test_max_age_timedelta_with_a_fraction_of_a_second_is_refused() -> None:
    error = cookie_error(max_age=timedelta(seconds=1, milliseconds=500))
    assert error.field == "cookie.max_age"


def test_idle_timeout_accepts_seconds_or_a_timedelta() -> None:
    assert SessionConfig(secret="s", idle_timeout=600).idle_timeout == 600
    as_delta = SessionConfig(secret="s", idle_timeout=timedelta(hours=2))
    assert as_delta.idle_timeout == 7200


@pytest.mark.parametrize("idle_timeout", [0, -10, True, 1.0, None])
def test_idle_timeout_that_is_not_a_positive_duration_is_refused(
    idle_timeout: Any,
) -> None:
    assert config_error(secret="s", idle_timeout=idle_timeout).field == "idle_timeout"


# -- the other session options -------------------------------------------------


@pytest.mark.parametrize("unset", ["delete", "", None, "KEEP"])
def test_unset_other_than_keep_or_destroy_is_refused(unset: Any) -> None:
    assert config_error(secret="s", unset=unset).field == "unset"


def test_unset_destroy_is_accepted() -> None:
    assert SessionConfig(secret="s", unset="destroy").unset == "destroy"


@pytest.mark.parametrize("genid", ["abc", None, 42])
def test_genid_that_is_not_callable_is_refused(genid: Any) -> None:
    assert config_error(secret="s", genid=genid).field == "genid"


@pytest.mark.parametrize(
    "option", ["trust_proxy", "rolling", "resave", "save_uninitialized"]
)
@pytest.mark.parametrize("value", [1, "yes", None])
def test_boolean_options_must_be_bools(option: str, value: object) -> None:
    assert config_error(secret="s", **{option: value}).field == option


def test_cookie_must_be_cookie_options() -> None:
    assert config_error(secret="s", cookie={"path": "/"}).field == "cookie"


# -- rendering the cookie ------------------------------------------------------


def render(cookie: CookieOptions, *, secure_request: bool) -> str:
    return cookie.render(
        "sid", "v", request_is_secure=secure_request, max_age=None, expires=None
    )


def test_secure_auto_follows_the_request() -> None:
    cookie = CookieOptions()
    assert parse_set_cookie(render(cookie, secure_request=True)).secure
    assert not parse_set_cookie(render(cookie, secure_request=False)).secure


@pytest.mark.parametrize("secure_request", [True, False])
def test_secure_true_and_false_ignore_the_request(secure_request: bool) -> None:
    always = CookieOptions(secure=True)
    never = CookieOptions(secure=False)
    assert parse_set_cookie(render(always, secure_request=secure_request)).secure
    assert not parse_set_cookie(render(never, secure_request=secure_request)).secure


@pytest.mark.parametrize(
    ("secure_request", "expected"), [(True, "None"), (False, "Lax")]
)
def test_same_site_auto_is_none_on_secure_requests_and_lax_otherwise(
    secure_request: bool, expected: str
) -> None:
    cookie = CookieOptions(same_site="auto")
    parsed = parse_set_cookie(render(cookie, secure_request=secure_request))
    assert parsed.same_site == expected


def test_same_site_none_with_secure_auto_falls_back_to_lax_on_plain_http() -> None:
    cookie = CookieOptions(same_site="none")
    assert parse_set_cookie(render(cookie, secure_request=False)).same_site == "Lax"
    assert parse_set_cookie(render(cookie, secure_request=True)).same_site == "None"


def test_same_site_none_option_omits_the_attribute() -> None:
    parsed = parse_set_cookie(
        render(CookieOptions(same_site=None), secure_request=True)
    )
    assert parsed.same_site is None
    assert "samesite" not in parsed.attributes


@pytest.mark.parametrize(
    ("priority", "expected"), [("low", "Low"), ("medium", "Medium"), ("high", "High")]
)
def test_priority_is_emitted_capitalised(priority: Any, expected: str) -> None:
    cookie = CookieOptions(priority=priority)
    assert parse_set_cookie(render(cookie, secure_request=False)).priority == expected


def test_partitioned_is_emitted_only_with_secure() -> None:
    cookie = CookieOptions(partitioned=True)
    assert parse_set_cookie(render(cookie, secure_request=True)).partitioned
    assert not parse_set_cookie(render(cookie, secure_request=False)).partitioned


def test_http_only_false_omits_the_flag() -> None:
    parsed = parse_set_cookie(
        render(CookieOptions(http_only=False), secure_request=False)
    )
    assert not parsed.http_only


# -- limits browsers impose ----------------------------------------------------


@pytest.mark.parametrize("max_age", [MAX_LIFETIME + 1, 10**12, timedelta(days=401)])
def test_a_cookie_lifetime_beyond_what_browsers_keep_is_refused(max_age: Any) -> None:
    assert cookie_error(max_age=max_age).field == "cookie.max_age"


def test_the_longest_lifetime_browsers_keep_is_accepted() -> None:
    assert CookieOptions(max_age=timedelta(days=400)).max_age == MAX_LIFETIME


def test_an_idle_timeout_beyond_400_days_is_refused() -> None:
    assert config_error(secret="s", idle_timeout=10**12).field == "idle_timeout"


@pytest.mark.parametrize("path", ["/a%20b", "/%2e%2e/admin"])
def test_a_cookie_path_with_percent_escapes_is_refused(path: str) -> None:
    # Servers hand over the request path decoded, so it could never match.
    assert cookie_error(path=path).field == "cookie.path"


@pytest.mark.parametrize(
    ("name", "cookie"),
    [
        ("__Secure-sid", CookieOptions()),
        ("__secure-sid", CookieOptions(secure="auto")),
        ("__Host-sid", CookieOptions()),
        ("__Host-sid", CookieOptions(secure=True, path="/app")),
        ("__HOST-sid", CookieOptions(secure=True, domain="example.com")),
    ],
)
def test_a_cookie_name_prefix_the_attributes_do_not_honour_is_refused(
    name: str, cookie: CookieOptions
) -> None:
    assert config_error(secret="s", name=name, cookie=cookie).field == "name"


@pytest.mark.parametrize("name", ["__Secure-sid", "__Host-sid"])
def test_a_cookie_name_prefix_with_the_attributes_it_needs_is_accepted(
    name: str,
) -> None:
    config = SessionConfig(secret="s", name=name, cookie=CookieOptions(secure=True))
    assert config.name == name
