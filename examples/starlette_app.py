"""The demo's login and counter flow as a Starlette application.

Run it with ``pip install -e '.[examples]'`` and
``python examples/starlette_app.py``, then open http://127.0.0.1:8000.

The middleware puts the session in ``scope["session"]``, so Starlette's own
``request.session`` is the server-side session; ``get_session(request.scope)``
gives the same object typed, with ``await session.save()`` and friends.
"""

from __future__ import annotations

import os
import secrets

from pages import REMEMBER_FOR, home_page, login_name
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sessions import SessionConfig
from sessions_adapters.asgi import SessionMiddleware, get_session

SECRET = os.environ.get("SESSION_SECRET") or secrets.token_hex(32)


async def home(request: Request) -> Response:
    session = get_session(request.scope)
    session["visits"] = session.get("visits", 0) + 1
    return HTMLResponse(
        home_page(
            framework="Starlette",
            visits=session["visits"],
            user=session.get("user"),
            cookie_max_age=session.cookie.max_age,
        )
    )


async def login(request: Request) -> Response:
    session = get_session(request.scope)
    form = await request.form()
    user = login_name(str(form.get("user") or ""))
    if user:
        # A new id at every change of privilege defeats session fixation.
        session.regenerate(keep_data=True)
        session["user"] = user
        session.cookie.max_age = REMEMBER_FOR if form.get("remember") else None
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    get_session(request.scope).destroy()
    return RedirectResponse("/", status_code=303)


app = Starlette(
    routes=[
        Route("/", home),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]
)
app.add_middleware(
    SessionMiddleware,
    config=SessionConfig(secret=SECRET),
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
