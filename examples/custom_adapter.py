"""Sessions for the standard library's ``http.server``: a complete adapter on
the public core API, and a model for any framework not covered here.

Subclass :class:`SessionRequestHandler`, set ``session_config`` (and maybe
``session_store``), and use ``self.session`` in ``do_GET`` and friends. It is
loaded before ``do_<METHOD>`` runs and committed in ``send_response`` (or
``send_error``): change it before then, or ``save()`` it. An error before
``send_response`` is a 500 that commits nothing; after it, the response is
cut short; both go to this module's logger. See docs/core.md.
"""

from __future__ import annotations

import logging
import os
import secrets
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import unquote

import sessions
from sessions.runner import sync_store
from sessions.signing import IdSigner

logger = logging.getLogger(__name__)


class SessionRequestHandler(BaseHTTPRequestHandler):
    """A request handler whose requests have a server-side ``self.session``."""

    session_config: ClassVar[sessions.SessionConfig]  # set by a subclass
    session_store: ClassVar[sessions.Store | None] = None  # None: a MemoryStore
    _store: ClassVar[sessions.Store]
    _signer: ClassVar[IdSigner]

    _runner: sessions.SyncRunner | None = None  # this request's session cycle
    _commit_due = False  # loaded, and no commit tried yet
    _started = False  # the status line is written
    _cookies: tuple[str, ...] = ()  # Set-Cookie values waiting for end_headers

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        config = getattr(cls, "session_config", None)
        if config is not None:  # checked and built once per class
            cls._store = sync_store(cls.session_store)  # refuses an async store
            cls._signer = IdSigner(config.secret)

    @property
    def session(self) -> sessions.SyncSession:
        """This request's session; ``NoSessionError`` outside ``cookie.path``."""
        session = None if self._runner is None else self._runner.cycle.session
        if not isinstance(session, sessions.SyncSession):
            raise sessions.NoSessionError("no session: is the path in cookie.path?")
        return session

    def parse_request(self) -> bool:
        """Parse the request line and headers, then load the session."""
        if not super().parse_request():
            return False  # the server has answered with an error already
        runner = self._runner = sessions.SyncRunner(
            self.session_config, self._store, signer=self._signer
        )
        runner.load(  # a store failure raises, and the handler never runs
            sessions.RequestFacts(
                cookie_headers=tuple(self.headers.get_all("Cookie", ())),
                # Without the query, percent-decoded as WSGI and ASGI servers
                # give it; http.server has no mount prefix to add.
                path=unquote(self.path.partition("?")[0]) or "/",
                is_tls=isinstance(self.connection, ssl.SSLSocket),
                forwarded_proto=tuple(self.headers.get_all("X-Forwarded-Proto", ())),
                now=runner.clock(),
            )
        )
        for error in runner.outage:  # store_outage="read_only" let it pass
            logger.error("session store unreachable, read-only", exc_info=error)
        self._commit_due = True
        return True

    def send_response(self, code: int, message: str | None = None) -> None:
        """Commit the session (a store failure raises), then start the response."""
        if self._commit_due and self._runner is not None:
            self._commit_due = False  # a failed commit is not tried again
            self._cookies = tuple(self._runner.commit())
            for notice in self._runner.notices:  # nothing to do; say why
                logger.warning("session %s: %s", type(notice).__name__, notice.reason)
        super().send_response(code, message)
        self._started = True

    def end_headers(self) -> None:
        for value in self._cookies:  # one field each, after the handler's own
            self.send_header("Set-Cookie", value)
        self._cookies = ()
        super().end_headers()

    def handle_one_request(self) -> None:
        self._commit_due = self._started = failed = False
        self._cookies = ()
        try:
            super().handle_one_request()
        except Exception as error:
            failed = True
            logger.error("request failed", exc_info=error)
            self._commit_due = False  # a failed request commits nothing
            if self._started:
                self.close_connection = True  # too late for a 500
            else:
                self.send_error(500)
        runner, self._runner = self._runner, None
        if runner is None:
            return
        if self._commit_due:
            logger.error("no response was sent, so the session was not committed")
        try:
            runner.finish()
        except sessions.SessionCommittedError:
            if not failed:  # else the request's own error is the news
                logger.exception("a change made after the response began was lost")


class VisitCounter(SessionRequestHandler):
    """``python examples/custom_adapter.py``: counts visits on port 8000."""

    session_config = sessions.SessionConfig(
        secret=os.environ.get("SESSION_SECRET") or secrets.token_hex(32)
    )

    def do_GET(self) -> None:
        visits = self.session["visits"] = self.session.get("visits", 0) + 1
        self.send_response(200)
        self.end_headers()
        self.wfile.write(f"Visits in this session: {visits}\n".encode())


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", 8000), VisitCounter).serve_forever()
