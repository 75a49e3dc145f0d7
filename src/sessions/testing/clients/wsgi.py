"""A test client that calls a WSGI application directly, in the test's
thread, with a cookie jar.

::

    from sessions.testing.clients.wsgi import WSGIClient

    with WSGIClient(app) as client:
        client.post("/login", data={"user": "ada"})
        assert client.get("/whoami").json() == {"user": "ada"}

No server and no socket: each request is a PEP 3333 ``environ`` handed to
the application, whose ``start_response`` and body are collected as a
server would (``write()`` included, the body's ``close()`` always called).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes, urlsplit

from sessions.testing.clients._base import METHODS_WITH_BODY, Client, Request

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

__all__ = ["WSGIClient"]


class WSGIClient(Client):
    """A browser for a WSGI application, calling it in-process.

    Args:
        app: The WSGI application (for Flask, ``app`` or ``app.wsgi_app``).
        base_url: The scheme and host the application believes it serves;
            ``https://...`` makes every request arrive over TLS
            (``wsgi.url_scheme``), which ``Secure`` cookies need.
        clock: The application's clock, for the jar to expire cookies.
        raise_app_exceptions: Let an exception from the application reach
            the test (the default). When false, the client answers ``500``
            with an empty body, as a server would.
        environ: Extra ``environ`` entries for every request, for example
            ``{"REMOTE_ADDR": "203.0.113.9"}``.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        base_url: str = "http://testserver",
        clock: Callable[[], datetime] | None = None,
        raise_app_exceptions: bool = True,
        environ: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(base_url=base_url, clock=clock)
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.environ = dict(environ or {})

    def _environ(self, request: Request) -> WSGIEnvironment:
        """The PEP 3333 ``environ`` of ``request``."""
        parts = urlsplit(request.url)
        scheme = parts.scheme
        port = parts.port or (443 if scheme == "https" else 80)
        environ: WSGIEnvironment = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            # Servers hand the path over unescaped, its bytes read as Latin-1.
            "PATH_INFO": unquote_to_bytes(parts.path or "/").decode("latin-1"),
            "QUERY_STRING": parts.query,
            "SERVER_NAME": parts.hostname or "",
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": parts.netloc,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scheme,
            "wsgi.input": io.BytesIO(request.body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if request.body or request.method in METHODS_WITH_BODY:
            environ["CONTENT_LENGTH"] = str(len(request.body))
        for name, value in request.headers:
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
                continue
            key = "HTTP_" + key
            if key in environ and key != "HTTP_HOST":
                # Repeated fields arrive joined, as servers join them; a
                # Cookie field's pairs are joined the way a browser does.
                joiner = "; " if key == "HTTP_COOKIE" else ", "
                environ[key] = f"{environ[key]}{joiner}{value}"
            else:
                environ[key] = value
        environ.update(self.environ)
        return environ

    def _exchange(self, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        started: list[tuple[str, list[tuple[str, str]]]] = []
        chunks: list[bytes] = []
        body_begun = False

        def start_response(
            status: str,
            headers: list[tuple[str, str]],
            exc_info: OptExcInfo | None = None,
        ) -> Callable[[bytes], object]:
            if exc_info is not None:
                error = exc_info[1]
                if body_begun and error is not None:
                    # Too late for another status: PEP 3333 says re-raise.
                    raise error.with_traceback(exc_info[2])
                started.clear()
            elif started:
                raise RuntimeError("start_response was called twice without exc_info")
            started.append((status, list(headers)))
            return write

        def write(chunk: bytes) -> None:
            nonlocal body_begun
            if not started:
                raise RuntimeError("write() was called before start_response")
            body_begun = body_begun or bool(chunk)
            chunks.append(chunk)

        try:
            result: Iterable[bytes] = self.app(self._environ(request), start_response)
            try:
                for chunk in result:
                    if chunk and not started:
                        raise RuntimeError(
                            "the application sent a body before start_response"
                        )
                    body_begun = body_begun or bool(chunk)
                    chunks.append(chunk)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            if self.raise_app_exceptions:
                raise
            return 500, [("Content-Length", "0")], b""
        if not started:
            raise RuntimeError(
                "the application returned without calling start_response"
            )
        status, headers = started[-1]
        return int(status.split(None, 1)[0]), headers, b"".join(chunks)
