"""Whether a request is secure (TLS, or a trusted proxy says so), and what
the ``Secure`` cookie options make of it."""

from __future__ import annotations

import pytest

from sessions import CookieOptions
from tests.behaviour.harness import MakeServer, session_config


def test_secure_cookie_over_plain_http_is_neither_sent_nor_stored(
    make_server: MakeServer,
) -> None:
    server = make_server(
        config=session_config(cookie=CookieOptions(max_age=60, secure=True))
    )

    reply = server.client().get("/?set=user:ada")

    assert reply.status == 200
    assert reply.set_cookie_fields == ()
    assert server.store.calls == []
    assert server.store.memory.length() == 0


def test_secure_cookie_behind_a_trusted_tls_proxy(make_server: MakeServer) -> None:
    server = make_server(
        config=session_config(
            cookie=CookieOptions(max_age=60, secure=True), trust_proxy=True
        )
    )

    reply = server.client().get(
        "/?set=user:ada", headers={"X-Forwarded-Proto": "https"}
    )

    sent = reply.session_cookie
    assert sent is not None
    assert sent.secure
    assert server.store.ids("set") == [reply.session_id]


@pytest.mark.parametrize(
    ("trust_proxy", "forwarded", "secure"),
    [
        (False, None, False),
        (True, None, False),
        (True, "https", True),
        (True, "https,http", True),
        (True, "https, http", True),
        (True, "HTTPS", True),
        (True, " https ", True),
        (True, "http", False),
        (True, "http,https", False),
        (False, "https", False),
    ],
)
def test_secure_auto_follows_the_request(
    make_server: MakeServer, trust_proxy: bool, forwarded: str | None, secure: bool
) -> None:
    server = make_server(config=session_config(trust_proxy=trust_proxy))
    fields = [] if forwarded is None else [("X-Forwarded-Proto", forwarded)]

    reply = server.client().send("/?set=user:ada", fields)

    sent = reply.session_cookie
    assert sent is not None
    assert sent.secure is secure


@pytest.mark.parametrize(
    ("first", "second", "secure"),
    [("https", "http", True), ("http", "https", False)],
)
def test_repeated_forwarded_proto_fields_are_read_in_order(
    make_server: MakeServer, first: str, second: str, secure: bool
) -> None:
    server = make_server(config=session_config(trust_proxy=True))

    reply = server.client().send(
        "/?set=user:ada",
        [("X-Forwarded-Proto", first), ("X-Forwarded-Proto", second)],
    )

    sent = reply.session_cookie
    assert sent is not None
    assert sent.secure is secure


@pytest.mark.parametrize(
    ("forwarded", "same_site", "partitioned"),
    [(None, "Lax", False), ("https", "None", True)],
)
def test_same_site_auto_and_partitioned_follow_the_request(
    make_server: MakeServer,
    forwarded: str | None,
    same_site: str,
    partitioned: bool,
) -> None:
    server = make_server(
        config=session_config(
            cookie=CookieOptions(max_age=60, same_site="auto", partitioned=True),
            trust_proxy=True,
        )
    )
    headers = {} if forwarded is None else {"X-Forwarded-Proto": forwarded}

    reply = server.client().get("/?set=user:ada", headers=headers)

    sent = reply.session_cookie
    assert sent is not None
    assert sent.same_site == same_site
    assert sent.partitioned is partitioned
    assert sent.secure is partitioned


def test_same_site_none_falls_back_to_lax_without_tls(
    make_server: MakeServer,
) -> None:
    server = make_server(
        config=session_config(cookie=CookieOptions(max_age=60, same_site="none"))
    )

    reply = server.client().get("/?set=user:ada")

    sent = reply.session_cookie
    assert sent is not None
    assert (sent.same_site, sent.secure) == ("Lax", False)
