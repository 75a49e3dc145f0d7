"""The Tornado entries: a bare ``RequestHandler``, and the same handler with
this library's ``SessionMixin`` (memory and Redis). Tornado's own signed
cookies are a building block rather than a session layer, so no peer is
measured here."""

from __future__ import annotations

import contextlib

from tornado.web import Application, RequestHandler

from benchmarks.drivers import TornadoDriver
from benchmarks.harness import SECRET, Entry, RoundTrips, Scenario, visit
from benchmarks.redis_counting import async_counting_client
from sessions import MemoryStore, SessionConfig
from sessions.stores.base import AsyncStore
from sessions.stores.redis import AsyncRedisStore
from sessions_adapters.tornado import SessionMixin

__all__ = ["tornado_entries"]

GROUP = "Tornado"


class BareHandler(RequestHandler):
    """Answers without sessions."""

    def initialize(self, scenario: Scenario) -> None:
        self.scenario = scenario

    def get(self) -> None:
        self.write(visit(self.scenario, None))


class SessionHandler(SessionMixin, RequestHandler):
    """Plays the scenario on ``self.session``."""

    def initialize(self, scenario: Scenario) -> None:
        self.scenario = scenario

    def get(self) -> None:
        scenario = self.scenario
        session = None if scenario is Scenario.UNTOUCHED else self.session
        self.write(visit(scenario, session))


def tornado_app(
    handler: type[RequestHandler], store: MemoryStore | AsyncStore | None = None
) -> Application:
    """A Tornado application with one route per scenario, all to
    ``handler``; ``store`` is the session store when it uses sessions."""
    routes = [(scenario.path, handler, {"scenario": scenario}) for scenario in Scenario]
    if store is None:
        return Application(routes)
    return Application(
        routes, session_config=SessionConfig(secret=SECRET), session_store=store
    )


def tornado_entries(
    with_redis: bool, resources: contextlib.AsyncExitStack
) -> list[Entry]:
    """Bare Tornado; this library's mixin."""
    entries = [
        Entry(
            GROUP,
            "bare Tornado handler",
            TornadoDriver(tornado_app(BareHandler)),
            is_bare=True,
        ),
        Entry(
            GROUP,
            "sessions, MemoryStore",
            TornadoDriver(tornado_app(SessionHandler, MemoryStore())),
        ),
    ]
    if with_redis:
        tally = RoundTrips()
        client = async_counting_client(tally)
        resources.push_async_callback(client.aclose)
        store = AsyncRedisStore(client, prefix="bench:tornado:")
        entries.append(
            Entry(
                GROUP,
                "sessions, AsyncRedisStore",
                TornadoDriver(tornado_app(SessionHandler, store)),
                round_trips=tally,
            )
        )
    return entries
