"""The behaviour suite's test application for the Tornado adapter, served by
Tornado's ``HTTPServer``.

One handler class, with :class:`SessionMixin`, reads its
:class:`~tests.behaviour.actions.Plan` from the query string and works with
``self.session``; it detaches with ``session.detach()``, redirects with
``self.redirect()``, and for late actions calls ``await self.flush()``
first, so the headers have gone out. The configuration and store travel in
the application settings, and ``spec.mount`` becomes a prefix of the route
pattern (Tornado has no mounting of its own; other paths get its 404).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from types import TracebackType

import tornado.web

from sessions import AsyncSession, NoSessionError
from sessions_adapters.tornado import SessionMixin
from tests.behaviour.actions import (
    IGNORED_BODY,
    HandlerFailure,
    plan_from_query,
    render_body,
    run_async_actions,
)
from tests.behaviour.harness import AppSpec, Probe
from tests.behaviour.servers import serve_tornado

__all__ = ["ProbedHandler", "build_app", "serve"]


class ProbedHandler(SessionMixin, tornado.web.RequestHandler):
    """A session handler that reports to the probe given in its route's
    keyword arguments: the request's start and end, every exception Tornado
    logs for it but HTTP errors, and every error the adapter logs."""

    probe: Probe

    def initialize(self, probe: Probe) -> None:
        self.probe = probe
        probe.request_started()

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if value is not None and not isinstance(value, tornado.web.HTTPError):
            self.probe.error(value)
        super().log_exception(typ, value, tb)

    def on_finish(self) -> None:
        super().on_finish()
        self.probe.request_finished()


class BehaviourHandler(ProbedHandler):
    """Does what the query string says; see :mod:`tests.behaviour.actions`."""

    async def get(self) -> None:
        self.probe.handler_ran(self.request.path)
        plan = plan_from_query(self.request.query)
        session: AsyncSession | None = None
        if plan.ignore:
            body = IGNORED_BODY
        else:
            with contextlib.suppress(NoSessionError):
                session = self.session
            if session is not None:
                await run_async_actions(session, plan.actions, session.detach)
            body = render_body(session)
        if plan.fail:
            raise HandlerFailure("the handler was told to fail")

        for name, value in plan.headers():
            if name == "Set-Cookie":
                self.add_header(name, value)
            elif name != "Location":  # self.redirect() sets that one
                self.set_header(name, value)
        self.write(body)
        if plan.redirect is not None:
            self.redirect(plan.redirect)
            return
        self.set_status(plan.status_code)
        if session is not None and plan.late_actions:
            await self.flush()
            await run_async_actions(session, plan.late_actions, session.detach)


def build_app(spec: AppSpec) -> tornado.web.Application:
    """The complete test application for ``spec``."""
    pattern = re.escape(spec.mount) + r"(?:/.*)?" if spec.mount else r"/.*"
    return tornado.web.Application(
        [(pattern, BehaviourHandler, {"probe": spec.probe})],
        session_config=spec.config,
        session_store=spec.store.as_async(),
    )


@contextlib.contextmanager
def serve(spec: AppSpec) -> Iterator[str]:
    """Serve the test application with Tornado on an ephemeral port."""
    with serve_tornado(build_app(spec)) as url:
        yield url
