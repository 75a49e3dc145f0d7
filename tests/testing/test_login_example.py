"""A property-based test of a login flow.

Hypothesis plays a browser, and an attacker beside it, against a small WSGI
application with ``/login``, ``/whoami`` and ``/logout``. It picks the
order of the requests and how much time passes between them, and checks
every answer against a model of who must be logged in:

- ``/whoami`` names the user of the last login until the session expires,
  and nobody after a logout;
- every login moves the session to a new id and deletes the old one;
- a tampered cookie, a cookie for an id the server never issued, or a
  hostile ``Cookie`` header never logs anyone in.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sessions import CookieOptions, MemoryStore, SessionConfig
from sessions.signing import IdSigner
from sessions.testing import ManualClock, SequentialIds
from sessions.testing import strategies as sst
from sessions.testing.clients.wsgi import WSGIClient
from sessions_adapters.wsgi import SessionMiddleware, get_session

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

LIFETIME = 3600  # seconds a login lasts (the cookie's max-age)


def login_app(
    config: SessionConfig, store: MemoryStore, clock: ManualClock
) -> WSGIApplication:
    """The application under test, on the test's store and clock."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = get_session(environ)
        route = (environ["REQUEST_METHOD"], environ["PATH_INFO"])
        if route == ("POST", "/login"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            form = parse_qs(environ["wsgi.input"].read(length).decode())
            session.regenerate()  # a new id at every login: no session fixation
            session["user"] = form["user"][0]
        elif route == ("POST", "/logout"):
            session.destroy()
        elif route != ("GET", "/whoami"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"user": session.get("user")}).encode()]

    return SessionMiddleware(app, config, store, clock=clock)


class LoginFlow(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Time and ids under the test's control, shared by everything.
        self.clock = ManualClock()
        self.ids = SequentialIds()
        self.config = SessionConfig(
            secret=["current secret", "previous secret"],
            genid=self.ids,
            cookie=CookieOptions(max_age=LIFETIME),
        )
        self.store = MemoryStore(clock=self.clock.time)
        app = login_app(self.config, self.store, self.clock)
        self.browser = WSGIClient(app, clock=self.clock)
        self.attacker = WSGIClient(app, clock=self.clock)
        self.signer = IdSigner(self.config.secret)
        # The model: who is logged in, and until when.
        self.user: str | None = None
        self.until = datetime.min.replace(tzinfo=self.clock().tzinfo)

    def teardown(self) -> None:
        self.browser.close()
        self.attacker.close()

    def expected_user(self) -> str | None:
        return self.user if self.clock() < self.until else None

    def session_id(self) -> str | None:
        """The id inside the browser's session cookie, if it has one."""
        value = self.browser.cookies.get(self.config.name)
        return None if value is None else self.signer.unsign(value)

    def whoami(self, client: WSGIClient, cookie: str | None = None) -> str | None:
        headers = {} if cookie is None else {"Cookie": cookie}
        response = client.get("/whoami", headers=headers)
        assert response.status == 200
        user: str | None = response.json()["user"]
        return user

    # -- what the browser does -------------------------------------------------

    @rule(user=st.sampled_from(["ada", "grace", "edsger"]))
    def log_in(self, user: str) -> None:
        before = self.session_id()
        response = self.browser.post("/login", data={"user": user})
        assert response.json() == {"user": user}
        after = self.session_id()
        assert after != before, "the login kept the session id"
        assert after == self.ids.last  # the id the login itself made
        if before is not None:
            assert self.store.get(before) is None, "the old id outlived the login"
        self.user, self.until = user, self.clock() + timedelta(seconds=LIFETIME)

    @rule()
    def ask_who_i_am(self) -> None:
        assert self.whoami(self.browser) == self.expected_user()

    @rule()
    def log_out(self) -> None:
        before = self.session_id()
        assert self.browser.post("/logout").json() == {"user": None}
        assert self.config.name not in self.browser.cookies
        if before is not None:
            assert self.store.get(before) is None
        self.user = None

    @rule(seconds=st.integers(min_value=1, max_value=2 * LIFETIME))
    def wait(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: self.expected_user() is not None)
    @rule()
    def wait_out_the_login(self) -> None:
        # The login holds to its last second, and not one second longer.
        self.clock.set(self.until - timedelta(seconds=1))
        assert self.whoami(self.browser) == self.user
        self.clock.advance(1)
        assert self.whoami(self.browser) is None

    @rule()
    def restart_the_browser(self) -> None:
        # The cookie has a max-age, so it outlives the browser session.
        self.browser.cookies.end_browser_session()

    # -- what the attacker does ---------------------------------------------------

    @precondition(lambda self: self.session_id() is not None)
    @rule(data=st.data())
    def tamper_with_the_cookie(self, data: st.DataObject) -> None:
        victim = self.session_id()
        assert victim is not None
        forged = data.draw(
            sst.tampered_cookie_headers(self.config, ids=st.just(victim))
        )
        assert self.whoami(self.attacker, forged.header) is None

    @rule(data=st.data())
    def present_an_id_never_issued(self, data: st.DataObject) -> None:
        unknown = sst.session_ids().filter(lambda id_: id_ not in self.ids.issued)
        forged = data.draw(sst.valid_cookie_headers(self.config, ids=unknown))
        assert self.whoami(self.attacker, forged.header) is None
        assert forged.session_id is not None
        assert self.store.get(forged.session_id) is None  # never adopted

    @rule(data=st.data())
    def send_a_hostile_header(self, data: st.DataObject) -> None:
        forged = data.draw(sst.hostile_cookie_headers(self.config))
        assert self.whoami(self.attacker, forged.header) is None

    @invariant()
    def the_attacker_never_holds_a_session(self) -> None:
        assert self.config.name not in self.attacker.cookies


LoginFlow.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None
)
TestLoginFlow = LoginFlow.TestCase
