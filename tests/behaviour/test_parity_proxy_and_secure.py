"""Express parity, proxy and secure (lines 28-31): whether a request is
secure (TLS, or a trusted proxy says so), and what the ``Secure`` cookie
options make of it."""

from __future__ import annotations

from sessions import CookieOptions
from tests.behaviour.harness import MakeServer, session_config

FORWARDED = {
    "https": True,
    "https,http": True,
    "HTTPS": True,
    " https ": True,
    "http,https": False,
    "http": False,
    None: False,
}


def test_p28_trusted_forwarded_proto_first_token_decides(
    make_server: MakeServer,
) -> None:
    server = make_server(config=session_config(trust_proxy=True))
    seen = {}

    for forwarded in FORWARDED:
        fields = [] if forwarded is None else [("X-Forwarded-Proto", forwarded)]
        seen[forwarded] = (
            server.client().send("/?set=user:ada", fields).sent_cookie.secure
        )

    assert seen == FORWARDED


def test_p29_forwarded_proto_is_ignored_unless_the_proxy_is_trusted(
    make_server: MakeServer,
) -> None:
    server = make_server(
        config=session_config(
            cookie=CookieOptions(max_age=60, secure=True), trust_proxy=False
        )
    )

    replies = [
        server.client().send("/?set=user:ada", [("X-Forwarded-Proto", forwarded)])
        for forwarded in ["https", "HTTPS", "https,http"]
    ]

    assert [reply.status for reply in replies] == [200] * 3
    assert [reply.set_cookie_fields for reply in replies] == [()] * 3
    assert server.store.calls == []


def test_p30_secure_cookie_over_plain_http_is_neither_sent_nor_stored(
    make_server: MakeServer,
) -> None:
    server = make_server(
        config=session_config(cookie=CookieOptions(max_age=60, secure=True))
    )

    replies = [
        server.client().get("/?set=user:ada"),
        server.client().get("/?set=user:ada&save=1"),
        server.client().get("/?regenerate=1"),
    ]

    assert [reply.status for reply in replies] == [200] * 3
    assert [reply.set_cookie_fields for reply in replies] == [()] * 3
    assert server.store.calls == []
    assert server.store.memory.length() == 0


def test_p30_secure_cookie_behind_a_trusted_tls_proxy_is_sent_and_stored(
    make_server: MakeServer,
) -> None:
    server = make_server(
        config=session_config(
            cookie=CookieOptions(max_age=60, secure=True), trust_proxy=True
        )
    )

    reply = server.client().get(
        "/?set=user:ada", headers={"X-Forwarded-Proto": "https"}
    )

    assert reply.sent_cookie.secure
    assert server.store.ids("set") == [reply.session_id]


def test_p31_secure_auto_marks_the_cookie_exactly_on_secure_requests(
    make_server: MakeServer,
) -> None:
    server = make_server(config=session_config(trust_proxy=True))
    client = server.client()

    plain = client.send("/?set=user:ada", [])
    secure = client.send("/?set=user:ada", [("X-Forwarded-Proto", "https")])
    returning = client.send("/?set=n:1", [("Cookie", f"sid={plain.sent_cookie.value}")])

    assert plain.sent_cookie.secure is False
    assert secure.sent_cookie.secure is True
    assert returning.session_id == plain.session_id
    assert returning.sent_cookie.secure is False
    assert server.store.ids("set") == [
        plain.session_id,
        secure.session_id,
        plain.session_id,
    ]
