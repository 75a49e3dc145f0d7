"""Every framework's example, served by that framework's own server and used
as a browser would use it: the visit counter, logging in (a new session id,
"remember me"), and logging out.

The WSGI demo has a test of its own in ``test_demo.py``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from types import ModuleType

import pytest
import requests

from sessions.cookies import SetCookie, parse_set_cookie
from tests.behaviour.servers import (
    serve_aiohttp,
    serve_asgi,
    serve_tornado,
    serve_werkzeug,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SECRET = "example test secret"
TIMEOUT = 10.0
THIRTY_DAYS = 30 * 24 * 60 * 60


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` afresh, so each test gets a new store."""
    # The examples import their shared HTML as a sibling module, as they do
    # when run as scripts.
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(
        f"sessions_example_{name}", EXAMPLES / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SERVERS: dict[str, Callable[[ModuleType], AbstractContextManager[str]]] = {
    "flask_app": lambda example: serve_werkzeug(example.app),
    "starlette_app": lambda example: serve_asgi(example.app),
    "fastapi_app": lambda example: serve_asgi(example.app),
    "aiohttp_app": lambda example: serve_aiohttp(example.build_app(SECRET)),
    "tornado_app": lambda example: serve_tornado(example.build_app(SECRET)),
}


@pytest.fixture(params=sorted(SERVERS))
def site(request: pytest.FixtureRequest) -> Iterator[str]:
    """The base URL of one example, running behind its framework's server."""
    name: str = request.param
    with SERVERS[name](load_example(name)) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _session_cookie(response: requests.Response) -> SetCookie:
    (cookie,) = [
        parsed
        for parsed in map(parse_set_cookie, response.raw.headers.getlist("Set-Cookie"))
        if parsed.name == "sid"
    ]
    return cookie


def test_visits_are_counted(site: str, browser: requests.Session) -> None:
    first = browser.get(site, timeout=TIMEOUT)
    second = browser.get(site, timeout=TIMEOUT)

    assert first.status_code == 200
    assert "<strong>1</strong> time in" in first.text
    assert "<strong>2</strong> times" in second.text


def test_login_regenerates_the_id_and_keeps_the_visits(
    site: str, browser: requests.Session
) -> None:
    browser.get(site, timeout=TIMEOUT)
    anonymous_id = browser.cookies["sid"]

    page = browser.post(f"{site}/login", data={"user": "Ada"}, timeout=TIMEOUT)

    assert [earlier.status_code for earlier in page.history] == [303]
    assert "Logged in as <strong>Ada</strong>" in page.text
    assert "<strong>2</strong> times" in page.text
    assert browser.cookies["sid"] != anonymous_id, "login must regenerate the id"
    assert (
        "Logged in as <strong>Ada</strong>" in browser.get(site, timeout=TIMEOUT).text
    )


def test_remember_me_gives_a_thirty_day_cookie(
    site: str, browser: requests.Session
) -> None:
    login = browser.post(
        f"{site}/login",
        data={"user": "Grace", "remember": "1"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert login.status_code == 303
    assert _session_cookie(login).max_age == THIRTY_DAYS
    assert "expires in 30 days" in browser.get(site, timeout=TIMEOUT).text


def test_logout_clears_the_cookie(site: str, browser: requests.Session) -> None:
    browser.post(f"{site}/login", data={"user": "Linus"}, timeout=TIMEOUT)

    logout = browser.post(f"{site}/logout", allow_redirects=False, timeout=TIMEOUT)

    assert logout.status_code == 303
    cleared = _session_cookie(logout)
    assert (cleared.value, cleared.max_age) == ("", 0)
    assert "sid" not in browser.cookies
    page = browser.get(site, timeout=TIMEOUT)
    assert "Log in" in page.text
    assert "Linus" not in page.text
    assert "<strong>1</strong> time in" in page.text
