"""The behaviour suite's test application for the WSGI adapter.

The handler reads its :class:`~tests.behaviour.actions.Plan` from the query
string and reaches the session with ``get_session(environ)``. The stack, from
the server inwards: the probe, the mount (moves the prefix from
``PATH_INFO`` to ``SCRIPT_NAME``), :class:`SessionMiddleware`, the handler.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from sessions import NoSessionError, SyncSession
from sessions_adapters.wsgi import ENVIRON_KEY, SessionMiddleware, get_session
from tests.behaviour.actions import (
    IGNORED_BODY,
    HandlerFailure,
    Plan,
    plan_from_query,
    render_body,
    run_sync_actions,
)
from tests.behaviour.harness import AppSpec, Probe
from tests.behaviour.servers import serve_wsgi

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["build_app", "serve"]


def detach_from(environ: WSGIEnvironment) -> Callable[[], None]:
    """The WSGI way of letting go of the session: clear its environ key."""
    return lambda: environ.__setitem__(ENVIRON_KEY, None)


def _late_body(
    body: bytes, session: SyncSession, plan: Plan, environ: WSGIEnvironment
) -> Iterator[bytes]:
    """Send the body, then carry out the late actions: by then the response
    has started."""
    yield body
    run_sync_actions(session, plan.late_actions, detach_from(environ))


def handler(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Do what the query string says; see :mod:`tests.behaviour.actions`."""
    plan = plan_from_query(environ.get("QUERY_STRING", ""))
    session: SyncSession | None = None
    if plan.ignore:
        body = IGNORED_BODY
    else:
        with contextlib.suppress(NoSessionError):
            session = get_session(environ)
        if session is not None:
            run_sync_actions(session, plan.actions, detach_from(environ))
        body = render_body(session)
    if plan.fail:
        raise HandlerFailure("the handler was told to fail")
    start_response(plan.status_line, plan.headers())
    if session is not None and plan.late_actions:
        return _late_body(body, session, plan, environ)
    return [body]


def _mounted(app: WSGIApplication, prefix: str) -> WSGIApplication:
    def mount(
        environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path != prefix and not path.startswith(prefix + "/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"outside the mount"]
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
        environ["PATH_INFO"] = path[len(prefix) :]
        return app(environ, start_response)

    return mount


class _ProbedBody:
    """A response body that reports errors and the end of the request."""

    def __init__(self, body: Iterable[bytes], probe: Probe) -> None:
        self._body = body
        self._probe = probe

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body
        except BaseException as error:
            self._probe.error(error)
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        except BaseException as error:
            self._probe.error(error)
            raise
        finally:
            self._probe.request_finished()


def _probed(app: WSGIApplication, probe: Probe) -> WSGIApplication:
    def probed(
        environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        probe.request_started()
        try:
            body = app(environ, start_response)
        except BaseException as error:
            probe.error(error)
            probe.request_finished()
            raise
        return _ProbedBody(body, probe)

    return probed


def build_app(spec: AppSpec) -> WSGIApplication:
    """The complete test application for ``spec``."""
    probe = spec.probe

    def observed(
        environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        probe.handler_ran(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
        return handler(environ, start_response)

    app: WSGIApplication = SessionMiddleware(observed, spec.config, spec.store)
    if spec.mount:
        app = _mounted(app, spec.mount)
    return _probed(app, probe)


@contextlib.contextmanager
def serve(spec: AppSpec) -> Iterator[str]:
    """Serve the test application with :mod:`wsgiref` on an ephemeral port."""
    with serve_wsgi(build_app(spec)) as url:
        yield url
