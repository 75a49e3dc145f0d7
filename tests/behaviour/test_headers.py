"""The session's ``Set-Cookie`` field next to the handler's own headers."""

from __future__ import annotations

import pytest

from sessions import CookieOptions
from tests.behaviour.harness import MakeServer, Server, session_config


def test_handler_cookie_and_session_cookie_are_separate_fields(
    server: Server,
) -> None:
    client = server.client()

    reply = client.get("/?set=user:ada&own_cookie=theme=dark")

    assert len(reply.set_cookie_fields) == 2
    assert reply.set_cookie_fields[0] == "theme=dark; Path=/"
    assert [cookie.name for cookie in reply.set_cookies] == ["theme", "sid"]
    sent = reply.session_cookie
    assert sent is not None
    assert server.verify(sent.value) == reply.session_id
    assert client.http.cookies.get("theme") == "dark"


def test_handler_cookie_alone_when_the_session_is_untouched(server: Server) -> None:
    reply = server.client().get("/?own_cookie=theme=dark")

    assert reply.set_cookie_fields == ("theme=dark; Path=/",)


@pytest.mark.parametrize("status", [201, 404, 500])
def test_session_cookie_rides_on_any_status(server: Server, status: int) -> None:
    reply = server.client().get(f"/?set=user:ada&status={status}")

    assert reply.status == status
    assert reply.session_cookie is not None
    assert server.store.ids("set") == [reply.session_id]


def test_redirect_carries_both_cookies(server: Server) -> None:
    reply = server.client().get("/?set=user:ada&own_cookie=theme=dark&redirect=/next")

    assert reply.status == 302
    assert reply.headers["location"].endswith("/next")
    assert [cookie.name for cookie in reply.set_cookies] == ["theme", "sid"]


def test_priority_is_emitted(make_server: MakeServer) -> None:
    server = make_server(
        config=session_config(cookie=CookieOptions(max_age=60, priority="high"))
    )

    reply = server.client().get("/?set=user:ada")

    sent = reply.session_cookie
    assert sent is not None
    assert sent.priority == "High"
    assert reply.set_cookie_fields[0].endswith("; Priority=High")


def test_http_only_can_be_turned_off(make_server: MakeServer) -> None:
    server = make_server(
        config=session_config(cookie=CookieOptions(max_age=60, http_only=False))
    )

    reply = server.client().get("/?set=user:ada")

    sent = reply.session_cookie
    assert sent is not None
    assert not sent.http_only
