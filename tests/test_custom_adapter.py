"""The ``http.server`` adapter of ``examples/custom_adapter.py``, beyond the
shared behaviour suite (which runs it through
``tests/behaviour/apps/custom_app.py``): its runnable demo, TLS, persistent
connections, and the mistakes of a handler that it reports.

Every test serves a handler with the standard library's own server on
127.0.0.1 and talks to it with a real client.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
import requests
import trustme

from sessions import CookieOptions, MemoryStore, SessionConfig, Store
from sessions.cookies import parse_set_cookie
from tests.behaviour.apps.custom_app import serve_handler

if TYPE_CHECKING:
    import custom_adapter
else:
    from tests.behaviour.apps.custom_app import custom_adapter

TIMEOUT = 10.0


class Handler(custom_adapter.SessionRequestHandler):
    """``/set?<value>`` stores ``value``, ``/`` only reads; both answer with
    the value, the session id and the client's port. HTTP/1.0, so the server
    closes each connection and can stop at once."""

    session_config = SessionConfig(
        secret="custom adapter tests", cookie=CookieOptions(secure=True)
    )
    session_store = MemoryStore()

    def log_message(self, format: str, *args: object) -> None:
        """No access log in the test output."""

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/set":
            self.session["value"] = query
        body = f"{self.session.get('value')} {self.session.id} {self.client_address[1]}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())


class PlainHandler(Handler):
    """:class:`Handler` with the default ``secure="auto"`` cookie."""

    session_config = SessionConfig(secret="custom adapter tests")


class KeepingHandler(PlainHandler):
    """:class:`PlainHandler` over HTTP/1.1, which keeps connections open."""

    protocol_version = "HTTP/1.1"


class MisbehavingHandler(Handler):
    """``/silent`` changes the session and sends no response at all;
    ``/cut`` promises 100 bytes, sends 5 and fails."""

    def do_GET(self) -> None:
        self.session["value"] = self.path
        if self.path == "/cut":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"short")
            raise RuntimeError("the handler failed halfway through its body")


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls(authority: trustme.CA) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def ca_file(authority: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_the_demo_counts_each_browsers_visits(browser: requests.Session) -> None:
    with serve_handler(custom_adapter.VisitCounter) as url:
        first = browser.get(url, timeout=TIMEOUT)
        second = browser.get(url, timeout=TIMEOUT)
        other = requests.get(url, timeout=TIMEOUT)

    assert first.text == "Visits in this session: 1\n"
    assert second.text == "Visits in this session: 2\n"
    assert other.text == "Visits in this session: 1\n"
    assert other.cookies["sid"] != browser.cookies["sid"]


def test_a_tls_connection_is_secure_and_plain_http_is_not(
    tls: ssl.SSLContext, ca_file: str
) -> None:
    # A Secure-only cookie is sent (and its session stored) over TLS alone;
    # "auto" marks the cookie Secure exactly on TLS. Each request is a new
    # client's, with no cookie.
    with serve_handler(Handler, tls=tls) as url:
        over_tls = requests.get(f"{url}/set?a", verify=ca_file, timeout=TIMEOUT)
    with serve_handler(Handler) as url:
        plain = requests.get(f"{url}/set?b", timeout=TIMEOUT)
    with serve_handler(PlainHandler, tls=tls) as url:
        auto_tls = requests.get(f"{url}/set?c", verify=ca_file, timeout=TIMEOUT)
    with serve_handler(PlainHandler) as url:
        auto_plain = requests.get(f"{url}/set?d", timeout=TIMEOUT)

    assert parse_set_cookie(over_tls.headers["Set-Cookie"]).secure is True
    assert "Set-Cookie" not in plain.headers
    assert parse_set_cookie(auto_tls.headers["Set-Cookie"]).secure is True
    assert parse_set_cookie(auto_plain.headers["Set-Cookie"]).secure is False


@contextlib.contextmanager
def connected(
    handler: type[custom_adapter.SessionRequestHandler],
) -> Iterator[http.client.HTTPConnection]:
    """Serve ``handler`` and yield a raw client connection to it, closed on
    exit before the server stops."""
    with serve_handler(handler) as url:
        connection = http.client.HTTPConnection(
            url.removeprefix("http://"), timeout=TIMEOUT
        )
        try:
            yield connection
        finally:
            connection.close()


def _get(
    connection: http.client.HTTPConnection, path: str, cookie: str | None = None
) -> tuple[list[str], str | None]:
    """``GET path`` on ``connection``: the words of the body, and the
    ``Set-Cookie`` field if there is one."""
    connection.request(
        "GET", path, headers={} if cookie is None else {"Cookie": cookie}
    )
    response = connection.getresponse()
    return response.read().decode().split(), response.getheader("Set-Cookie")


def test_each_request_on_a_kept_connection_has_its_own_session() -> None:
    with connected(KeepingHandler) as connection:
        created, cookie = _get(connection, "/set?ada")
        assert cookie is not None
        returning, again = _get(connection, "/", cookie.split(";", 1)[0])
        fresh, none = _get(connection, "/")

    assert len({created[2], returning[2], fresh[2]}) == 1, "one connection"
    assert returning[:2] == created[:2]  # the same session, read back
    assert again is None  # a read sends no cookie: nothing left from before
    assert fresh[0] == "None"
    assert fresh[1] != created[1]  # no cookie: a new session, not the last one
    assert none is None


def test_a_handler_that_sends_no_response_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with connected(MisbehavingHandler) as connection:
        connection.request("GET", "/silent")
        with pytest.raises(http.client.RemoteDisconnected):
            connection.getresponse()

    messages = [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.ERROR
    ]
    assert messages == ["no response was sent, so the session was not committed"]


def test_a_failure_after_the_response_started_cuts_it_short(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with connected(MisbehavingHandler) as connection:
        connection.request("GET", "/cut")
        response = connection.getresponse()
        status = response.status
        with pytest.raises(http.client.IncompleteRead):
            response.read()

    errors = [
        record.exc_info[1]
        for record in caplog.records
        if record.levelno == logging.ERROR and record.exc_info is not None
    ]
    assert status == 200
    assert [str(error) for error in errors] == [
        "the handler failed halfway through its body"
    ]


def test_an_asynchronous_store_is_refused_when_the_class_is_made() -> None:
    asynchronous = cast(Store, MemoryStore().as_async())

    with pytest.raises(TypeError, match="asynchronous store"):

        class Broken(custom_adapter.SessionRequestHandler):
            session_config = SessionConfig(secret="custom adapter tests")
            session_store = asynchronous
