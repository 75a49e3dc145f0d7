"""The behaviour suite's test application for the aiohttp adapter, served by
aiohttp's own ``AppRunner`` and ``TCPSite``.

The handler reads its :class:`~tests.behaviour.actions.Plan` from the query
string and reaches the session with ``await get_session(request)``; it
detaches with ``session.detach()``. A plan with late actions is answered
with a ``StreamResponse`` the handler prepares and completes itself, after
which it carries the actions out. The stack, from the server inwards: the
probe middleware, the mount (a sub-application with the session middleware
of its own), ``session_middleware``, the handler.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDict

from sessions import AsyncSession, NoSessionError
from sessions_adapters.aiohttp import get_session, session_middleware
from tests.behaviour.actions import (
    IGNORED_BODY,
    HandlerFailure,
    Plan,
    plan_from_query,
    render_body,
    run_async_actions,
)
from tests.behaviour.harness import AppSpec, Probe
from tests.behaviour.servers import serve_aiohttp

__all__ = ["build_app", "serve"]


async def _streamed(
    request: web.Request, body: bytes, session: AsyncSession, plan: Plan
) -> web.StreamResponse:
    """Send the whole response, then carry out the late actions: by then the
    response has started (and ended)."""
    response = web.StreamResponse(
        status=plan.status_code, headers=CIMultiDict(plan.headers())
    )
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body)
    await response.write_eof()
    await run_async_actions(session, plan.late_actions, session.detach)
    return response


async def handler(request: web.Request) -> web.StreamResponse:
    """Do what the query string says; see :mod:`tests.behaviour.actions`."""
    plan = plan_from_query(request.rel_url.raw_query_string)
    session: AsyncSession | None = None
    if plan.ignore:
        body = IGNORED_BODY
    else:
        with contextlib.suppress(NoSessionError):
            session = await get_session(request)
        if session is not None:
            await run_async_actions(session, plan.actions, session.detach)
        body = render_body(session)
    if plan.fail:
        raise HandlerFailure("the handler was told to fail")

    if session is not None and plan.late_actions:
        return await _streamed(request, body, session, plan)
    return web.Response(
        status=plan.status_code, body=body, headers=CIMultiDict(plan.headers())
    )


def _probe_middleware(probe: Probe) -> Middleware:
    """Report every request, and any exception but an HTTP error response,
    to ``probe``."""

    @web.middleware
    async def report(request: web.Request, handler: Handler) -> web.StreamResponse:
        probe.request_started()
        try:
            return await handler(request)
        except web.HTTPException:
            raise  # a response, not a failure
        except BaseException as error:
            probe.error(error)
            raise
        finally:
            probe.request_finished()

    return report


def build_app(spec: AppSpec) -> web.Application:
    """The complete test application for ``spec``."""
    probe = spec.probe

    async def observed(request: web.Request) -> web.StreamResponse:
        probe.handler_ran(request.path)
        return await handler(request)

    sessions = session_middleware(spec.config, spec.store.as_async())
    report = _probe_middleware(probe)
    if not spec.mount:
        app = web.Application(middlewares=[report, sessions])
        app.router.add_get("/{tail:.*}", observed)
        return app
    mounted = web.Application(middlewares=[sessions])
    mounted.router.add_get("/{tail:.*}", observed)
    root = web.Application(middlewares=[report])
    root.add_subapp(spec.mount, mounted)
    return root


@contextlib.contextmanager
def serve(spec: AppSpec) -> Iterator[str]:
    """Serve the test application with aiohttp on an ephemeral port."""
    with serve_aiohttp(build_app(spec)) as url:
        yield url
