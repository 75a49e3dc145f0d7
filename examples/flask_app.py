"""The demo's login and counter flow as a Flask application.

Install Flask (``pip install -e '.[flask]'``), then run
``python examples/flask_app.py`` and open http://127.0.0.1:8000.

Flask's own ``flask.session`` is a signed cookie that holds the data itself;
this application keeps Flask untouched and wraps its WSGI callable instead,
so the data lives in the server-side store and the cookie holds only a
signed id. ``current_session()`` is the one line that reaches it.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta

from flask import Flask, redirect, render_template_string, request
from werkzeug.wrappers import Response

from sessions import SessionConfig, SyncSession
from sessions_adapters.wsgi import SessionMiddleware, get_session

app = Flask(__name__)
app.wsgi_app = SessionMiddleware(  # type: ignore[method-assign]
    app.wsgi_app,
    SessionConfig(secret=os.environ.get("SESSION_SECRET") or secrets.token_hex(32)),
)

PAGE = """<!doctype html>
<title>sessions + Flask</title>
<h1>sessions + Flask</h1>
<p>Visits in this session: <strong>{{ visits }}</strong></p>
{% if user %}
  <p>Logged in as <strong>{{ user }}</strong>.</p>
  <form method="post" action="/logout"><button>Log out</button></form>
{% else %}
  <form method="post" action="/login">
    <input name="user" required maxlength="40" placeholder="name">
    <label><input type="checkbox" name="remember" value="1"> Remember me</label>
    <button>Log in</button>
  </form>
{% endif %}
"""


def current_session() -> SyncSession:
    """The server-side session of the request being handled."""
    return get_session(request.environ)


@app.get("/")
def home() -> str:
    session = current_session()
    session["visits"] = session.get("visits", 0) + 1
    return render_template_string(
        PAGE, visits=session["visits"], user=session.get("user")
    )


@app.post("/login")
def login() -> Response:
    session = current_session()
    user = request.form.get("user", "").strip()[:40]
    if user:
        session.regenerate(keep_data=True)
        session["user"] = user
        if request.form.get("remember"):
            session.cookie.max_age = timedelta(days=30)
    return redirect("/", code=303)


@app.post("/logout")
def logout() -> Response:
    current_session().destroy()
    return redirect("/", code=303)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
