"""Field reports, session fixation and logout: an id the server did not
issue never becomes a session, an id retired by ``regenerate()`` is dead,
and the cookie that ends a session carries exactly the attributes of the one
that started it."""

from __future__ import annotations

from typing import Any

import pytest

from sessions import CookieOptions
from sessions.cookies import SetCookie
from tests.behaviour.harness import MakeServer, Server, session_config

EPOCH_EXPIRES = "Thu, 01 Jan 1970 00:00:00 GMT"

CHOSEN_IDS = [
    "chosen-by-the-client",
    "x",
    "A" * 43,
    "has.dots.in.it",
    "!#$%&'*+-^_`|~",
]


@pytest.mark.parametrize(
    ("options", "query"),
    [
        ({}, "set=user:ada"),
        ({}, "set=user:ada&save=1"),
        ({}, "regenerate_keep=1&set=user:ada"),
        ({}, "touch=1&set=user:ada"),
        ({"save_uninitialized": True}, ""),
        ({"rolling": True, "resave": True}, "set=user:ada"),
    ],
    ids=["write", "save", "regenerate", "touch", "save_uninitialized", "rolling"],
)
def test_f_never_adopt_a_client_id(
    make_server: MakeServer, options: dict[str, Any], query: str
) -> None:
    server = make_server(config=session_config(**options))
    adopted: dict[str, str] = {}

    for chosen in CHOSEN_IDS:
        reply = server.client().get(f"/?{query}", cookie=server.cookie(chosen))
        sent = reply.sent_cookie
        if reply.session_id == chosen or server.verify(sent.value) != reply.session_id:
            adopted[chosen] = reply.session_id

    assert adopted == {}
    assert server.store.ids("get") == CHOSEN_IDS
    assert not set(CHOSEN_IDS) & set(server.store.ids("set"))
    assert not set(CHOSEN_IDS) & set(server.store.memory.ids())


def test_f_never_adopt_an_id_the_store_forgot(server: Server) -> None:
    client = server.client()
    destroyed = client.get("/?set=user:ada")
    client.get("/?destroy=1")
    expired = server.seed({"user": "eve"}, session_id="expired", expires_in=5)
    server.store.advance(6)

    replays = [
        server.client().get("/?set=n:1", cookie=server.cookie(destroyed.session_id)),
        server.client().get("/?set=n:1", cookie=expired),
    ]

    for reply in replays:
        assert reply.is_new
        assert reply.data == {"n": 1}
        assert reply.session_id not in (destroyed.session_id, "expired")
    assert server.store.peek(destroyed.session_id) is None
    assert server.store.peek("expired") is None


@pytest.mark.parametrize(
    "query",
    [
        "regenerate=1",
        "regenerate_keep=1",
        "set=x:1&save=1&regenerate_keep=1",
        "regenerate=1&regenerate=1",
    ],
)
def test_f_regenerate_deletes_the_old_id(server: Server, query: str) -> None:
    old_cookie = server.seed({"user": "ada"})
    client = server.client()
    regenerated = client.get(f"/?{query}", cookie=old_cookie)

    replay = server.client().get("/", cookie=old_cookie)
    replay_write = server.client().get("/?set=n:1", cookie=old_cookie)
    current = client.get("/")

    assert server.store.ids("destroy") == ["seeded-session"]
    assert replay.is_new
    assert replay.data == {}
    assert replay_write.session_id not in ("seeded-session", regenerated.session_id)
    assert server.store.peek("seeded-session") is None
    assert current.session_id == regenerated.session_id
    assert current.data == regenerated.data


def _deletion_of(created: SetCookie, deleted: SetCookie) -> dict[str, object]:
    """The attributes in which a deletion cookie differs from the cookie it
    deletes, other than the ones that make it a deletion."""
    keys = (
        "name",
        "domain",
        "path",
        "http_only",
        "secure",
        "same_site",
        "priority",
        "partitioned",
    )
    return {
        key: (getattr(created, key), getattr(deleted, key))
        for key in keys
        if getattr(created, key) != getattr(deleted, key)
    }


MIRRORED = {
    "example": CookieOptions(
        max_age=60, domain="example.com", path="/app", secure=True, same_site="none"
    ),
    "every attribute": CookieOptions(
        max_age=3600,
        domain=".example.org",
        path="/app",
        same_site="strict",
        priority="low",
        partitioned=True,
    ),
    "browser-session cookie": CookieOptions(path="/app", same_site=None),
}


@pytest.mark.parametrize("cookie", sorted(MIRRORED))
@pytest.mark.parametrize(
    ("options", "query"),
    [({}, "destroy=1"), ({"unset": "destroy"}, "detach=1"), ({}, "expires_past=1")],
    ids=["destroy", "detach", "expires in the past"],
)
def test_f_deletion_mirrors_creation(
    make_server: MakeServer, cookie: str, options: dict[str, Any], query: str
) -> None:
    server = make_server(
        config=session_config(cookie=MIRRORED[cookie], trust_proxy=True, **options)
    )
    https = {"X-Forwarded-Proto": "https"}
    client = server.client()

    created = client.get("/app?set=user:ada", headers=https)
    held = server.cookie(created.session_id)
    ended = client.get(f"/app?{query}", headers=https, cookie=held)

    assert len(ended.set_cookie_fields) == 1
    made, deleted = created.sent_cookie, ended.sent_cookie
    assert _deletion_of(made, deleted) == {}
    assert (deleted.value, deleted.max_age, deleted.expires) == ("", 0, EPOCH_EXPIRES)
    assert [name for name in deleted.attributes if name not in made.attributes] == (
        [] if made.max_age is not None else ["max-age", "expires"]
    )
    assert server.store.ids("destroy") == [created.session_id]


def test_f_deletion_mirrors_creation_exactly_for_the_example(
    make_server: MakeServer,
) -> None:
    server = make_server(
        config=session_config(cookie=MIRRORED["example"], trust_proxy=True)
    )
    https = {"X-Forwarded-Proto": "https"}
    client = server.client()

    created = client.get("/app?set=user:ada", headers=https)
    destroyed = client.get(
        "/app?destroy=1", headers=https, cookie=server.cookie(created.session_id)
    )

    assert destroyed.set_cookie_fields == (
        "sid=; Domain=example.com; Path=/app; Max-Age=0; "
        f"Expires={EPOCH_EXPIRES}; HttpOnly; Secure; SameSite=None",
    )
    assert created.sent_cookie.attributes == (
        "domain",
        "path",
        "max-age",
        "expires",
        "httponly",
        "secure",
        "samesite",
    )
