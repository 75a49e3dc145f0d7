"""Properties of the core over inputs no list of examples covers.

* Any ``Cookie`` header parses without an exception, and the Python work it
  takes grows at most linearly with the number of separators in it. The
  work is measured by counting the line events Python reports while parsing,
  never by a clock.
* Any sequence of handler actions over several requests, driven through a
  :class:`~sessions.SyncRunner` and a :class:`~sessions.MemoryStore` on one
  fake clock and seen by a model browser, keeps two promises after every
  response: a request that only reads writes no data and sends no cookie
  (outside the cases ``docs/concepts.md`` lists), and the store keeps a
  session whose cookie is persistent exactly until that cookie expires.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions import (
    CookieOptions,
    MemoryStore,
    RequestFacts,
    SessionConfig,
    SessionCycle,
    SessionNotFoundError,
    SessionRecord,
    SyncRunner,
    SyncSession,
)
from sessions.cookies import cookie_values, parse_cookie_header, parse_set_cookie
from sessions.cycle import MAX_COOKIE_VALUES, LoadSession, NoSession, SessionReady
from sessions.signing import IdSigner

from .support import NOW, SECRET

# -- Cookie headers parse without error, in linear time --------------------------

CONFIG = SessionConfig(secret=SECRET)
SIGNER = IdSigner(CONFIG.secret)

# Line events allowed per pair (one more than the separators), and once per
# call. Splitting a header takes about ten lines of Python per pair; loading
# also checks the signature of at most MAX_COOKIE_VALUES distinct values
# (about a hundred lines each), looks up at most four and makes one new
# session: a constant, whatever the header holds.
EVENTS_PER_PAIR = 16
EVENTS_PER_SIGNATURE_CHECK = 120
EVENTS_PER_CALL = 1000 + MAX_COOKIE_VALUES * EVENTS_PER_SIGNATURE_CHECK


def line_events(call: Callable[..., object], *arguments: object) -> int:
    """How many line events Python reports while ``call(*arguments)``
    runs."""
    count = 0

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        call(*arguments)
    finally:
        sys.settrace(previous)
    return count


def pairs_in(headers: list[str]) -> int:
    """How many pairs the headers can hold at most: one more than their
    separators, in each header."""
    return sum(header.count(";") + header.count(",") + 1 for header in headers)


PIECES = [
    "sid=",
    "sid",
    "a=1",
    '"',
    "\\",
    '"\\"',
    ";",
    ",",
    "=",
    " ",
    "\t",
    "\u00ff",
    *(f"sid={SIGNER.sign(session_id)}" for session_id in ("abc", "d", "e", "f")),
    SIGNER.sign("abc"),
    ".",
    "%",
]

random_bytes = st.binary(max_size=4000).map(lambda raw: raw.decode("latin-1"))
# Long runs of one awkward piece, bare or inside quotes.
runs = st.builds(
    lambda piece, count, quoted: f'q="{piece * count}"' if quoted else piece * count,
    st.sampled_from(PIECES),
    st.integers(min_value=1, max_value=20_000),
    st.booleans(),
)
# Thousands of pairs, some of them malformed, some of them the session's.
many_pairs = st.builds(
    lambda pieces, count: "; ".join(pieces * count),
    st.lists(st.sampled_from(PIECES) | st.text(max_size=12), min_size=1, max_size=6),
    st.integers(min_value=1, max_value=3000),
)
cookie_headers = st.lists(
    random_bytes | runs | many_pairs | st.text(max_size=200), min_size=1, max_size=3
)


def load(headers: list[str]) -> object:
    cycle = SessionCycle(CONFIG, signer=SIGNER)
    decision = cycle.receive_request(
        RequestFacts(cookie_headers=tuple(headers), now=NOW)
    )
    while isinstance(decision, LoadSession):
        decision = cycle.receive_record(decision.session_id, None)
    assert isinstance(decision, (NoSession, SessionReady))
    return decision


@settings(max_examples=60, deadline=None)
@given(cookie_headers)
def test_any_cookie_header_parses_in_time_linear_in_its_separators(
    headers: list[str],
) -> None:
    bound = EVENTS_PER_PAIR * pairs_in(headers)

    for header in headers:
        pairs = parse_cookie_header(header)
        assert sum(len(name) + len(value) for name, value in pairs) <= len(header)
        assert line_events(parse_cookie_header, header) <= bound + 50
    values = cookie_values(headers, "sid")
    assert sum(map(len, values)) <= sum(map(len, headers))
    assert line_events(cookie_values, headers, "sid") <= bound + 50
    assert line_events(load, headers) <= bound + EVENTS_PER_CALL


def test_the_line_count_sees_work_that_grows_with_the_input() -> None:
    # The measure itself must be able to fail: a parser that walked the
    # header a character at a time would be caught.
    def walk(header: str) -> int:
        return sum(1 for character in header if character == ";")

    header = "\\" * 20_000
    assert line_events(walk, header) > EVENTS_PER_PAIR * pairs_in([header])
    assert line_events(parse_cookie_header, header) < 50


# -- Handler actions keep reads free and cookie and store in step -----------------

READS = ("read", "reload")
ACTIONS = [
    "read",
    "reload",
    "set a",
    "set b",
    "delete a",
    "append nested",
    "regenerate",
    "regenerate keeping data",
    "destroy",
    "touch",
    "max_age 30",
    "max_age 3600",
    "max_age None",
    "max_age 0",
    "save",
    "detach",
]


@attrs.define
class Jar:
    """The session cookie a browser holds."""

    value: str
    expires: datetime | None
    secure: bool


class Clock:
    """One clock for the runner and the store; it moves between requests."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()


