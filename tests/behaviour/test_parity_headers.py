"""Express parity, headers (lines 43-44): the session's ``Set-Cookie`` next
to the handler's own, and cookie values that round-trip byte for byte."""

from __future__ import annotations

import pytest

from tests.behaviour.client import Client
from tests.behaviour.harness import MakeServer, Server, session_config


def test_p43_handler_cookie_and_session_cookie_are_separate_fields(
    server: Server,
) -> None:
    client = server.client()

    reply = client.get("/?set=user:ada&own_cookie=theme=dark")

    assert len(reply.set_cookie_fields) == 2
    assert reply.set_cookie_fields[0] == "theme=dark; Path=/"
    assert [cookie.name for cookie in reply.set_cookies] == ["theme", "sid"]
    assert server.verify(reply.sent_cookie.value) == reply.session_id
    assert client.http.cookies.get("theme") == "dark"


def test_p43_redirect_carries_both_cookies(server: Server) -> None:
    reply = server.client().get("/?set=user:ada&own_cookie=theme=dark&redirect=/next")

    assert reply.status == 302
    assert reply.headers["location"].endswith("/next")
    assert [cookie.name for cookie in reply.set_cookies] == ["theme", "sid"]


def test_p43_deletion_cookie_is_a_separate_field_too(server: Server) -> None:
    cookie = server.seed({"user": "ada"})

    reply = server.client().get("/?destroy=1&own_cookie=theme=light", cookie=cookie)

    assert len(reply.set_cookie_fields) == 2
    assert reply.set_cookie_fields[0] == "theme=light; Path=/"
    assert reply.sent_cookie.max_age == 0


def test_handler_cookie_alone_when_the_session_is_untouched(server: Server) -> None:
    reply = server.client().get("/?own_cookie=theme=dark")

    assert reply.set_cookie_fields == ("theme=dark; Path=/",)


@pytest.mark.parametrize("status", [201, 404, 500])
def test_session_cookie_rides_on_any_status(server: Server, status: int) -> None:
    reply = server.client().get(f"/?set=user:ada&status={status}")

    assert reply.status == status
    assert reply.session_cookie is not None
    assert server.store.ids("set") == [reply.session_id]


def test_p44_cookie_value_round_trips_byte_exactly(
    server: Server, client: Client
) -> None:
    sent = client.get("/?set=n:1").sent_cookie

    assert client.session_cookie == sent.value
    assert client.get("/").session_id == server.verify(sent.value)


# Ids made of every character a session id may hold, including the ones a
# cookie parser might be tempted to decode or unquote.
ODD_IDS = [
    "!#$%&'*+-.^_`|~",
    "%41%42",
    "a.b.c",
    "0123456789",
    "ABCXYZabcxyz",
    "%",
    "'quoted'",
]


def test_p44_ids_of_every_token_character_round_trip(make_server: MakeServer) -> None:
    ids = iter(ODD_IDS)
    server = make_server(config=session_config(genid=lambda: next(ids)))
    client = server.client()
    mismatches: dict[str, object] = {}

    for session_id in ODD_IDS:
        created = client.send("/?set=n:0", [])
        value = created.sent_cookie.value
        again = client.send("/?set=n:1", [("Cookie", f"sid={value}")])
        seen = (created.session_id, value, again.session_id)
        if seen != (session_id, server.sign(session_id), session_id):
            mismatches[session_id] = seen

    assert mismatches == {}
    assert server.store.ids("set") == [
        session_id for session_id in ODD_IDS for _ in range(2)
    ]
