"""The demo's login and counter flow as an aiohttp application.

Run it with ``pip install -e '.[examples]'`` and
``python examples/aiohttp_app.py``,
then open http://127.0.0.1:8000.
"""

from __future__ import annotations

import os
import secrets

from aiohttp import web
from pages import REMEMBER_FOR, home_page, login_name

from sessions import SessionConfig
from sessions_adapters.aiohttp import get_session, session_middleware

routes = web.RouteTableDef()


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    session = await get_session(request)
    session["visits"] = session.get("visits", 0) + 1
    page = home_page(
        framework="aiohttp",
        visits=session["visits"],
        user=session.get("user"),
        cookie_max_age=session.cookie.max_age,
    )
    return web.Response(text=page, content_type="text/html")


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    session = await get_session(request)
    form = await request.post()
    user = login_name(str(form.get("user") or ""))
    if user:
        # A new id at every change of privilege defeats session fixation.
        session.regenerate(keep_data=True)
        session["user"] = user
        session.cookie.max_age = REMEMBER_FOR if form.get("remember") else None
    raise web.HTTPSeeOther("/")


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    (await get_session(request)).destroy()
    raise web.HTTPSeeOther("/")


def build_app(secret: str | None = None) -> web.Application:
    """The example application with the session middleware installed."""
    config = SessionConfig(
        secret=secret or os.environ.get("SESSION_SECRET") or secrets.token_hex(32)
    )
    app = web.Application(middlewares=[session_middleware(config)])
    app.add_routes(routes)
    return app


if __name__ == "__main__":
    web.run_app(build_app(), host="127.0.0.1", port=8000)
