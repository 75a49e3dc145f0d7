"""Field reports, signing: a cookie that does not verify is a miss (never a
500, never a store lookup), and rotating secrets keeps sessions alive while
every new cookie is signed with the newest secret."""

from __future__ import annotations

import pytest

from sessions import CookieOptions
from sessions.signing import IdSigner
from tests.behaviour.harness import MakeServer, Server, session_config
from tests.behaviour.tampering import TAMPERINGS, tampered

SEEDED = {"user": "ada"}


def test_f_malformed_shape_is_a_miss_even_when_the_handler_writes(
    server: Server,
) -> None:
    server.seed(SEEDED, session_id="abc")
    client = server.client()
    wrong: dict[object, object] = {}

    for tampering in TAMPERINGS:
        writes = server.store.count("set")
        reply = client.get("/?set=n:1", cookie=f"sid={tampered(server, tampering)}")
        new_id = reply.session_id
        seen = (reply.status, reply.data, server.verify(reply.sent_cookie.value))
        if seen != (200, {"n": 1}, new_id) or new_id == "abc":
            wrong[tampering] = seen
        if server.store.ids("set")[writes:] != [new_id]:
            wrong[tampering] = server.store.ids("set")[writes:]

    assert wrong == {}
    assert server.store.count("get") == 0
    record = server.store.peek("abc")
    assert record is not None
    assert record.data == SEEDED


def test_f_malformed_shape_is_a_miss_next_to_the_real_cookie(
    server: Server,
) -> None:
    valid = server.seed(SEEDED, session_id="abc")
    client = server.client()
    wrong: dict[object, object] = {}

    for tampering in TAMPERINGS:
        header = f"sid={tampered(server, tampering, 'abd')}; {valid}"
        reply = client.send("/", [("Cookie", header)])
        if (reply.status, reply.session_id) != (200, "abc"):
            wrong[tampering] = (reply.status, reply.body)

    assert wrong == {}
    assert server.store.ids("get") == ["abc"] * len(TAMPERINGS)


ROTATED = session_config(
    secret=["new secret", "old secret"],
    cookie=CookieOptions(
        max_age=120, domain="example.com", path="/", same_site="strict", priority="high"
    ),
)


@pytest.mark.parametrize(
    "query", ["set=n:1", "touch=1", "max_age=300", "regenerate_keep=1", "destroy=1"]
)
def test_f_rotation_old_secret_loads_and_any_cookie_sent_is_signed_with_the_new(
    make_server: MakeServer, query: str
) -> None:
    server = make_server(config=ROTATED)
    server.store.seed("abc", SEEDED, max_age=120)
    old_cookie = f"sid={server.sign('abc', secret='old secret')}"

    reply = server.client().get(f"/?{query}", cookie=old_cookie)

    assert server.store.ids("get") == ["abc"]
    sent = reply.sent_cookie
    assert (sent.domain, sent.path, sent.http_only, sent.same_site, sent.priority) == (
        "example.com",
        "/",
        True,
        "Strict",
        "High",
    )
    if query == "destroy=1":
        assert (sent.value, sent.max_age) == ("", 0)
        return
    assert reply.data["user"] == "ada"
    assert IdSigner([b"new secret"]).unsign(sent.value) == reply.session_id
    assert IdSigner([b"old secret"]).unsign(sent.value) is None
    assert sent.max_age == (300 if query == "max_age=300" else 120)
    assert sent.expires is not None
