"""Sessions for any WSGI application (Flask, Django, Bottle, Pyramid, ...).

Wrap the application once::

    from sessions import SessionConfig
    from sessions_adapters.wsgi import SessionMiddleware, get_session

    app = SessionMiddleware(app, SessionConfig(secret="..."))

and reach the session from any code that sees the WSGI ``environ``::

    session = get_session(environ)
    session["user"] = "ada"

The session is committed inside the application's call to
``start_response``: the store write has finished before the status line can
reach the client, and the ``Set-Cookie`` fields are appended to the
application's own headers. A store failure there propagates out of
``start_response``, so the server answers 500 and no cookie is sent.
``save()`` and ``reload()`` are plain calls. Setting
``environ["sessions.session"] = None`` detaches the session (see
``SessionConfig.unset``), like ``req.session = null`` in express-session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from sessions.config import SessionConfig
from sessions.cycle import RequestFacts
from sessions.errors import NoSessionError
from sessions.runner import SyncRunner, SyncSession, sync_store, utc_now
from sessions.signing import IdSigner
from sessions.stores.base import Store
from sessions_adapters._common import (
    CommitLog,
    finish_after_error,
    finish_cycle,
)

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["ENVIRON_KEY", "SessionMiddleware", "get_session"]

logger = logging.getLogger(__name__)

ENVIRON_KEY = "sessions.session"
"""Where the session lives in the WSGI environ."""


def get_session(environ: WSGIEnvironment) -> SyncSession:
    """Return the request's session.

    Raises:
        NoSessionError: :class:`SessionMiddleware` does not wrap this
            application, the request is outside ``cookie.path``, or the
            session was detached.
    """
    session = environ.get(ENVIRON_KEY)
    if not isinstance(session, SyncSession):
        raise NoSessionError(
            "no session in this request: is SessionMiddleware installed, and "
            "is the path inside cookie.path?"
        )
    return session


def request_facts(environ: WSGIEnvironment, now: datetime) -> RequestFacts:
    """Translate a WSGI environ into the core's request facts."""
    cookie = environ.get("HTTP_COOKIE")
    forwarded = environ.get("HTTP_X_FORWARDED_PROTO")
    return RequestFacts(
        cookie_headers=(cookie,) if cookie else (),
        path=environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "") or "/",
        is_tls=environ.get("wsgi.url_scheme") == "https",
        forwarded_proto=(forwarded,) if forwarded else (),
        now=now,
    )


class _Closing:
    """The application's response body, closing the session cycle after the
    body's own ``close()``."""

    __slots__ = ("_body", "_failed", "_runner")

    def __init__(self, body: Iterable[bytes], runner: SyncRunner) -> None:
        self._body = body
        self._runner = runner
        self._failed = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body
        except BaseException:
            self._failed = True
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            if self._failed:
                # The body's own error is what the server must report.
                finish_after_error(self._runner)
            else:
                finish_cycle(self._runner, logger)


class SessionMiddleware:
    """WSGI middleware that gives every request a server-side session.

    Args:
        app: The WSGI application to wrap.
        config: The session configuration.
        store: A synchronous store; ``None`` means a new
            :class:`~sessions.MemoryStore` (one process only).
        clock: Returns the current time (timezone-aware); for tests.
    """

    def __init__(
        self,
        app: WSGIApplication,
        config: SessionConfig,
        store: Store | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.app = app
        self.config = config
        self.store = sync_store(store)
        self.clock = clock
        self._signer = IdSigner(config.secret)
        self._commit_log = CommitLog(logger)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        runner = SyncRunner(
            self.config, self.store, signer=self._signer, clock=self.clock
        )
        try:
            session = runner.load(request_facts(environ, self.clock()))
        except BaseException:
            finish_after_error(runner)
            raise
        environ[ENVIRON_KEY] = session
        cookies: list[str] | None = None

        def session_start_response(
            status: str,
            headers: list[tuple[str, str]],
            exc_info: OptExcInfo | None = None,
        ) -> Callable[[bytes], object]:
            nonlocal cookies
            if cookies is None:
                # A commit that fails is not tried again: an application that
                # answers the failure with its own error page (a second call
                # with exc_info, as PEP 3333 allows) sends it with no cookie.
                cookies = []
                if session is not None and environ.get(ENVIRON_KEY) is None:
                    session.detach()
                cookies = runner.commit()
                self._commit_log.report(runner)
            headers = [*headers, *(("Set-Cookie", value) for value in cookies)]
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, session_start_response)
        except BaseException:
            finish_after_error(runner)
            raise
        return _Closing(body, runner)
