"""What only the aiohttp adapter has: a response the handler prepares and
streams itself, and HTTP errors raised as exceptions."""

from __future__ import annotations

import json
from collections.abc import Iterator

import attrs
import pytest
from aiohttp import web

from sessions_adapters.aiohttp import get_session, session_middleware
from tests.behaviour.client import Client
from tests.behaviour.harness import SpyStore, session_config
from tests.behaviour.servers import serve_aiohttp


def build_app(store: SpyStore) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/stream")
    async def stream(request: web.Request) -> web.StreamResponse:
        session = await get_session(request)
        session["user"] = "ada"
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        # prepare() has sent the status line: the store must have it all.
        record = store.peek(session.id)
        stored = record is not None and record.data == {"user": "ada"}
        await response.write(b'{"stored_before_body": ')
        await response.write(json.dumps(stored).encode() + b"}")
        await response.write_eof()
        return response

    @routes.get("/login")
    async def login(request: web.Request) -> web.Response:
        session = await get_session(request)
        session.regenerate()
        session["user"] = request.query["user"]
        raise web.HTTPSeeOther("/me")

    @routes.get("/me")
    async def me(request: web.Request) -> web.Response:
        session = await get_session(request)
        return web.json_response({"id": session.id, "user": session.get("user")})

    app = web.Application(
        middlewares=[session_middleware(session_config(), store.as_async())]
    )
    app.add_routes(routes)
    return app


@attrs.frozen
class AiohttpSite:
    client: Client
    store: SpyStore


@pytest.fixture
def site() -> Iterator[AiohttpSite]:
    store = SpyStore()
    with serve_aiohttp(build_app(store)) as url, Client(url, "sid") as client:
        yield AiohttpSite(client, store)


def test_stream_prepared_by_the_handler_is_committed_in_prepare(
    site: AiohttpSite,
) -> None:
    reply = site.client.get("/stream")

    assert reply.body == {"stored_before_body": True}
    assert "content-length" not in reply.headers
    assert reply.session_cookie is not None
    me = site.client.get("/me")
    assert me.body is not None
    assert me.body["user"] == "ada"
    assert site.store.ids("set") == [me.body["id"]]


def test_raised_http_see_other_is_committed(site: AiohttpSite) -> None:
    site.store.delay("set", 0.2)

    reply = site.client.get("/login?user=ada", follow=True)

    (redirect,) = reply.history
    assert redirect.status == 303
    assert redirect.session_cookie is not None
    assert reply.body is not None
    assert reply.body["user"] == "ada"
    assert site.store.ids("set") == [reply.body["id"]]
