"""A small site that shows sessions at work, on the standard library's server.

Run it with ``python examples/demo.py`` and open http://127.0.0.1:8000.

- Every page view counts visits in the session.
- Logging in regenerates the session id (so an id planted before login is
  worthless afterwards) and stores the user name; "remember me" gives the
  cookie a 30-day lifetime instead of ending with the browser.
- Logging out destroys the session and clears the cookie.

The secret comes from the ``SESSION_SECRET`` environment variable; without
it a random one is drawn at start-up, so logins end when the demo restarts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs
from wsgiref.simple_server import make_server

from pages import REMEMBER_FOR, home_page, login_name

from sessions import SessionConfig
from sessions_adapters.wsgi import SessionMiddleware, get_session

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

MAX_FORM_BYTES = 10_000


def read_form(environ: WSGIEnvironment) -> dict[str, str]:
    """Read a small urlencoded POST body into a dict of first values."""
    try:
        length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_FORM_BYTES)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length).decode("utf-8", "replace")
    return {key: values[0] for key, values in parse_qs(raw).items()}


def redirect(start_response: StartResponse, location: str) -> list[bytes]:
    start_response("303 See Other", [("Location", location)], None)
    return []


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The demo site as a plain WSGI application."""
    session = get_session(environ)
    method = environ["REQUEST_METHOD"]
    path = environ.get("PATH_INFO", "/")

    if path == "/login" and method == "POST":
        form = read_form(environ)
        user = login_name(form.get("user"))
        if user:
            # A new id at every change of privilege defeats session fixation.
            session.regenerate(keep_data=True)
            session["user"] = user
            session.cookie.max_age = REMEMBER_FOR if form.get("remember") else None
        return redirect(start_response, "/")

    if path == "/logout" and method == "POST":
        session.destroy()
        return redirect(start_response, "/")

    if path != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain")], None)
        return [b"Not found\n"]

    session["visits"] = session.get("visits", 0) + 1
    page = home_page(
        framework="WSGI",
        visits=session["visits"],
        user=session.get("user"),
        cookie_max_age=session.cookie.max_age,
    )
    start_response(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
        None,
    )
    return [page.encode("utf-8")]


def build_app(secret: str | None = None) -> SessionMiddleware:
    """The demo wrapped in the session middleware, on the default store."""
    secret = secret or os.environ.get("SESSION_SECRET") or secrets.token_hex(32)
    return SessionMiddleware(app, SessionConfig(secret=secret))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    arguments = parser.parse_args()
    with make_server(arguments.host, arguments.port, build_app()) as server:
        print(f"Serving the demo on http://{arguments.host}:{arguments.port}")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
