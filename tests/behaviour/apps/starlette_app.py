"""The behaviour suite's test application for the ASGI adapter under
Starlette, served by uvicorn: what most users of the ASGI adapter run.

The endpoint is reached through Starlette's routing and works with
``request.session``; it detaches with ``session.detach()``, and carries out
late actions in a background task, which Starlette runs once the response
has been sent. The session
middleware is installed with ``Middleware(...)`` inside the application, and
``spec.mount`` is honoured with a ``Mount`` in an outer application, so the
session middleware sees the prefix in ``root_path`` as Starlette sets it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from sessions import AsyncSession
from sessions_adapters.asgi import ASGIApp, SessionMiddleware
from tests.behaviour.actions import (
    IGNORED_BODY,
    HandlerFailure,
    plan_from_query,
    render_body,
    run_async_actions,
)
from tests.behaviour.apps.asgi_app import full_path, probed
from tests.behaviour.harness import AppSpec
from tests.behaviour.servers import serve_asgi

__all__ = ["build_app", "serve"]


async def endpoint(request: Request) -> Response:
    """Do what the query string says; see :mod:`tests.behaviour.actions`."""
    plan = plan_from_query(request.url.query)
    session: AsyncSession | None = None
    if plan.ignore:
        body = IGNORED_BODY
    else:
        # None outside cookie.path; the typed session otherwise.
        found: object = request.session
        if found is not None:
            assert isinstance(found, AsyncSession)
            session = found
            await run_async_actions(session, plan.actions, session.detach)
        body = render_body(session)
    if plan.fail:
        raise HandlerFailure("the handler was told to fail")

    late = None
    if session is not None and plan.late_actions:
        late = BackgroundTask(
            run_async_actions, session, plan.late_actions, session.detach
        )
    return Response(
        body,
        status_code=plan.status_code,
        headers=dict(plan.headers()),
        background=late,
    )


def build_app(spec: AppSpec) -> ASGIApp:
    """The complete test application for ``spec``."""
    probe = spec.probe

    async def observed(request: Request) -> Response:
        probe.handler_ran(full_path(request.scope))
        return await endpoint(request)

    app: ASGIApp = Starlette(
        routes=[Route("/{path:path}", observed)],
        middleware=[
            Middleware(
                SessionMiddleware, config=spec.config, store=spec.store.as_async()
            )
        ],
    )
    if spec.mount:
        app = Starlette(routes=[Mount(spec.mount, app=app)])
    return probed(app, probe)


@contextlib.contextmanager
def serve(spec: AppSpec) -> Iterator[str]:
    """Serve the test application with uvicorn on an ephemeral port."""
    with serve_asgi(build_app(spec)) as url:
        yield url
