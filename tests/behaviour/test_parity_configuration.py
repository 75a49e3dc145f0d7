"""Express parity, configuration (lines 1-7).

A configuration is checked when it is built, before any adapter sees it, so
each refusal is tested once, without a server. What an accepted value puts on
the wire is tested through every adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from sessions import ConfigError, CookieOptions, InvalidSessionIdError, SessionConfig
from sessions.signing import IdSigner
from tests.behaviour.harness import SECRET, MakeServer, session_config

HTTPS = {"X-Forwarded-Proto": "https"}


# -- 1. the secret -------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({}, "secret"),
        ({"secret": None}, "secret"),
        ({"secret": []}, "secret"),
        ({"secret": ()}, "secret"),
        ({"secret": ""}, "secret[0]"),
        ({"secret": b""}, "secret[0]"),
        ({"secret": ["current", ""]}, "secret[1]"),
    ],
    ids=[
        "missing",
        "None",
        "empty list",
        "empty tuple",
        "empty str",
        "empty bytes",
        "empty second",
    ],
)
def test_p1_missing_or_empty_secret_is_a_config_error_naming_the_field(
    options: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        SessionConfig(**options)

    assert caught.value.field == field


@pytest.mark.parametrize("secret", [b"bytes secret", ["the only secret"]])
def test_p1_a_secret_in_any_accepted_form_serves_sessions(
    make_server: MakeServer, secret: bytes | list[str]
) -> None:
    server = make_server(config=session_config(secret=secret))
    client = server.client()

    created = client.get("/?set=user:ada")
    again = client.get("/")

    assert again.session_id == created.session_id
    assert again.data == {"user": "ada"}


# -- 2. a list of secrets ------------------------------------------------------

ROTATION = ["newest secret", "middle secret", "oldest secret"]


def test_p2_every_secret_in_the_list_verifies_and_the_first_signs(
    make_server: MakeServer,
) -> None:
    server = make_server(config=session_config(secret=ROTATION))
    newest = IdSigner([ROTATION[0].encode()])
    server.store.seed("abc", {"user": "ada"})

    for number, secret in enumerate(ROTATION):
        cookie = f"sid={server.sign('abc', secret=secret)}"
        reply = server.client().get(f"/?set=n:{number}", cookie=cookie)

        assert reply.session_id == "abc", secret
        sent = reply.session_cookie
        assert sent is not None
        assert newest.unsign(sent.value) == "abc", secret
        assert sent.value == server.sign("abc")
    assert server.store.ids("get") == ["abc"] * len(ROTATION)


def test_p2_cookie_signed_by_a_retired_secret_is_absent(
    make_server: MakeServer,
) -> None:
    server = make_server(config=session_config(secret=["new secret"]))
    server.store.seed("abc", {"user": "ada"})
    old_cookie = f"sid={server.sign('abc', secret='old secret')}"

    reply = server.client().get("/", cookie=old_cookie)

    assert reply.is_new
    assert reply.session_id != "abc"
    assert server.store.calls == []


# -- 3. genid ------------------------------------------------------------------


@pytest.mark.parametrize("genid", ["abc", None, 42, b"abc"])
def test_p3_genid_that_is_not_callable_is_a_config_error(genid: object) -> None:
    with pytest.raises(ConfigError) as caught:
        session_config(genid=genid)

    assert caught.value.field == "genid"


BAD_IDS: list[object] = ["", None, 42, b"abc", "has space", "x" * 257, ["id"]]


def test_p3_genid_result_that_cannot_be_an_id_is_an_error_where_it_is_used(
    make_server: MakeServer,
) -> None:
    results = iter(BAD_IDS)
    genid = cast("Callable[[], str]", lambda: next(results))
    server = make_server(config=session_config(genid=genid))

    replies = [server.client().get("/?set=user:ada") for _ in BAD_IDS]

    assert [reply.status for reply in replies] == [500] * len(BAD_IDS)
    assert [reply.set_cookie_fields for reply in replies] == [()] * len(BAD_IDS)
    assert server.probe.handled == []
    assert server.store.calls == []
    errors = server.probe.take_errors()
    assert [type(error) for error in errors] == [InvalidSessionIdError] * len(BAD_IDS)


# -- 4. unset ------------------------------------------------------------------


@pytest.mark.parametrize("unset", ["Keep", "DESTROY", "delete", "", None, True])
def test_p4_unset_other_than_keep_or_destroy_is_a_config_error(unset: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        session_config(unset=unset)

    assert caught.value.field == "unset"


# -- 5. SameSite ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("same_site", "on_plain_http", "on_https"),
    [
        ("strict", "Strict", "Strict"),
        ("lax", "Lax", "Lax"),
        ("none", "Lax", "None"),
        ("auto", "Lax", "None"),
        (None, None, None),
    ],
)
def test_p5_same_site_option_sets_the_attribute(
    make_server: MakeServer,
    same_site: Any,
    on_plain_http: str | None,
    on_https: str | None,
) -> None:
    server = make_server(
        config=session_config(
            cookie=CookieOptions(max_age=60, same_site=same_site), trust_proxy=True
        )
    )

    plain = server.client().get("/?set=user:ada").session_cookie
    secure = server.client().get("/?set=user:ada", headers=HTTPS).session_cookie

    assert plain is not None
    assert secure is not None
    assert (plain.same_site, plain.secure) == (on_plain_http, False)
    assert (secure.same_site, secure.secure) == (on_https, True)
    if same_site is None:
        assert "samesite" not in plain.attributes + secure.attributes


@pytest.mark.parametrize(
    "options",
    [
        {"same_site": "Strict"},
        {"same_site": "NONE"},
        {"same_site": "always"},
        {"same_site": ""},
        {"same_site": True},
        {"same_site": "none", "secure": False},
    ],
    ids=["Strict", "NONE", "always", "empty", "True", "none without secure"],
)
def test_p5_same_site_outside_the_documented_values_is_a_config_error(
    options: dict[str, Any],
) -> None:
    with pytest.raises(ConfigError) as caught:
        CookieOptions(**options)

    assert caught.value.field == "cookie.same_site"


# -- 6. Priority and Partitioned -----------------------------------------------


@pytest.mark.parametrize(
    ("priority", "emitted"), [("low", "Low"), ("medium", "Medium"), ("high", "High")]
)
def test_p6_priority_is_emitted_capitalised(
    make_server: MakeServer, priority: Any, emitted: str
) -> None:
    server = make_server(
        config=session_config(cookie=CookieOptions(max_age=60, priority=priority))
    )

    reply = server.client().get("/?set=user:ada")

    sent = reply.session_cookie
    assert sent is not None
    assert sent.priority == emitted
    assert f"; Priority={emitted}" in reply.set_cookie_fields[0]


def test_p6_partitioned_is_emitted_with_secure_only(make_server: MakeServer) -> None:
    server = make_server(
        config=session_config(
            cookie=CookieOptions(max_age=60, partitioned=True), trust_proxy=True
        )
    )

    plain = server.client().get("/?set=user:ada").session_cookie
    secure = server.client().get("/?set=user:ada", headers=HTTPS).session_cookie

    assert plain is not None
    assert secure is not None
    assert (plain.partitioned, plain.secure) == (False, False)
    assert (secure.partitioned, secure.secure) == (True, True)
    assert secure.attributes[-1] == "partitioned"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"partitioned": True, "secure": False}, "cookie.partitioned"),
        ({"partitioned": "yes"}, "cookie.partitioned"),
        ({"priority": "High"}, "cookie.priority"),
        ({"priority": "urgent"}, "cookie.priority"),
    ],
)
def test_p6_partitioned_without_secure_or_an_unknown_priority_is_a_config_error(
    options: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        CookieOptions(**options)

    assert caught.value.field == field


# -- 7. the cookie name ----------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "name"), [({}, "sid"), ({"name": "session_id"}, "session_id")]
)
def test_p7_cookie_name_defaults_to_sid_and_can_be_changed(
    make_server: MakeServer, options: dict[str, Any], name: str
) -> None:
    server = make_server(
        config=SessionConfig(secret=SECRET, cookie=CookieOptions(max_age=60), **options)
    )
    client = server.client()

    first = client.get("/?set=n:1")
    again = client.get("/")

    assert [cookie.name for cookie in first.set_cookies] == [name]
    assert again.session_id == first.session_id
    assert again.data == {"n": 1}


@pytest.mark.parametrize(
    "name", ["", "a b", "sid;", "sid=", "a,b", "(sid)", "s\u00efd", "sid\r\n", 7]
)
def test_p7_cookie_name_that_is_not_a_token_is_a_config_error(name: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        session_config(name=name)

    assert caught.value.field == "name"


# -- attributes no line names ----------------------------------------------------


def test_http_only_false_leaves_the_flag_out(make_server: MakeServer) -> None:
    server = make_server(
        config=session_config(cookie=CookieOptions(max_age=60, http_only=False))
    )

    reply = server.client().get("/?set=user:ada")

    sent = reply.session_cookie
    assert sent is not None
    assert not sent.http_only
