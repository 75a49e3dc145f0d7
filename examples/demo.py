"""A small site that shows sessions at work, on the standard library's server.

Run it with ``python examples/demo.py`` and open http://127.0.0.1:8000.

- Every page view counts visits in the session.
- Logging in regenerates the session id (so an id planted before login is
  worthless afterwards) and stores the user name; "remember me" gives the
  cookie a 30-day lifetime instead of ending with the browser.
- Logging out destroys the session and clears the cookie.

Sessions live in an SQLite file in ``.sessions-demo/`` under the current
directory, so a login survives a restart of the demo and is shared by every
copy of it started from the same directory (try two ports). The secret that
signs the cookies comes from the ``SESSION_SECRET`` environment variable;
without it, one is drawn at random on the first run and kept in that folder,
readable by its owner only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs
from wsgiref.simple_server import make_server

from pages import REMEMBER_FOR, home_page, login_name

from sessions import SessionConfig
from sessions.stores.sqlite import SQLiteStore
from sessions_adapters.wsgi import SessionMiddleware, get_session

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

MAX_FORM_BYTES = 10_000
STATE_DIRECTORY = ".sessions-demo"
"""Where the demo keeps its sessions and its secret, under the current
directory."""


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


def kept_secret(path: Path) -> str:
    """The secret kept in ``path``; the first call draws it and writes it.

    The file appears complete or not at all (it is written under another name
    and then linked into place), so workers starting together agree on one.
    """
    if not path.exists():
        draft = path.with_name(f"{path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another worker's secret came first
        finally:
            draft.unlink()
    secret = path.read_text(encoding="ascii").strip()
    if not secret:
        raise SystemExit(f"{path} holds no secret; delete it to draw a new one")
    return secret


def build_app(
    secret: str | None = None, *, directory: str | os.PathLike[str] = STATE_DIRECTORY
) -> SessionMiddleware:
    """The demo wrapped in the session middleware, keeping its sessions (and,
    unless given one, its secret) in ``directory``."""
    folder = Path(directory)
    folder.mkdir(mode=0o700, exist_ok=True)
    secret = (
        secret or os.environ.get("SESSION_SECRET") or kept_secret(folder / "secret")
    )
    store = SQLiteStore(folder / "sessions.sqlite3")
    return SessionMiddleware(app, SessionConfig(secret=secret), store)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    arguments = parser.parse_args()
    with make_server(arguments.host, arguments.port, build_app()) as server:
        port = server.server_port  # the one chosen, when --port is 0
        print(f"Serving the demo on http://{arguments.host}:{port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
