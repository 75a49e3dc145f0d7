"""The behaviour suite's test application for the ``http.server`` adapter of
``examples/custom_adapter.py``, served by the standard library's
:class:`~http.server.ThreadingHTTPServer`.

One handler class per :class:`~tests.behaviour.harness.AppSpec`, a subclass
of the example's ``SessionRequestHandler``, reads its
:class:`~tests.behaviour.actions.Plan` from the query string and works with
``self.session``; it detaches with ``session.detach()``, and carries out the
late actions after the body is written. ``http.server`` has no mounting:
routing is the handler's own business, so ``spec.mount`` is a prefix the
handler serves, with a 404 for any other path, like a route prefix in
Tornado. Errors reach the probe through the example's logger, which is how
that adapter reports every exception it absorbs.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar

from sessions import NoSessionError, SyncSession
from sessions.cycle import path_matches
from tests.behaviour.actions import (
    IGNORED_BODY,
    HandlerFailure,
    plan_from_query,
    render_body,
    run_sync_actions,
)
from tests.behaviour.harness import AdapterErrors, AppSpec, Probe

if TYPE_CHECKING:
    import custom_adapter
else:
    from tests.test_examples import load_example

    custom_adapter = load_example("custom_adapter")

__all__ = ["BehaviourHandler", "serve", "serve_handler"]

HOST = "127.0.0.1"


class BehaviourHandler(custom_adapter.SessionRequestHandler):
    """Does what the query string says; see :mod:`tests.behaviour.actions`.

    A subclass made by :func:`serve` sets the session configuration and
    store, the probe and the mount prefix.
    """

    probe: ClassVar[Probe]
    mount: ClassVar[str] = ""

    def log_message(self, format: str, *args: Any) -> None:
        """No access log in the test output."""

    def handle_one_request(self) -> None:
        self.probe.request_started()
        try:
            super().handle_one_request()
        finally:
            self.probe.request_finished()

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if self.mount and not path_matches(path, self.mount):
            self._answer(404, [("Content-Type", "text/plain")], b"outside the mount")
            return
        self.probe.handler_ran(path)
        plan = plan_from_query(query)
        session: SyncSession | None = None
        if plan.ignore:
            body = IGNORED_BODY
        else:
            with contextlib.suppress(NoSessionError):
                session = self.session
            if session is not None:
                run_sync_actions(session, plan.actions, session.detach)
            body = render_body(session)
        if plan.fail:
            raise HandlerFailure("the handler was told to fail")
        self._answer(plan.status_code, plan.headers(), body)
        if session is not None and plan.late_actions:
            self.wfile.flush()
            run_sync_actions(session, plan.late_actions, session.detach)


class _Server(ThreadingHTTPServer):
    """One thread per request; ``server_close`` joins them all."""

    daemon_threads = False
    block_on_close = True


@contextlib.contextmanager
def serve_handler(
    handler: type[BaseHTTPRequestHandler], *, tls: ssl.SSLContext | None = None
) -> Iterator[str]:
    """Serve ``handler`` with a :class:`ThreadingHTTPServer` on an ephemeral
    port, over TLS with the server context ``tls``; yield the base URL, and
    on exit stop the server and join its threads."""
    server = _Server((HOST, 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        scheme = "http" if tls is None else "https"
        yield f"{scheme}://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def serve(spec: AppSpec) -> Iterator[str]:
    """Serve the test application with ``http.server`` on an ephemeral port."""

    class Handler(BehaviourHandler):
        session_config = spec.config
        session_store = spec.store
        probe = spec.probe
        mount = spec.mount

    errors = AdapterErrors(spec.probe)
    custom_adapter.logger.addHandler(errors)
    try:
        with serve_handler(Handler) as url:
            yield url
    finally:
        custom_adapter.logger.removeHandler(errors)
