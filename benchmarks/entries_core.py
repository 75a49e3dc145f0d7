"""The core alone: what one returning visitor's request costs in the sans-IO
cycle, with no framework around it.

Two entries, both fed the same ``Cookie`` header a browser would send:

* :class:`CycleDriver` drives :class:`~sessions.SessionCycle` by hand, the
  way an adapter's runner does, against records kept in a ``dict``: parse
  the cookie, verify its signature, look the record up, let the handler
  play the scenario, decide the commit, render the ``Set-Cookie`` field.
  No serialisation, no locks.
* :class:`RunnerDriver` runs the same request through
  :class:`~sessions.SyncRunner` and a :class:`~sessions.MemoryStore`, which
  is what the WSGI adapter does minus WSGI: this adds the runner's store
  plumbing and the store's JSON text.
"""

from __future__ import annotations

import contextlib
from time import perf_counter_ns

import attrs

from benchmarks.harness import SECRET, Entry, Exchange, Scenario, visit
from sessions import (
    ClearCookie,
    Destroy,
    LoadSession,
    MemoryStore,
    RequestFacts,
    Save,
    SessionConfig,
    SessionCycle,
    SessionReady,
    SessionRecord,
    SetCookie,
    SyncRunner,
    Touch,
    Update,
)
from sessions.cycle import StoreAnswer, StoreOperation
from sessions.runner import utc_now
from sessions.signing import IdSigner

__all__ = ["CycleDriver", "RunnerDriver", "core_entries"]

GROUP = "Core, no framework"


def _facts(scenario: Scenario, cookie: str | None) -> RequestFacts:
    return RequestFacts(
        cookie_headers=() if cookie is None else (cookie,),
        path=scenario.path,
        now=utc_now(),
    )


class CycleDriver:
    """Runs :class:`~sessions.SessionCycle` alone, with a ``dict`` for a
    store."""

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self.signer = IdSigner(config.secret)
        self.records: dict[str, SessionRecord] = {}

    async def send(self, scenario: Scenario, cookie: str | None) -> Exchange:
        start = perf_counter_ns()
        set_cookies, body = self.request(scenario, cookie)
        elapsed = perf_counter_ns() - start
        return Exchange(200, set_cookies, body, elapsed)

    def request(
        self, scenario: Scenario, cookie: str | None
    ) -> tuple[list[str], bytes]:
        """One request's cycle, returning its ``Set-Cookie`` values and body."""
        cycle = SessionCycle(self.config, signer=self.signer)

        # Load: each candidate id the cookie names, until one is known.
        decision = cycle.receive_request(_facts(scenario, cookie))
        while isinstance(decision, LoadSession):
            record = self.records.get(decision.session_id)
            decision = cycle.receive_record(decision.session_id, record)
        assert isinstance(decision, SessionReady)

        # The handler.
        session = None if scenario is Scenario.UNTOUCHED else decision.session
        body = visit(scenario, session)

        # Commit: the store operations, then the header effects.
        operation = cycle.begin_commit(utc_now())
        while operation is not None:
            operation = cycle.receive_result(self._perform(operation))
        headers = [
            effect.header
            for effect in cycle.end_commit()
            if isinstance(effect, (SetCookie, ClearCookie))
        ]
        cycle.finish()
        return headers, body

    def _perform(self, operation: StoreOperation) -> StoreAnswer:
        """What a store would answer, with the records in a ``dict``."""
        records = self.records
        session_id = operation.session_id
        if isinstance(operation, LoadSession):
            return records.get(session_id)
        if isinstance(operation, Save):
            records[session_id] = operation.record
            return None
        if isinstance(operation, Destroy):
            records.pop(session_id, None)
            return None
        current = records.get(session_id)
        if isinstance(operation, Update):
            if current is None or current.version != operation.expected_version:
                return False
            records[session_id] = operation.record
            return True
        assert isinstance(operation, Touch)
        if current is None:
            return False
        records[session_id] = attrs.evolve(current, expires=operation.expires)
        return True


class RunnerDriver:
    """Runs the cycle through :class:`~sessions.SyncRunner` and a
    :class:`~sessions.MemoryStore`."""

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self.signer = IdSigner(config.secret)
        self.store = MemoryStore()

    async def send(self, scenario: Scenario, cookie: str | None) -> Exchange:
        start = perf_counter_ns()
        runner = SyncRunner(self.config, self.store, signer=self.signer)
        loaded = runner.load(_facts(scenario, cookie))
        session = None if scenario is Scenario.UNTOUCHED else loaded
        body = visit(scenario, session)
        set_cookies = runner.commit()
        runner.finish()
        elapsed = perf_counter_ns() - start
        return Exchange(200, set_cookies, body, elapsed)


def core_entries(with_redis: bool, resources: contextlib.AsyncExitStack) -> list[Entry]:
    """The core-only entries; they use no Redis and hold no resources."""
    config = SessionConfig(secret=SECRET)
    return [
        Entry(GROUP, "SessionCycle, records in a dict", CycleDriver(config)),
        Entry(GROUP, "SyncRunner + MemoryStore", RunnerDriver(config)),
    ]
