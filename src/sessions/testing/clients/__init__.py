"""Test clients that act as one browser each: they send requests to an
application and keep the cookies it sets.

One module per framework, each importing only its own framework:

- :mod:`sessions.testing.clients.wsgi`: ``WSGIClient`` calls a WSGI
  application in-process;
- :mod:`sessions.testing.clients.asgi`: ``ASGIClient`` calls an ASGI
  application in-process;
- :mod:`sessions.testing.clients.aiohttp`: ``AiohttpClient`` serves an
  aiohttp application on 127.0.0.1 with aiohttp's test server;
- :mod:`sessions.testing.clients.tornado`: ``TornadoClient`` serves a
  Tornado application on 127.0.0.1.

They share :class:`Client`'s request methods, :class:`Response` and
:class:`CookieJar`; this package imports no framework.
"""

from sessions.testing.clients._base import Client, Headers, Request, Response
from sessions.testing.clients._jar import CookieJar, StoredCookie

__all__ = ["Client", "CookieJar", "Headers", "Request", "Response", "StoredCookie"]
