"""Rotating secrets: the first signs, every one verifies, and a retired one
verifies nothing."""

from __future__ import annotations

from sessions.signing import IdSigner
from tests.behaviour.harness import MakeServer, session_config


def test_cookie_signed_by_an_old_secret_loads_and_is_resigned(
    make_server: MakeServer,
) -> None:
    server = make_server(config=session_config(secret=["new secret", "old secret"]))
    server.store.seed("abc", {"user": "ada"})
    old_cookie = f"sid={server.sign('abc', secret='old secret')}"

    reply = server.client().get("/?set=n:1", cookie=old_cookie)

    assert reply.session_id == "abc"
    assert reply.data == {"user": "ada", "n": 1}
    sent = reply.session_cookie
    assert sent is not None
    assert IdSigner([b"new secret"]).unsign(sent.value) == "abc"
    assert IdSigner([b"old secret"]).unsign(sent.value) is None
    assert (sent.path, sent.max_age, sent.http_only, sent.same_site) == (
        "/",
        60,
        True,
        "Lax",
    )


def test_cookie_signed_by_a_retired_secret_is_absent(make_server: MakeServer) -> None:
    server = make_server(config=session_config(secret=["new secret"]))
    server.store.seed("abc", {"user": "ada"})
    old_cookie = f"sid={server.sign('abc', secret='old secret')}"

    reply = server.client().get("/", cookie=old_cookie)

    assert reply.is_new
    assert reply.session_id != "abc"
    assert server.store.calls == []
