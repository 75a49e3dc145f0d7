"""The behaviour suite's test application for the ASGI adapter, as a raw ASGI
application with no framework, served by uvicorn.

The handler reads its :class:`~tests.behaviour.actions.Plan` from the query
string and reaches the session with ``get_session(scope)``; it detaches by
setting ``scope["session"] = None``, and carries out late actions after the
last body message has gone out. The stack, from the server inwards: the
probe, the mount (moves the prefix from ``path`` to ``root_path``),
:class:`SessionMiddleware`, the handler.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sessions import AsyncSession, NoSessionError
from sessions_adapters.asgi import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    SessionMiddleware,
    get_session,
)
from tests.behaviour.actions import (
    IGNORED_BODY,
    HandlerFailure,
    plan_from_query,
    render_body,
    run_async_actions,
)
from tests.behaviour.harness import AppSpec, Probe
from tests.behaviour.servers import serve_asgi

__all__ = ["build_app", "full_path", "probed", "serve"]


def full_path(scope: Scope) -> str:
    """The request's path including any mount prefix, whether or not the
    server or router already put ``root_path`` in front of ``path``."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or path == root_path or path.startswith(root_path + "/"):
        return path
    return root_path + path


def _encoded(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode(), value.encode()) for name, value in headers]


async def handler(scope: Scope, receive: Receive, send: Send) -> None:
    """Do what the query string says; see :mod:`tests.behaviour.actions`."""
    plan = plan_from_query(scope["query_string"].decode("latin-1"))
    session: AsyncSession | None = None

    def detach() -> None:
        scope["session"] = None

    if plan.ignore:
        body = IGNORED_BODY
    else:
        with contextlib.suppress(NoSessionError):
            session = get_session(scope)
        if session is not None:
            await run_async_actions(session, plan.actions, detach)
        body = render_body(session)
    if plan.fail:
        raise HandlerFailure("the handler was told to fail")

    await send(
        {
            "type": "http.response.start",
            "status": plan.status_code,
            "headers": _encoded(plan.headers()),
        }
    )
    await send({"type": "http.response.body", "body": body})
    if session is not None:
        # The response is complete on the wire: whatever happens now is late.
        await run_async_actions(session, plan.late_actions, detach)


async def _not_found(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"outside the mount"})


def _mounted(app: ASGIApp, prefix: str) -> ASGIApp:
    """Serve ``app`` under ``prefix``, moving the prefix from ``path`` to
    ``root_path`` as WSGI moves it to ``SCRIPT_NAME``.

    Starlette's ``Mount`` leaves ``path`` whole instead; the Starlette test
    application covers that convention, this one the other.
    """

    async def mount(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path != prefix and not path.startswith(prefix + "/"):
            await _not_found(send)
            return
        root_path = scope.get("root_path", "") + prefix
        inner = {**scope, "root_path": root_path, "path": path[len(prefix) :]}
        await app(inner, receive, send)

    return mount


def probed(app: ASGIApp, probe: Probe) -> ASGIApp:
    """Report every HTTP request, and any exception that crosses ``app``, to
    ``probe``; other scope types pass straight through."""

    async def report(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        probe.request_started()
        try:
            await app(scope, receive, send)
        except BaseException as error:
            probe.error(error)
            raise
        finally:
            probe.request_finished()

    return report


def build_app(spec: AppSpec) -> ASGIApp:
    """The complete test application for ``spec``."""
    probe = spec.probe

    async def observed(scope: Scope, receive: Receive, send: Send) -> None:
        probe.handler_ran(full_path(scope))
        await handler(scope, receive, send)

    app: ASGIApp = SessionMiddleware(observed, spec.config, spec.store.as_async())
    if spec.mount:
        app = _mounted(app, spec.mount)
    return probed(app, probe)


@contextlib.contextmanager
def serve(spec: AppSpec) -> Iterator[str]:
    """Serve the test application with uvicorn on an ephemeral port."""
    with serve_asgi(build_app(spec)) as url:
        yield url
