"""Scenarios, entries and the interleaved rounds that time them.

An *entry* is one application to measure: a framework's bare application,
or the same application with a session layer (this library or a peer). An
entry is measured in three *scenarios*, all for a returning visitor: the
handler changes the session, only reads it, or never touches it. The pair
of an entry and a scenario is a *cell*.

Theory of operation:

1. Every entry is *prepared* once: a first request creates the session
   (its handler sets ``count`` to 1) and the entry's cookie jar keeps what
   the response set; a second request checks that the session comes back.
   From then on each request sends the jar's cookies, and the jar takes any
   ``Set-Cookie`` an entry sends, so an entry that rotates its cookie is
   followed as a browser would follow it. After the last round, a last
   read checks that ``count`` equals the number of change requests sent:
   no change was lost and no request started a new session.
2. Every cell is *warmed up* with a short batch, which also calibrates its
   batch size so that one batch takes about the same time in every cell.
3. Then come the *rounds*: in each round every cell runs one batch, in an
   order shuffled afresh (with a fixed seed, so runs are comparable), and
   each session layer's batch comes right after a batch of its bare
   application in the same scenario. Only the application call is timed,
   with :func:`time.perf_counter_ns`; building the request and reading the
   cookies are not. A noisy moment on the machine thus hits a cell and the
   bare batch it is compared with alike, and no cell always follows the
   same neighbour.
4. A cell's figure is the median, across rounds, of its batch's mean time
   per request. Overheads and ratios against the bare application compare
   each batch with the bare batch run just before it, and take the median
   of those.
"""

from __future__ import annotations

import enum
import gc
import random
import statistics
import sys
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "SECRET",
    "BenchmarkError",
    "Cell",
    "CookieJar",
    "Driver",
    "Entry",
    "Exchange",
    "RoundTrips",
    "Scenario",
    "Settings",
    "measure",
    "visit",
]


SECRET = "benchmark secret: 32 bytes or more, never for production"
"""The signing secret of every entry that signs or encrypts a cookie."""


class BenchmarkError(Exception):
    """An entry did not behave as a session layer must for the measurement to
    mean anything (a failed request, a session that did not come back)."""


class Scenario(enum.Enum):
    """What the handler does with the returning visitor's session."""

    CHANGE = "change"
    """Increments the ``count`` the first request stored."""
    READ = "read"
    """Reads ``count`` and changes nothing."""
    UNTOUCHED = "untouched"
    """Never looks at the session."""

    @property
    def path(self) -> str:
        """The request path whose handler plays this scenario."""
        return "/" + self.value


def visit(scenario: Scenario, session: MutableMapping[str, Any] | None) -> bytes:
    """What every handler of every entry does, returning the response body.

    ``session`` is ``None`` for a bare application, which answers ``ok``.
    Handlers of the :attr:`Scenario.UNTOUCHED` scenario pass ``None`` too:
    with a lazy session layer, even fetching the session would load it.
    """
    if session is None or scenario is Scenario.UNTOUCHED:
        return b"ok"
    if scenario is Scenario.READ:
        return str(session.get("count")).encode()
    count = int(session.get("count", 0)) + 1
    session["count"] = count
    return str(count).encode()


@dataclass
class Exchange:
    """One request as the client saw it."""

    status: int
    set_cookies: list[str]
    body: bytes
    elapsed_ns: int
    """How long the application call took."""


class Driver(Protocol):
    """Hands one request to an application, in-process."""

    async def send(self, scenario: Scenario, cookie: str | None) -> Exchange:
        """Send a ``GET`` to ``scenario.path`` with ``cookie`` as its
        ``Cookie`` header (none when ``None``) and time the application."""
        ...


@dataclass
class RoundTrips:
    """A count of the commands (or pipelines) a Redis client has sent, each
    one network round trip."""

    count: int = 0


class CookieJar:
    """The cookies of one client: takes ``Set-Cookie`` values, renders the
    ``Cookie`` header. Attributes other than expiry are not needed here."""

    def __init__(self) -> None:
        self._cookies: dict[str, str] = {}

    def header(self) -> str | None:
        """The ``Cookie`` header to send, or ``None`` when the jar is empty."""
        if not self._cookies:
            return None
        return "; ".join(f"{name}={value}" for name, value in self._cookies.items())

    def take(self, set_cookies: list[str]) -> None:
        """Keep each cookie set, and drop each cookie deleted (``Max-Age=0``
        or an expiry in 1970)."""
        for header in set_cookies:
            pair, _, attributes = header.partition(";")
            name, _, value = pair.strip().partition("=")
            lowered = attributes.lower().replace(" ", "")
            if "max-age=0" in lowered.split(";") or "1970" in lowered:
                self._cookies.pop(name, None)
            else:
                self._cookies[name] = value


@dataclass
class Entry:
    """One application to measure.

    Attributes:
        group: The framework, which is also the bare application compared
            against (``None`` bare for the core-only entries).
        name: What is measured, as the report shows it.
        driver: How requests reach the application.
        is_bare: Whether this is the group's application without sessions.
        round_trips: The counter of the entry's Redis client, if any.
    """

    group: str
    name: str
    driver: Driver
    is_bare: bool = False
    round_trips: RoundTrips | None = None
    jar: CookieJar = field(default_factory=CookieJar)
    changes: int = 0
    """How many change-scenario requests the entry has answered: the
    ``count`` its session must hold."""


