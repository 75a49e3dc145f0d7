"""The test clients against the real adapters: each one keeps the cookies
its application sets and sends them back, follows redirects as a browser
does, sees cookies expire on the application's clock, and carries any
header the strategies draw to the application and back."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from sessions import CookieOptions, MemoryStore, SessionConfig
from sessions.records import canonical_json
from sessions.signing import IdSigner
from sessions.testing import ManualClock, SequentialIds
from sessions.testing import strategies as sst
from sessions.testing.clients import Client
from sessions.testing.clients.asgi import ASGIClient, Message, Receive, Scope, Send
from sessions.testing.clients.wsgi import WSGIClient
from sessions_adapters.asgi import SessionMiddleware as ASGISessionMiddleware
from tests.behaviour.servers import serve_asgi, serve_wsgi
from tests.testing.apps import CLIENTS, Boom, asgi_app, wsgi_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

CONFIG = SessionConfig(secret="test secret", cookie=CookieOptions(max_age=600))


@pytest.fixture(params=sorted(CLIENTS))
def adapter(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> MemoryStore:
    return MemoryStore(clock=clock.time)


@pytest.fixture
def client(adapter: str, store: MemoryStore, clock: ManualClock) -> Iterator[Client]:
    with CLIENTS[adapter](CONFIG, store, clock) as client:
        yield client


def session_id(client: Client) -> str | None:
    value = client.cookies.get(CONFIG.name)
    return None if value is None else IdSigner(CONFIG.secret).unsign(value)


# -- the same browser, request after request -----------------------------------------


def test_the_cookie_set_by_one_request_is_sent_with_the_next(client: Client) -> None:
    counts = [client.get("/count").json()["count"] for _ in range(3)]

    assert counts == [1, 2, 3]
    assert len(client.cookies) == 1


def test_two_clients_are_two_browsers(adapter: str, store: MemoryStore) -> None:
    clock = ManualClock()
    with (
        CLIENTS[adapter](CONFIG, store, clock) as first,
        CLIENTS[adapter](CONFIG, store, clock) as second,
    ):
        first.get("/count")
        first.get("/count")

        assert second.get("/count").json() == {"count": 1}
        assert first.cookies.get("sid") != second.cookies.get("sid")


def test_login_then_later_requests_as_the_same_user(
    client: Client, store: MemoryStore
) -> None:
    client.get("/count")
    before = session_id(client)

    assert client.post("/login", data={"user": "ada"}).json() == {"user": "ada"}
    after = session_id(client)
    assert after is not None
    assert after != before
    assert store.get(after) is not None
    assert client.get("/whoami").json() == {"user": "ada", "count": None}


def test_logout_deletes_the_cookie_from_the_jar(client: Client) -> None:
    client.post("/login", data={"user": "ada"})
    response = client.post("/logout")

    deletion = response.set_cookie("sid")
    assert deletion is not None
    assert deletion.max_age == 0
    assert "sid" not in client.cookies
    assert client.get("/whoami").json() == {"user": None, "count": None}


def test_a_redirect_is_followed_with_the_cookie_it_set(client: Client) -> None:
    response = client.post(
        "/login?next=/whoami", data={"user": "grace"}, follow_redirects=True
    )

    assert response.status == 200
    assert response.json() == {"user": "grace", "count": None}
    assert [hop.status for hop in response.history] == [303]
    assert response.history[0].set_cookie("sid") is not None
    assert response.url.endswith("/whoami")


def test_a_redirect_is_not_followed_unless_asked(client: Client) -> None:
    response = client.post("/login?next=/whoami", data={"user": "grace"})

    assert response.status == 303
    assert response.header("location") == "/whoami"
    assert "sid" in client.cookies  # the cookie of the redirect still counts


def test_an_explicit_cookie_header_replaces_the_jar_for_one_request(
    client: Client,
) -> None:
    client.post("/login", data={"user": "ada"})

    stranger = client.get("/whoami", headers={"Cookie": "sid=someone-else"})
    again = client.get("/whoami")

    assert stranger.json()["user"] is None
    assert again.json()["user"] == "ada"


def test_a_planted_cookie_is_sent(client: Client) -> None:
    client.post("/login", data={"user": "ada"})
    genuine = client.cookies.get("sid")
    assert genuine is not None

    client.cookies.set("sid", genuine[:-1] + ("A" if genuine[-1] != "A" else "B"))

    assert client.get("/whoami").json()["user"] is None


# -- time ---------------------------------------------------------------------------


def test_the_cookie_expires_on_the_application_clock(
    client: Client, clock: ManualClock, store: MemoryStore
) -> None:
    client.post("/login", data={"user": "ada"})
    stored = session_id(client)
    assert stored is not None

    clock.advance(timedelta(seconds=599))
    assert client.get("/whoami").json()["user"] == "ada"
    clock.advance(1)

    assert "sid" not in client.cookies
    assert store.get(stored) is None
    assert client.get("/whoami").json()["user"] is None


def test_sequential_ids_reach_the_cookie(adapter: str, clock: ManualClock) -> None:
    ids = SequentialIds(prefix="visitor-")
    config = SessionConfig(secret="test secret", genid=ids)
    with CLIENTS[adapter](config, MemoryStore(clock=clock.time), clock) as client:
        client.get("/count")
        client.post("/login", data={"user": "ada"})

        value = client.cookies.get("sid")
        assert value is not None
        assert IdSigner(config.secret).unsign(value) == "visitor-2"
        assert ids.issued == ("visitor-1", "visitor-2")


# -- responses ----------------------------------------------------------------------


def test_a_response_exposes_status_headers_and_body(client: Client) -> None:
    response = client.get("/whoami")

    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert response.header("x-missing", "none") == "none"
    assert json.loads(response.text) == response.json()
    assert response.set_cookies == []


def test_an_unknown_route_is_a_404_from_the_application(client: Client) -> None:
    assert client.get("/nowhere").status == 404


def test_a_head_response_has_no_body(client: Client) -> None:
    response = client.head("/whoami")

    assert response.status == 200
    assert response.body == b""


@pytest.mark.parametrize("adapter", ["aiohttp", "tornado"])
def test_a_failing_handler_is_the_framework_s_500(
    adapter: str, store: MemoryStore, clock: ManualClock
) -> None:
    with CLIENTS[adapter](CONFIG, store, clock) as client:
        response = client.get("/fail")

    assert response.status == 500
    assert response.set_cookies == []


@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
def test_a_failing_application_raises_in_the_test_by_default(
    adapter: str, store: MemoryStore, clock: ManualClock
) -> None:
    with CLIENTS[adapter](CONFIG, store, clock) as client, pytest.raises(Boom):
        client.get("/fail")


@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
def test_a_failing_application_can_be_a_500_instead(
    adapter: str, store: MemoryStore, clock: ManualClock
) -> None:
    with CLIENTS[adapter](CONFIG, store, clock, raise_app_exceptions=False) as client:
        response = client.get("/fail")

    assert response.status == 500


# -- WSGI details ------------------------------------------------------------------


def test_wsgi_write_and_an_error_page_after_exc_info() -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise Boom("before the body")
        except Boom:
            write = start_response(
                "503 Service Unavailable",
                [("Content-Type", "text/plain; charset=latin-1")],
                sys.exc_info(),
            )
        write("d\xe9j\xe0 ".encode("latin-1"))
        return [b"vu"]

    response = WSGIClient(app).get("/")

    assert response.status == 503
    assert response.text == "d\xe9j\xe0 vu"


def test_wsgi_environ_follows_the_request() -> None:
    seen: list[WSGIEnvironment] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        seen.append(dict(environ))
        start_response("204 No Content", [])
        return []

    client = WSGIClient(app, base_url="https://shop.test:8443", environ={"X": "y"})
    client.post(
        "/caf\xe9 au lait?x=1",
        headers=[
            ("Cookie", "a=1"),
            ("Cookie", "b=2"),
            ("X-Many", "1"),
            ("X-Many", "2"),
        ],
        json={"k": "v"},
    )

    (environ,) = seen
    assert environ["PATH_INFO"] == "/caf\xe9 au lait".encode().decode("latin-1")
    assert environ["QUERY_STRING"] == "x=1"
    assert environ["wsgi.url_scheme"] == "https"
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("shop.test", "8443")
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["HTTP_X_MANY"] == "1, 2"
    assert environ["CONTENT_TYPE"] == "application/json"
    assert environ["CONTENT_LENGTH"] == str(len(b'{"k": "v"}'))
    assert environ["X"] == "y"


# -- Secure cookies -----------------------------------------------------------------


@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
def test_over_https_a_secure_cookie_is_kept_and_sent(
    adapter: str, store: MemoryStore, clock: ManualClock
) -> None:
    config = SessionConfig(secret="s", cookie=CookieOptions(secure=True))
    with CLIENTS[adapter](config, store, clock, base_url="https://shop.test") as client:
        client.get("/count")

        (cookie,) = client.cookies
        assert cookie.secure
        assert cookie.domain == "shop.test"
        assert client.get("/count").json() == {"count": 2}


def test_over_http_a_secure_cookie_is_neither_set_nor_sent(
    adapter: str, store: MemoryStore, clock: ManualClock
) -> None:
    config = SessionConfig(secret="s", cookie=CookieOptions(secure=True))
    with CLIENTS[adapter](config, store, clock) as plain:
        response = plain.get("/count")

        assert response.set_cookies == []  # the application withholds it
        assert len(plain.cookies) == 0


# -- any header the strategies draw travels to the application -------------------------

_through_a_server = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@_through_a_server
@given(data=sst.session_data(max_size=4))
def test_drawn_session_data_comes_back_from_the_store_unchanged(
    client: Client, data: dict[str, Any]
) -> None:
    assert client.post("/data", json=data).json() == {"stored": True}

    # Compared as canonical JSON: 1, 1.0 and True differ, and so do 0.0 and -0.0.
    again = client.get("/data").json()["data"]
    assert canonical_json(again) == canonical_json(data)


@pytest.mark.parametrize(
    "headers",
    [sst.hostile_cookie_headers(CONFIG), sst.tampered_cookie_headers(CONFIG)],
    ids=["hostile", "tampered"],
)
@_through_a_server
@given(data=st.data())
def test_a_hostile_or_tampered_cookie_reaches_the_application_and_is_no_session(
    client: Client, headers: st.SearchStrategy[sst.CookieHeader], data: st.DataObject
) -> None:
    drawn = data.draw(headers)
    response = client.get("/whoami", headers={"Cookie": drawn.header})

    assert response.status == 200
    assert response.json() == {"user": None, "count": None}


# -- the in-process clients agree with real servers ------------------------------------


def _scenario_over_http(base_url: str) -> list[tuple[int, Any, list[str]]]:
    """The scenario of :func:`_scenario_in_process`, with requests."""
    seen = []
    with requests.Session() as browser:
        for method, path, form in _SCENARIO:
            response = browser.request(
                method, base_url + path, data=form, allow_redirects=False, timeout=10
            )
            cookies = response.raw.headers.getlist("Set-Cookie")
            seen.append((response.status_code, response.json(), cookies))
    return seen


def _scenario_in_process(client: Client) -> list[tuple[int, Any, list[str]]]:
    seen = []
    for method, path, form in _SCENARIO:
        response = client.request(method, path, data=form)
        seen.append(
            (response.status, response.json(), response.header_values("set-cookie"))
        )
    return seen


_SCENARIO: list[tuple[str, str, dict[str, str] | None]] = [
    ("GET", "/whoami", None),
    ("GET", "/count", None),
    ("GET", "/count", None),
    ("POST", "/login", {"user": "ada"}),
    ("GET", "/whoami", None),
    ("POST", "/logout", None),
    ("GET", "/whoami", None),
]


@pytest.mark.parametrize(
    ("adapter", "make_app", "serve"),
    [("wsgi", wsgi_app, serve_wsgi), ("asgi", asgi_app, serve_asgi)],
)
def test_in_process_client_and_real_server_see_the_same_answers(
    adapter: str,
    make_app: Callable[[SessionConfig, MemoryStore, ManualClock], Any],
    serve: Callable[[Any], AbstractContextManager[str]],
) -> None:
    # One clock and one id sequence per run, so both runs produce the same
    # ids and expiry dates, and their Set-Cookie fields compare byte for byte.
    def run(in_process: bool) -> list[tuple[int, Any, list[str]]]:
        clock = ManualClock()
        config = SessionConfig(
            secret="s", genid=SequentialIds(), cookie=CookieOptions(max_age=600)
        )
        store = MemoryStore(clock=clock.time)
        if in_process:
            with CLIENTS[adapter](config, store, clock) as client:
                return _scenario_in_process(client)
        with serve(make_app(config, store, clock)) as url:
            return _scenario_over_http(url)

    assert run(in_process=True) == run(in_process=False)


# -- ASGI: lifespan, Starlette ---------------------------------------------------------


def test_starlette_with_lifespan_state_and_request_session() -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, str]]:
        yield {"greeting": "hello"}

    async def visit(request: StarletteRequest) -> JSONResponse:
        request.session["visits"] = request.session.get("visits", 0) + 1
        return JSONResponse(
            {"visits": request.session["visits"], "greeting": request.state.greeting}
        )

    app = Starlette(routes=[Route("/", visit)], lifespan=lifespan)
    app.add_middleware(ASGISessionMiddleware, config=CONFIG)
    with ASGIClient(app, lifespan=True) as client:
        client.get("/")

        assert client.get("/").json() == {"visits": 2, "greeting": "hello"}


def test_a_failed_lifespan_startup_is_an_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    with pytest.raises(RuntimeError, match="no database"):
        ASGIClient(app, lifespan=True)


def test_an_application_without_lifespan_support_is_an_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError(f"unsupported scope {scope['type']}")

    with pytest.raises(RuntimeError, match="without answering") as failure:
        ASGIClient(app, lifespan=True)
    assert isinstance(failure.value.__cause__, ValueError)


def test_the_request_body_arrives_and_then_a_disconnect() -> None:
    messages: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        messages.append(await receive())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        messages.append(await receive())

    with ASGIClient(app) as client:
        assert client.post("/", body=b"payload").status == 204

    assert messages == [
        {"type": "http.request", "body": b"payload", "more_body": False},
        {"type": "http.disconnect"},
    ]


def test_an_asynchronous_client_refuses_a_running_loop() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("never called")

    client = ASGIClient(app)

    async def inside_a_loop() -> None:
        client.get("/")

    with pytest.raises(RuntimeError, match="running one"):
        asyncio.run(inside_a_loop())
    client.close()
    client.close()  # a second close does nothing


# -- requests the client refuses ----------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"X-Bad": "a\r\nInjected: yes"}, "cannot carry"),
        ({"X-Bad": "\u2603"}, "cannot carry"),
        ({"Bad Name": "x"}, "not an HTTP token"),
    ],
)
def test_a_header_that_cannot_be_sent_is_refused(
    headers: dict[str, str], problem: str
) -> None:
    client = WSGIClient(wsgi_app(CONFIG, MemoryStore(), ManualClock()))
    with pytest.raises(ValueError, match=problem):
        client.get("/whoami", headers=headers)


def test_other_sites_and_mixed_bodies_are_refused() -> None:
    with WSGIClient(wsgi_app(CONFIG, MemoryStore(), ManualClock())) as client:
        with pytest.raises(ValueError, match="own application"):
            client.get("https://elsewhere.test/")
        with pytest.raises(ValueError, match="at most one"):
            client.post("/login", body=b"x", data={"user": "ada"})
    with pytest.raises(ValueError, match="base_url"):
        WSGIClient(wsgi_app(CONFIG, MemoryStore(), ManualClock()), base_url="ftp://x")


# -- each client imports only its own framework -----------------------------------


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("sessions.testing.clients", ("aiohttp", "tornado", "starlette")),
        ("sessions.testing.clients.wsgi", ("aiohttp", "tornado", "starlette")),
        ("sessions.testing.clients.asgi", ("aiohttp", "tornado", "starlette")),
        ("sessions.testing.clients.aiohttp", ("tornado", "starlette")),
        ("sessions.testing.clients.tornado", ("aiohttp", "starlette")),
    ],
)
def test_a_client_module_imports_no_other_framework(
    module: str, absent: tuple[str, ...]
) -> None:
    check = (
        f"import sys, {module}; "
        f"print(sorted(name for name in {absent!r} if name in sys.modules))"
    )
    run = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=60
    )

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
