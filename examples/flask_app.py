"""The demo's login and counter flow as a Flask application.

Run it with ``pip install -e '.[examples]'`` and
``python examples/flask_app.py``,
then open http://127.0.0.1:8000.

Flask's own ``flask.session`` is a signed cookie that holds the data itself;
this application leaves it alone and wraps Flask's WSGI callable instead, so
the data lives in the server-side store and the cookie holds only a signed
id. ``current_session()`` is how views reach it.
"""

from __future__ import annotations

import os
import secrets

from flask import Flask, redirect, request
from pages import REMEMBER_FOR, home_page, login_name
from werkzeug.wrappers import Response

from sessions import SessionConfig, SyncSession
from sessions_adapters.wsgi import SessionMiddleware, get_session

app = Flask(__name__)
app.wsgi_app = SessionMiddleware(  # type: ignore[method-assign]
    app.wsgi_app,
    SessionConfig(secret=os.environ.get("SESSION_SECRET") or secrets.token_hex(32)),
)


def current_session() -> SyncSession:
    """The server-side session of the request being handled."""
    return get_session(request.environ)


@app.get("/")
def home() -> str:
    session = current_session()
    session["visits"] = session.get("visits", 0) + 1
    return home_page(
        framework="Flask",
        visits=session["visits"],
        user=session.get("user"),
        cookie_max_age=session.cookie.max_age,
    )


@app.post("/login")
def login() -> Response:
    session = current_session()
    user = login_name(request.form.get("user"))
    if user:
        # A new id at every change of privilege defeats session fixation.
        session.regenerate(keep_data=True)
        session["user"] = user
        session.cookie.max_age = REMEMBER_FOR if request.form.get("remember") else None
    return redirect("/", code=303)


@app.post("/logout")
def logout() -> Response:
    current_session().destroy()
    return redirect("/", code=303)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
