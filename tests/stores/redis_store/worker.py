"""One worker process of a fleet: a WSGI application whose sessions live in
Redis, served by wsgiref on 127.0.0.1.

The application is the behaviour suite's handler (what it does to the
session is read from the query string) behind ``SessionMiddleware`` with a
:class:`~sessions.stores.redis.RedisStore`. Run from the repository root::

    python -m tests.stores.redis_store.worker REDIS_PORT PREFIX SECRET [SECRET...]

It prints ``listening on <port>`` once it accepts connections, and serves
until it is terminated.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from wsgiref.simple_server import WSGIRequestHandler, make_server

import redis

from sessions import CookieOptions, SessionConfig
from sessions.stores.redis import RedisStore
from sessions_adapters.wsgi import SessionMiddleware
from tests.behaviour.apps.wsgi_app import handler

HOST = "127.0.0.1"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log."""


def main(arguments: list[str]) -> None:
    redis_port, prefix, *secrets = arguments
    client = redis.Redis(host=HOST, port=int(redis_port), socket_timeout=5)
    config = SessionConfig(secret=secrets, cookie=CookieOptions(max_age=600))
    app = SessionMiddleware(handler, config, RedisStore(client, prefix=prefix))
    server = make_server(HOST, 0, app, handler_class=_QuietHandler)

    def stop(_signal: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"listening on {server.server_port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()
        client.close()


if __name__ == "__main__":
    main(sys.argv[1:])
