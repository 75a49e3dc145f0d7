"""Express parity, cookie path (line 32): ``cookie.path`` scopes the session
by RFC 6265 path-match on the full path, mount prefix included."""

from __future__ import annotations

import pytest

from sessions import CookieOptions
from tests.behaviour.harness import MakeServer, session_config

PATHS = {
    "/": False,
    "/foo": False,
    "/foo/barbaz": False,
    "/foo/ba": False,
    "/FOO/BAR": False,
    "/foo/bar": True,
    "/foo/bar/": True,
    "/foo/bar/baz": True,
}


def test_p32_cookie_path_scopes_the_session(make_server: MakeServer) -> None:
    server = make_server(
        config=session_config(cookie=CookieOptions(max_age=60, path="/foo/bar"))
    )
    wrong: dict[str, object] = {}

    for number, (path, has_session) in enumerate(PATHS.items()):
        session_id = f"session-{number}"
        cookie = server.seed({"user": "ada"}, session_id=session_id)
        calls = len(server.store.calls)
        reply = server.client().get(f"{path}?set=n:1", cookie=cookie)
        operations = [call.operation for call in server.store.calls[calls:]]
        sent = None if reply.session_cookie is None else reply.session_cookie.path
        data = reply.data if reply.has_session else None
        seen = (data, operations, sent)
        loaded = ({"user": "ada", "n": 1}, ["get", "set"], "/foo/bar")
        expected = loaded if has_session else (None, [], None)
        if seen != expected:
            wrong[path] = seen

    assert wrong == {}


def test_p32_session_follows_the_browser_below_its_path(
    make_server: MakeServer,
) -> None:
    server = make_server(
        config=session_config(cookie=CookieOptions(max_age=60, path="/foo/bar"))
    )
    client = server.client()

    created = client.get("/foo/bar?set=user:ada")
    below = client.get("/foo/bar/baz")

    assert below.session_id == created.session_id
    assert below.data == {"user": "ada"}


@pytest.mark.parametrize(
    ("cookie_path", "request_path", "has_session"),
    [
        ("/mount/app", "/mount/app", True),
        ("/mount/app", "/mount/app/page", True),
        ("/mount", "/mount/other", True),
        ("/mount/app", "/mount/other", False),
        ("/mount/app", "/mount/application", False),
        ("/app", "/mount/app", False),
    ],
)
def test_p32_mount_prefix_counts_in_path_matching(
    make_server: MakeServer, cookie_path: str, request_path: str, has_session: bool
) -> None:
    server = make_server(
        config=session_config(cookie=CookieOptions(max_age=60, path=cookie_path)),
        mount="/mount",
    )

    reply = server.client().get(f"{request_path}?set=n:1")

    assert reply.status == 200
    assert reply.has_session is has_session
    assert server.probe.handled == [request_path]
    sent = reply.session_cookie
    if has_session:
        assert sent is not None
        assert sent.path == cookie_path
    else:
        assert sent is None
        assert server.store.calls == []


def test_p32_a_percent_encoded_path_matches_in_its_decoded_form(
    make_server: MakeServer,
) -> None:
    # Servers hand the path over decoded (WSGI, ASGI, aiohttp) or as sent
    # (Tornado); every adapter matches cookie.path against the decoded form.
    # "%3D" is an "=" that HTTP clients leave encoded.
    server = make_server(
        config=session_config(cookie=CookieOptions(max_age=60, path="/a=b"))
    )

    inside = server.client().get("/a%3Db/page?set=n:1")
    outside = server.client().get("/a%3Dc/page?set=n:1")

    assert inside.has_session
    assert inside.data == {"n": 1}
    assert not outside.has_session
