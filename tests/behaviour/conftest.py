"""Fixtures that run every behaviour test once per adapter.

An adapter joins the suite with one module under ``apps/`` whose ``serve``
runs its test application behind a real server (what that application must
do is written in :mod:`tests.behaviour.apps`), and one entry in
:data:`ADAPTERS`. The tests themselves never change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from sessions import SessionConfig
from tests.behaviour.apps import (
    aiohttp_app,
    asgi_app,
    custom_app,
    starlette_app,
    tornado_app,
    wsgi_app,
)
from tests.behaviour.client import Client
from tests.behaviour.harness import (
    AppSpec,
    MakeServer,
    Probe,
    Serve,
    Server,
    SpyStore,
    adapter_errors_to,
    session_config,
)

ADAPTERS: dict[str, Serve] = {
    "aiohttp": aiohttp_app.serve,
    "asgi": asgi_app.serve,
    "custom": custom_app.serve,
    "starlette": starlette_app.serve,
    "tornado": tornado_app.serve,
    "wsgi": wsgi_app.serve,
}


@pytest.fixture(params=sorted(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def make_server(adapter: str) -> Iterator[MakeServer]:
    """Start the current adapter's test application; stopped after the test.

    When the test is over, any exception that crossed the application and
    the test did not take with ``server.probe.take_errors()`` fails it.
    """
    servers: list[Server] = []
    with contextlib.ExitStack() as stack:

        def make(
            *,
            config: SessionConfig | None = None,
            store: SpyStore | None = None,
            mount: str = "",
        ) -> Server:
            spec = AppSpec(
                config=config if config is not None else session_config(),
                store=store if store is not None else SpyStore(),
                probe=Probe(),
                mount=mount,
            )
            stack.enter_context(adapter_errors_to(spec.probe))
            url = stack.enter_context(ADAPTERS[adapter](spec))
            server = Server(
                url=url,
                config=spec.config,
                store=spec.store,
                probe=spec.probe,
            )
            stack.callback(server.close_clients)
            servers.append(server)
            return server

        yield make

        for server in servers:
            errors = server.probe.take_errors()
            assert not errors, f"unexpected errors in the application: {errors!r}"


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    """The current adapter's test application with the default configuration:
    ``secret="keyboard cat"``, a 60-second persistent cookie."""
    return make_server()


@pytest.fixture
def client(server: Server) -> Client:
    return server.client()
