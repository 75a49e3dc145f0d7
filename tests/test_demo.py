"""The demo site, served by the standard library's server, used like a
browser would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.behaviour.servers import serve_wsgi
from tests.test_examples import load_example


@pytest.fixture
def demo_url() -> Iterator[str]:
    demo = load_example("demo")
    with serve_wsgi(demo.build_app("demo test secret")) as url:
        yield url


def test_visits_are_counted_across_reloads(demo_url: str) -> None:
    browser = requests.Session()
    assert "<strong>1</strong> time in" in browser.get(demo_url).text
    assert "<strong>2</strong> times" in browser.get(demo_url).text


def test_login_survives_reloads_and_logout_removes_the_cookie(demo_url: str) -> None:
    browser = requests.Session()
    browser.get(demo_url)
    anonymous_id = browser.cookies["sid"]

    page = browser.post(f"{demo_url}/login", data={"user": "Ada <script>"})
    assert "Logged in as <strong>Ada &lt;script&gt;</strong>" in page.text
    assert browser.cookies["sid"] != anonymous_id, "login must regenerate the id"
    for _ in range(3):
        assert "Logged in as" in browser.get(demo_url).text

    logout = browser.post(f"{demo_url}/logout", allow_redirects=False)
    (cleared,) = logout.raw.headers.getlist("Set-Cookie")
    assert cleared.startswith("sid=; Path=/; Max-Age=0;")
    assert "sid" not in browser.cookies
    assert "Log in" in browser.get(demo_url).text


def test_remember_me_gives_a_thirty_day_cookie(demo_url: str) -> None:
    browser = requests.Session()
    page = browser.post(
        f"{demo_url}/login",
        data={"user": "Grace", "remember": "1"},
        allow_redirects=False,
    )
    (cookie,) = page.raw.headers.getlist("Set-Cookie")
    assert "Max-Age=2592000" in cookie
    browser.get(demo_url)
    assert "expires in 30 days" in browser.get(demo_url).text


def test_a_tampered_cookie_gives_an_anonymous_page_not_an_error(demo_url: str) -> None:
    browser = requests.Session()
    browser.post(f"{demo_url}/login", data={"user": "Linus"})
    value = browser.cookies["sid"]
    tampered = value[:-1] + ("A" if value[-1] != "A" else "B")
    page = requests.get(demo_url, cookies={"sid": tampered})
    assert page.status_code == 200
    assert "Log in" in page.text
    assert "Linus" not in page.text
