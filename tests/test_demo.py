"""The demo site, served by the standard library's server, used like a
browser would: in this process, across a restart, and as two processes
started from one directory."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from sessions.stores.sqlite import SQLiteStore
from tests.behaviour.servers import serve_wsgi
from tests.test_examples import EXAMPLES, load_example

TIMEOUT = 10.0


@contextmanager
def served_demo(directory: Path, secret: str | None = None) -> Iterator[str]:
    """The demo, loaded afresh over the files in ``directory``, served in a
    thread until the block ends; then its store is closed."""
    application = load_example("demo").build_app(secret, directory=directory)
    try:
        with serve_wsgi(application) as url:
            yield url
    finally:
        store = application.store
        assert isinstance(store, SQLiteStore)
        store.close()


@pytest.fixture
def demo_url(tmp_path: Path) -> Iterator[str]:
    with served_demo(tmp_path, "demo test secret") as url:
        yield url


@pytest.fixture
def no_secret_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SESSION_SECRET", raising=False)


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


# -- the files beside the demo ---------------------------------------------------


@pytest.mark.usefixtures("no_secret_in_environment")
def test_a_login_survives_a_restart(tmp_path: Path) -> None:
    browser = requests.Session()
    with served_demo(tmp_path) as url:
        page = browser.post(f"{url}/login", data={"user": "Ada"}, timeout=TIMEOUT)
        assert "Logged in as <strong>Ada</strong>" in page.text

    with served_demo(tmp_path) as url:
        page = browser.get(url, timeout=TIMEOUT)

    assert "Logged in as <strong>Ada</strong>" in page.text
    assert "<strong>2</strong> times" in page.text


@pytest.mark.usefixtures("no_secret_in_environment")
def test_the_secret_is_drawn_once_and_kept_private(tmp_path: Path) -> None:
    folder = tmp_path / ".sessions-demo"
    with served_demo(folder):
        first = (folder / "secret").read_text(encoding="ascii")
    with served_demo(folder):
        second = (folder / "secret").read_text(encoding="ascii")

    assert first == second
    assert len(first) == 64
    assert sorted(path.name for path in folder.iterdir() if "secret" in path.name) == [
        "secret"
    ]
    if os.name == "posix":
        assert folder.stat().st_mode & 0o777 == 0o700
        assert (folder / "secret").stat().st_mode & 0o777 == 0o600
        assert (folder / "sessions.sqlite3").stat().st_mode & 0o777 == 0o600


def test_the_secret_from_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSION_SECRET", "from the environment")
    application = load_example("demo").build_app(directory=tmp_path)
    store = application.store
    assert isinstance(store, SQLiteStore)
    store.close()

    assert application.config.secret == (b"from the environment",)
    assert not (tmp_path / "secret").exists()


@contextmanager
def demo_process(directory: Path) -> Iterator[str]:
    """``python examples/demo.py --port 0`` started in ``directory`` without
    ``SESSION_SECRET``; yields its URL and stops it when the block ends."""
    environment = {k: v for k, v in os.environ.items() if k != "SESSION_SECRET"}
    with open(directory / f"demo-{os.urandom(4).hex()}.log", "w+b") as log:
        process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "demo.py"), "--port", "0"],
            cwd=directory,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        output = process.stdout
        assert output is not None
        try:
            lines: list[str] = []
            reader = threading.Thread(target=lambda: lines.append(output.readline()))
            reader.start()
            reader.join(timeout=30)
            if not lines or "http://" not in lines[0]:
                process.kill()
                reader.join()
                log.seek(0)
                pytest.fail(f"the demo did not start: {log.read().decode()}")
            yield lines[0].split()[-1]
        finally:
            process.terminate()
            process.communicate(timeout=30)


def test_two_demo_processes_in_one_directory_share_logins(tmp_path: Path) -> None:
    with demo_process(tmp_path) as first, demo_process(tmp_path) as second:
        assert first != second
        browser = requests.Session()

        browser.post(f"{first}/login", data={"user": "Grace"}, timeout=TIMEOUT)
        on_second = browser.get(second, timeout=TIMEOUT).text
        on_first = browser.get(first, timeout=TIMEOUT).text
        logged_in_cookie = browser.cookies["sid"]
        browser.post(f"{second}/logout", timeout=TIMEOUT)
        after_logout = requests.get(
            first, cookies={"sid": logged_in_cookie}, timeout=TIMEOUT
        ).text

    assert "Logged in as <strong>Grace</strong>" in on_second
    assert "<strong>3</strong> times" in on_first, "both count one session's visits"
    assert "Log in" in after_logout, "a logout on one must end the session on both"
