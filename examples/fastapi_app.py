"""The demo's login and counter flow as a FastAPI application.

Run it with ``pip install -e '.[examples]'`` and
``python examples/fastapi_app.py``, then open http://127.0.0.1:8000.

``Session`` below is a FastAPI dependency that hands each endpoint the typed
server-side session; ``request.session`` would give the same object.
"""

from __future__ import annotations

import os
import secrets
from typing import Annotated

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pages import REMEMBER_FOR, home_page, login_name

from sessions import AsyncSession, SessionConfig
from sessions_adapters.asgi import SessionMiddleware, get_session

SECRET = os.environ.get("SESSION_SECRET") or secrets.token_hex(32)


def current_session(request: Request) -> AsyncSession:
    """The server-side session of the request being handled."""
    return get_session(request.scope)


Session = Annotated[AsyncSession, Depends(current_session)]

app = FastAPI()
app.add_middleware(
    SessionMiddleware,
    config=SessionConfig(secret=SECRET),
)


@app.get("/", response_class=HTMLResponse)
async def home(session: Session) -> str:
    session["visits"] = session.get("visits", 0) + 1
    return home_page(
        framework="FastAPI",
        visits=session["visits"],
        user=session.get("user"),
        cookie_max_age=session.cookie.max_age,
    )


@app.post("/login")
async def login(
    session: Session,
    user: Annotated[str, Form()] = "",
    remember: Annotated[str, Form()] = "",
) -> RedirectResponse:
    name = login_name(user)
    if name:
        # A new id at every change of privilege defeats session fixation.
        session.regenerate(keep_data=True)
        session["user"] = name
        session.cookie.max_age = REMEMBER_FOR if remember else None
    return RedirectResponse("/", status_code=303)


@app.post("/logout")
async def logout(session: Session) -> RedirectResponse:
    session.destroy()
    return RedirectResponse("/", status_code=303)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