@dataclass
class Cell:
    """One entry in one scenario, and what its batches measured."""

    entry: Entry
    scenario: Scenario
    batch: int = 1
    """Requests per batch, set by the warm-up."""
    per_request_ns: list[float] = field(default_factory=list)
    """Each round's mean time per request."""
    bare_ns: list[float] = field(default_factory=list)
    """For a session layer: each round's mean time per request of the bare
    application's batch run just before this cell's."""
    requests: int = 0
    set_cookies: int = 0
    round_trips: int = 0


@dataclass(frozen=True)
class Settings:
    """How long to measure.

    Attributes:
        rounds: How many times every cell runs a batch.
        batch_ns: About how long one batch should take.
        warmup_requests: How many requests warm up a cell and calibrate it.
        max_batch: The largest batch, whatever the calibration says.
    """

    rounds: int
    batch_ns: int
    warmup_requests: int
    max_batch: int = 5000


async def _request(entry: Entry, scenario: Scenario) -> Exchange:
    exchange = await entry.driver.send(scenario, entry.jar.header())
    if exchange.status != 200:
        raise BenchmarkError(
            f"{entry.group} / {entry.name}: GET {scenario.path} answered "
            f"{exchange.status}"
        )
    entry.jar.take(exchange.set_cookies)
    if scenario is Scenario.CHANGE:
        entry.changes += 1
    return exchange


async def _check_count(entry: Entry, when: str) -> None:
    """Check that the entry's session holds every change made so far.

    Raises:
        BenchmarkError: it does not (or, for a bare application, the answer
            is not ``ok``).
    """
    read = await _request(entry, Scenario.READ)
    expected = b"ok" if entry.is_bare else str(entry.changes).encode()
    if read.body != expected:
        raise BenchmarkError(
            f"{entry.group} / {entry.name}: {when}, a returning request read "
            f"{read.body!r} instead of {expected!r}; the session lost changes"
        )


async def prepare(entry: Entry) -> None:
    """Create the entry's session with a first request, then check that a
    returning request finds it.

    Raises:
        BenchmarkError: a request failed, or the session did not come back.
    """
    await _request(entry, Scenario.CHANGE)
    await _check_count(entry, "after the first request")


async def _run_batch(cell: Cell, count: int) -> int:
    """Run ``count`` requests of ``cell``, returning the time they took."""
    entry = cell.entry
    tally = entry.round_trips
    trips_before = 0 if tally is None else tally.count
    elapsed = 0
    for _ in range(count):
        exchange = await _request(entry, cell.scenario)
        elapsed += exchange.elapsed_ns
        cell.set_cookies += len(exchange.set_cookies)
    cell.requests += count
    if tally is not None:
        cell.round_trips += tally.count - trips_before
    return elapsed


async def _warm_up(cell: Cell, settings: Settings) -> None:
    """Run the warm-up batch, size the cell's batches, and forget the
    warm-up's counts."""
    count = max(1, settings.warmup_requests)
    elapsed = await _run_batch(cell, count)
    per_request = max(1.0, elapsed / count)
    cell.batch = max(1, min(settings.max_batch, round(settings.batch_ns / per_request)))
    cell.requests = cell.set_cookies = cell.round_trips = 0


SHUFFLE_SEED = 20261204
"""Seeds the order of the cells in each round."""


def cell_key(cell: Cell) -> tuple[str, Scenario]:
    """What pairs a cell with its bare application's cell."""
    return cell.entry.group, cell.scenario


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def measure(
    entries: list[Entry],
    settings: Settings,
    progress: Callable[[str], None] = _progress,
) -> list[Cell]:
    """Prepare, warm up and measure every cell of ``entries``.

    Returns the cells in entry order, then scenario order.
    """
    for entry in entries:
        progress(f"preparing {entry.group} / {entry.name}")
        await prepare(entry)
    cells = [Cell(entry, scenario) for entry in entries for scenario in Scenario]
    progress(f"warming up {len(cells)} cells")
    for cell in cells:
        await _warm_up(cell, settings)
    bare_of = {
        (cell.entry.group, cell.scenario): cell for cell in cells if cell.entry.is_bare
    }
    shuffler = random.Random(SHUFFLE_SEED)
    for number in range(settings.rounds):
        progress(f"round {number + 1}/{settings.rounds}")
        gc.collect()  # untimed: start every round with the same heap state
        order = cells.copy()
        shuffler.shuffle(order)
        for cell in order:
            bare = None if cell.entry.is_bare else bare_of.get(cell_key(cell))
            if bare is not None:
                elapsed = await _run_batch(bare, bare.batch)
                cell.bare_ns.append(elapsed / bare.batch)
            elapsed = await _run_batch(cell, cell.batch)
            cell.per_request_ns.append(elapsed / cell.batch)
    for entry in entries:
        await _check_count(entry, "after the last round")
    return cells


def median_ns(values: list[float]) -> float:
    """The median of per-request times."""
    return statistics.median(values)


def spread_ns(values: list[float]) -> float:
    """The interquartile range of per-request times (zero for fewer than two
    rounds)."""
    if len(values) < 2:
        return 0.0
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    return quartiles[2] - quartiles[0]


def paired(cell: Cell, compare: Callable[[float, float], float]) -> float:
    """The median over rounds of ``compare(cell's time, bare's time)``, each
    pair a batch of ``cell`` and the bare batch run just before it."""
    return statistics.median(
        compare(mine, theirs)
        for mine, theirs in zip(cell.per_request_ns, cell.bare_ns, strict=True)
    )
