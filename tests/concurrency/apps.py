"""The application the concurrency tests drive, as WSGI and as ASGI.

Paths (all ``GET``, answering ``200`` with a JSON body):

``/set?key=K&value=V[&delay=S]``
    Set ``session[K] = V``; with ``delay``, first wait ``S`` seconds with the
    session loaded, as a slow request would.
``/show``
    The session's data.
``/logout``
    ``session.destroy()``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from sessions import Session
from sessions_adapters import asgi, wsgi

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from sessions_adapters.asgi import Receive, Scope, Send


def _act(session: Session, path: str, query: dict[str, str]) -> None:
    """Do what ``path`` asks."""
    if path == "/set":
        session[query["key"]] = query["value"]
    elif path == "/logout":
        session.destroy()


def _query(text: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(text).items()}


def _body(session: Session) -> bytes:
    return json.dumps(dict(session)).encode()


def wsgi_handler(
    environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    session = wsgi.get_session(environ)
    query = _query(environ.get("QUERY_STRING", ""))
    delay = float(query.get("delay", "0"))
    if delay:
        time.sleep(delay)
    _act(session, environ["PATH_INFO"], query)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [_body(session)]


async def asgi_handler(scope: Scope, receive: Receive, send: Send) -> None:
    session = asgi.get_session(scope)
    query = _query(scope["query_string"].decode())
    delay = float(query.get("delay", "0"))
    if delay:
        await asyncio.sleep(delay)
    _act(session, scope["path"], query)
    headers: list[Any] = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": _body(session)})
