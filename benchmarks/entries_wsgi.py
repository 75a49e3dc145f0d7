"""The WSGI entries: a plain WSGI application, and Flask with every session
layer it is commonly given.

Every session layer wraps (or configures) its own copy of the same
application, with its library's defaults except for the secret and the
store. The Flask entries wrap the Flask object itself, which calls its
``wsgi_app`` at once; wrapping ``app.wsgi_app`` instead, as the adapter's
documentation shows, costs the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

import flask
from beaker.middleware import SessionMiddleware as BeakerMiddleware
from cachelib import SimpleCache
from flask_session import Session as FlaskSession

from benchmarks.drivers import WsgiDriver
from benchmarks.harness import SECRET, Entry, RoundTrips, Scenario, visit
from benchmarks.redis_counting import counting_client
from sessions import MemoryStore, SessionConfig
from sessions.stores.redis import RedisStore
from sessions_adapters.wsgi import SessionMiddleware, get_session

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["flask_entries", "plain_wsgi_entries"]

Mapping = MutableMapping[str, Any]
_BY_PATH = {scenario.path: scenario for scenario in Scenario}


# -- plain WSGI ----------------------------------------------------------------


def plain_app(
    open_session: Callable[[WSGIEnvironment], Mapping] | None,
) -> WSGIApplication:
    """A WSGI application with one route per scenario; ``open_session``
    reaches the session from the environ (``None``: no sessions)."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        scenario = _BY_PATH[environ["PATH_INFO"]]
        session = None
        if open_session is not None and scenario is not Scenario.UNTOUCHED:
            session = open_session(environ)
        body = visit(scenario, session)
        start_response(
            "200 OK",
            [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return app


def plain_wsgi_entries(
    with_redis: bool, resources: contextlib.AsyncExitStack
) -> list[Entry]:
    """The bare WSGI application, and this library's middleware around it."""
    config = SessionConfig(secret=SECRET)
    entries = [
        Entry("Plain WSGI", "bare WSGI app", WsgiDriver(plain_app(None)), is_bare=True),
        Entry(
            "Plain WSGI",
            "sessions, MemoryStore",
            WsgiDriver(
                SessionMiddleware(plain_app(get_session), config, MemoryStore())
            ),
        ),
    ]
    if with_redis:
        tally = RoundTrips()
        client = resources.enter_context(counting_client(tally))
        store = RedisStore(client, prefix="bench:wsgi:")
        entries.append(
            Entry(
                "Plain WSGI",
                "sessions, RedisStore",
                WsgiDriver(SessionMiddleware(plain_app(get_session), config, store)),
                round_trips=tally,
            )
        )
    return entries


# -- Flask ---------------------------------------------------------------------


def flask_app(
    open_session: Callable[[], Mapping] | None,
    after_change: Callable[[], None] | None = None,
) -> flask.Flask:
    """A Flask application with one view per scenario.

    Args:
        open_session: Reaches the request's session (``None``: no sessions).
        after_change: Called after the change scenario's update, for a
            layer that must be told to save.
    """
    app = flask.Flask("bench")

    def view_for(scenario: Scenario) -> Callable[[], flask.Response]:
        def view() -> flask.Response:
            session = None
            if open_session is not None and scenario is not Scenario.UNTOUCHED:
                session = open_session()
            body = visit(scenario, session)
            if session is not None and after_change and scenario is Scenario.CHANGE:
                after_change()
            return flask.Response(body, content_type="text/plain")

        return view

    for scenario in Scenario:
        app.add_url_rule(scenario.path, scenario.value, view_for(scenario))
    return app


def _our_flask_session() -> Mapping:
    return get_session(flask.request.environ)


def _flask_session() -> Mapping:
    return flask.session


def _beaker_session() -> Mapping:
    session: Mapping = flask.request.environ["beaker.session"]
    return session


def _beaker_save() -> None:
    flask.request.environ["beaker.session"].save()


def _beaker(options: dict[str, object]) -> WSGIApplication:
    app = flask_app(_beaker_session, after_change=_beaker_save)
    middleware: WSGIApplication = BeakerMiddleware(
        app, {"session.key": "beaker", "session.secret": SECRET, **options}
    )
    return middleware


def flask_entries(
    with_redis: bool, resources: contextlib.AsyncExitStack
) -> list[Entry]:
    """Bare Flask; this library's middleware; Flask's own signed-cookie
    session; Flask-Session; Beaker."""
    config = SessionConfig(secret=SECRET)
    entries = [
        Entry("Flask", "bare Flask app", WsgiDriver(flask_app(None)), is_bare=True),
        Entry(
            "Flask",
            "sessions, MemoryStore",
            WsgiDriver(
                SessionMiddleware(flask_app(_our_flask_session), config, MemoryStore())
            ),
        ),
    ]
    if with_redis:
        tally = RoundTrips()
        client = resources.enter_context(counting_client(tally))
        store = RedisStore(client, prefix="bench:flask:")
        app = SessionMiddleware(flask_app(_our_flask_session), config, store)
        entries.append(
            Entry("Flask", "sessions, RedisStore", WsgiDriver(app), round_trips=tally)
        )

    signed_cookie = flask_app(_flask_session)
    signed_cookie.secret_key = SECRET
    entries.append(Entry("Flask", "Flask signed cookie", WsgiDriver(signed_cookie)))

    cachelib = flask_app(_flask_session)
    cachelib.config.update(SESSION_TYPE="cachelib", SESSION_CACHELIB=SimpleCache())
    FlaskSession(cachelib)
    entries.append(
        Entry("Flask", "Flask-Session, cachelib SimpleCache", WsgiDriver(cachelib))
    )
    if with_redis:
        tally = RoundTrips()
        redis_backed = flask_app(_flask_session)
        redis_backed.config.update(
            SESSION_TYPE="redis",
            SESSION_REDIS=resources.enter_context(counting_client(tally)),
        )
        FlaskSession(redis_backed)
        entries.append(
            Entry(
                "Flask",
                "Flask-Session, Redis",
                WsgiDriver(redis_backed),
                round_trips=tally,
            )
        )

    beaker = _beaker({"session.type": "memory"})
    entries.append(Entry("Flask", "Beaker, memory", WsgiDriver(beaker)))
    if with_redis:
        tally = RoundTrips()
        client = resources.enter_context(counting_client(tally))
        beaker = _beaker({"session.type": "ext:redis", "session.url": client})
        entries.append(
            Entry("Flask", "Beaker, ext:redis", WsgiDriver(beaker), round_trips=tally)
        )
    return entries