class RecordingStore(MemoryStore):
    """A memory store that records what each request asks of it."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock=clock.timestamp)
        self.clock = clock
        self.operations: list[tuple[str, str, datetime | None]] = []

    def peek(self, session_id: str) -> SessionRecord | None:
        return super().get(session_id)

    def get(self, session_id: str) -> SessionRecord | None:
        self.operations.append(("get", session_id, None))
        return super().get(session_id)

    def set(self, session_id: str, record: SessionRecord) -> None:
        self.operations.append(("set", session_id, record.expires))
        super().set(session_id, record)

    def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        # Recorded as a "set": what the properties check is any data write.
        self.operations.append(("set", session_id, record.expires))
        return super().update(session_id, record, expected_version)

    def destroy(self, session_id: str) -> None:
        self.operations.append(("destroy", session_id, None))
        super().destroy(session_id)

    def touch(self, session_id: str, expires: datetime) -> bool:
        self.operations.append(("touch", session_id, expires))
        return super().touch(session_id, expires)


def act(session: SyncSession, action: str, counter: int) -> None:
    """Do what a handler does for ``action``."""
    if action == "read":
        _ = dict(session), session.get("a"), session.cookie.max_age, session.id
    elif action == "reload":
        # A session never stored, or one this request retired, is not found.
        with contextlib.suppress(SessionNotFoundError):
            session.reload()
    elif action.startswith("set "):
        session[action[4:]] = counter
    elif action == "delete a":
        session.pop("a", None)
    elif action == "append nested":
        session.setdefault("nested", {}).setdefault("list", []).append(counter)
    elif action == "regenerate":
        session.regenerate()
    elif action == "regenerate keeping data":
        session.regenerate(keep_data=True)
    elif action == "destroy":
        session.destroy()
    elif action == "touch":
        session.touch()
    elif action == "save":
        session.save()
    elif action == "detach":
        session.detach()
    else:
        argument = action.split()[1]
        session.cookie.max_age = None if argument == "None" else int(argument)


@st.composite
def handlers(draw: st.DrawFn) -> list[str]:
    """The actions of one handler. A detach comes last, and never after an
    explicit save: a request that saves and then lets go of its session
    keeps what it saved whatever the cookie says, by design."""
    if draw(st.integers(min_value=0, max_value=2)) == 0:
        return draw(st.lists(st.sampled_from(READS), max_size=3))
    actions = draw(st.lists(st.sampled_from(ACTIONS[:-1]), max_size=6))
    if draw(st.booleans()) and "save" not in actions:
        actions.append("detach")
    return actions


session_configs = st.builds(
    SessionConfig,
    secret=st.just(SECRET),
    cookie=st.builds(
        CookieOptions,
        max_age=st.sampled_from([None, 60, 3600]),
        secure=st.sampled_from(["auto", False, True]),
    ),
    rolling=st.booleans(),
    resave=st.booleans(),
    save_uninitialized=st.booleans(),
    unset=st.sampled_from(["keep", "destroy"]),
    idle_timeout=st.just(600),
)
requests = st.lists(
    st.tuples(st.integers(min_value=0, max_value=70), st.booleans(), handlers()),
    min_size=1,
    max_size=8,
)


def allowed_for_a_read(config: SessionConfig, loaded: bool) -> tuple[set[str], bool]:
    """What a request that only reads may do: the store operations, and
    whether it may send a cookie (docs/concepts.md, "What is decided at
    commit")."""
    if loaded:
        operations = {"get", "touch"} | ({"set"} if config.resave else set())
        return operations, config.rolling
    if config.save_uninitialized:
        return {"get", "set"}, True
    return {"get"}, False


@settings(max_examples=150, deadline=None)
@given(session_configs, requests)
def test_handler_actions_keep_reads_free_and_cookie_and_store_in_step(
    config: SessionConfig, steps: list[tuple[int, bool, list[str]]]
) -> None:
    clock = Clock()
    store = RecordingStore(clock)
    signer = IdSigner(config.secret)
    jar: Jar | None = None

    for number, (seconds_later, is_tls, actions) in enumerate(steps):
        clock.now += timedelta(seconds=seconds_later)
        if jar is not None and jar.expires is not None and jar.expires <= clock.now:
            jar = None  # the browser lets an expired cookie go
        sends = jar is not None and (is_tls or not jar.secure)
        store.operations.clear()

        runner = SyncRunner(config, store, signer=signer, clock=clock)
        session = runner.load(
            RequestFacts(
                cookie_headers=(f"sid={jar.value}",) if sends and jar else (),
                is_tls=is_tls,
                now=clock.now,
            )
        )
        assert session is not None
        loaded = not session.is_new
        for counter, action in enumerate(actions):
            act(session, action, 100 * number + counter)
        headers = runner.commit()
        runner.finish()

        # No store is ever handed a lifetime that is already over.
        for operation, _, expires in store.operations:
            assert expires is None or expires > clock.now, operation

        # A request that only reads writes no data and sends no cookie,
        # except where the documentation says so.
        if set(actions) <= set(READS):
            operations, may_send = allowed_for_a_read(config, loaded)
            done = {operation for operation, _, _ in store.operations}
            assert done <= operations, (actions, store.operations)
            assert not headers or may_send, headers

        # The browser takes what it was sent.
        for header in headers:
            cookie = parse_set_cookie(header)
            if not cookie.value or cookie.max_age == 0:
                jar = None
                continue
            expires = None
            if cookie.max_age is not None:
                expires = clock.now + timedelta(seconds=cookie.max_age)
                assert cookie.expires is not None
                assert cookie.expires == expires.strftime("%a, %d %b %Y %H:%M:%S GMT")
            jar = Jar(cookie.value, expires, cookie.secure)

        # The store keeps a persistent cookie's session exactly as long.
        if jar is not None and jar.expires is not None:
            session_id = signer.unsign(jar.value)
            assert session_id is not None
            record = store.peek(session_id)
            assert record is not None, "the client holds a session the store lost"
            assert record.expires == jar.expires
