"""Driving the core by hand, the way an adapter does, with a fixed clock.

Nothing here sleeps or reads the real clock: every moment is :data:`NOW`
plus an explicit offset, and a store is a plain dictionary that answers the
cycle's store operations in the order they come.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import attrs

from sessions import CookieOptions, SessionConfig, SessionRecord
from sessions.cookies import SetCookie as ParsedCookie
from sessions.cookies import parse_set_cookie
from sessions.cycle import (
    ClearCookie,
    CycleState,
    Destroy,
    Effect,
    LoadSession,
    NoSession,
    RequestFacts,
    Save,
    SessionCycle,
    SetCookie,
    StoreAnswer,
    StoreOperation,
    Touch,
    Update,
)
from sessions.session import Session
from sessions.signing import IdSigner

SECRET = "keyboard cat"
NOW = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)
"""The fixed moment every test starts from (whole seconds, so that an
``Expires`` header, which has no fractions, states it exactly)."""

_EffectT = TypeVar("_EffectT")


def seconds(count: float) -> timedelta:
    return timedelta(seconds=count)


def make_config(
    *, cookie: CookieOptions | None = None, **options: Any
) -> SessionConfig:
    """A configuration with the test secret unless ``secret`` is given."""
    options.setdefault("secret", SECRET)
    return SessionConfig(cookie=cookie or CookieOptions(), **options)


def sign(session_id: str, secret: str = SECRET) -> str:
    """The cookie value that carries ``session_id`` signed with ``secret``."""
    return IdSigner([secret.encode("utf-8")]).sign(session_id)


def make_record(
    data: dict[str, Any] | None = None,
    *,
    expires: datetime = NOW + timedelta(seconds=60),
    max_age: int | None = 60,
    created: datetime = NOW - timedelta(hours=1),
    version: int = 1,
) -> SessionRecord:
    return SessionRecord(
        data={} if data is None else data,
        expires=expires,
        max_age=max_age,
        created=created,
        version=version,
    )


def facts(
    *cookie_headers: str,
    path: str = "/",
    is_tls: bool = False,
    forwarded_proto: tuple[str, ...] = (),
    now: datetime = NOW,
) -> RequestFacts:
    return RequestFacts(
        cookie_headers=cookie_headers,
        path=path,
        is_tls=is_tls,
        forwarded_proto=forwarded_proto,
        now=now,
    )


class DictStore:
    """Records by id; :meth:`answer` carries out one store operation."""

    def __init__(self, records: dict[str, SessionRecord] | None = None) -> None:
        self.records: dict[str, SessionRecord] = dict(records or {})
        self.lookups: list[str] = []

    def get(self, session_id: str) -> SessionRecord | None:
        self.lookups.append(session_id)
        return self.records.get(session_id)

    def answer(self, operation: StoreOperation) -> StoreAnswer:
        records = self.records
        key = operation.session_id
        if isinstance(operation, LoadSession):
            return self.get(key)
        if isinstance(operation, Save):
            records[key] = operation.record
        elif isinstance(operation, Update):
            held = records.get(key)
            if held is None or held.version != operation.expected_version:
                return False
            records[key] = operation.record
            return True
        elif isinstance(operation, Destroy):
            records.pop(key, None)
        elif isinstance(operation, Touch):
            if key not in records:
                return False
            old = records[key]
            if operation.expires > old.expires:  # a touch never shortens
                records[key] = attrs.evolve(old, expires=operation.expires)
            return True
        return None


def run_operations(
    cycle: SessionCycle, store: DictStore, first: StoreOperation | None
) -> list[StoreOperation]:
    """Answer ``first`` and every operation that follows it from ``store``;
    return them all, in order."""
    done: list[StoreOperation] = []
    operation = first
    while operation is not None:
        done.append(operation)
        operation = cycle.receive_result(store.answer(operation))
    return done


def open_session(
    cycle: SessionCycle, store: DictStore, request: RequestFacts
) -> Session | None:
    """Load the request's session as an adapter would: answer every lookup
    from ``store``; ``None`` when the request is outside the cookie path."""
    decision = cycle.receive_request(request)
    while isinstance(decision, LoadSession):
        decision = cycle.receive_record(
            decision.session_id, store.get(decision.session_id)
        )
    if isinstance(decision, NoSession):
        return None
    return decision.session


def commit(
    cycle: SessionCycle, store: DictStore, now: datetime = NOW
) -> tuple[Effect, ...]:
    """Run the commit as an adapter does: answer every store operation from
    ``store``, end it; return the store operations that ran (lookups left
    out), then the header effects."""
    ran = run_operations(cycle, store, cycle.begin_commit(now))
    headers = cycle.end_commit()
    writes = [operation for operation in ran if not isinstance(operation, LoadSession)]
    return (*writes, *headers)


def state_of(cycle: SessionCycle) -> CycleState:
    """The cycle's state, read afresh: a type checker that saw an earlier
    ``assert cycle.state is ...`` would otherwise assume it unchanged."""
    return cycle.state


def of_type(kind: type[_EffectT], effects: Iterable[object]) -> list[_EffectT]:
    return [effect for effect in effects if isinstance(effect, kind)]


def sent_cookie(effects: Iterable[Effect]) -> ParsedCookie:
    """The one ``Set-Cookie`` the effects send (a new cookie or a deletion)."""
    (header,) = [
        effect.header
        for effect in effects
        if isinstance(effect, (SetCookie, ClearCookie))
    ]
    return parse_set_cookie(header)


def headers_of(effects: Iterable[Effect]) -> list[str]:
    return [
        effect.header
        for effect in effects
        if isinstance(effect, (SetCookie, ClearCookie))
    ]
