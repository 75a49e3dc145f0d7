"""The manual clock and the sequential ids: they move only when told, and a
run that uses them repeats byte for byte."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from sessions import CookieOptions, InvalidSessionIdError, MemoryStore, SessionConfig
from sessions.testing import ManualClock, SequentialIds
from sessions.testing.clients import Response
from sessions.testing.clients.wsgi import WSGIClient
from sessions.testing.clock import DEFAULT_START
from tests.testing.apps import wsgi_app

# -- the clock -------------------------------------------------------------------------


def test_the_clock_stands_still_until_moved() -> None:
    clock = ManualClock()

    assert clock() == clock() == clock.now() == DEFAULT_START
    assert clock.time() == DEFAULT_START.timestamp()


def test_advance_moves_forward_by_seconds_or_a_timedelta() -> None:
    clock = ManualClock(datetime(2025, 6, 1, 12, tzinfo=timezone.utc))

    assert clock.advance(30) == datetime(2025, 6, 1, 12, 0, 30, tzinfo=timezone.utc)
    assert clock.advance(timedelta(hours=1)) == datetime(
        2025, 6, 1, 13, 0, 30, tzinfo=timezone.utc
    )
    assert clock.advance(0.25) == clock()
    assert (
        clock.time()
        == datetime(2025, 6, 1, 13, 0, 30, 250000, tzinfo=timezone.utc).timestamp()
    )


def test_set_moves_anywhere_and_reports_utc() -> None:
    clock = ManualClock()
    paris = timezone(timedelta(hours=1))

    moment = clock.set(datetime(2020, 1, 1, 1, tzinfo=paris))

    assert moment == datetime(2020, 1, 1, tzinfo=timezone.utc)
    assert clock().utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("move", "error"),
    [
        (lambda clock: clock.advance(-1), ValueError),
        (lambda clock: clock.advance(timedelta(seconds=-1)), ValueError),
        (lambda clock: clock.advance("1"), TypeError),
        (lambda clock: clock.advance(True), TypeError),
        (lambda clock: clock.set(datetime(2030, 1, 1)), ValueError),
        (lambda clock: clock.set("2030-01-01"), TypeError),
    ],
)
def test_a_bad_move_is_refused_and_the_clock_stays(
    move: Callable[[ManualClock], object], error: type[Exception]
) -> None:
    clock = ManualClock()

    with pytest.raises(error):
        move(clock)
    assert clock() == DEFAULT_START


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2030, 1, 1))


# -- the ids ---------------------------------------------------------------------------


def test_ids_are_numbered_in_order() -> None:
    ids = SequentialIds()

    assert SequentialIds().last is None
    assert SequentialIds().issued == ()
    assert ids.peek() == "session-1"
    assert [ids(), ids(), ids()] == ["session-1", "session-2", "session-3"]
    assert ids.issued == ("session-1", "session-2", "session-3")
    assert ids.last == "session-3"
    assert ids.peek() == "session-4"


def test_prefix_and_start_are_chosen() -> None:
    ids = SequentialIds(prefix="u.", start=0)

    assert [ids(), ids()] == ["u.0", "u.1"]


@pytest.mark.parametrize(
    ("prefix", "start", "error"),
    [
        ("with space ", 1, InvalidSessionIdError),
        ("x" * 256, 1, InvalidSessionIdError),
        ("s", -1, ValueError),
        ("s", True, ValueError),
    ],
)
def test_a_prefix_or_start_that_cannot_make_ids_is_refused(
    prefix: str, start: int, error: type
) -> None:
    with pytest.raises(error):
        SequentialIds(prefix, start)


def test_no_id_is_handed_out_twice_across_threads() -> None:
    ids = SequentialIds()
    drawn: list[list[str]] = [[] for _ in range(8)]
    go = threading.Barrier(8)

    def draw(into: list[str]) -> None:
        go.wait()
        into.extend(ids() for _ in range(500))

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every = [session_id for into in drawn for session_id in into]
    assert len(set(every)) == len(every) == 4000
    assert set(every) == {f"session-{number}" for number in range(1, 4001)}


# -- together: a run that repeats exactly ----------------------------------------------


def one_run() -> list[tuple[int, tuple[tuple[str, str], ...], bytes]]:
    """Log in, wait, count, log out: every response, headers included."""
    clock = ManualClock()
    config = SessionConfig(
        secret="s", genid=SequentialIds(), cookie=CookieOptions(max_age=600)
    )
    seen = []
    with WSGIClient(
        wsgi_app(config, MemoryStore(clock=clock.time), clock), clock=clock
    ) as client:
        steps: list[Callable[[], Response]] = [
            lambda: client.post("/login", data={"user": "ada"}),
            lambda: client.get("/count"),
            lambda: client.get("/count"),
            lambda: client.post("/logout"),
        ]
        for step in steps:
            response = step()
            clock.advance(timedelta(minutes=3))
            seen.append((response.status, response.headers, response.body))
    return seen


def test_two_runs_on_a_manual_clock_and_sequential_ids_are_identical() -> None:
    first, second = one_run(), one_run()

    assert first == second
    # Not trivially: the runs set cookies with ids and expiry dates.
    cookies = [
        value
        for _, headers, _ in first
        for name, value in headers
        if name == "Set-Cookie"
    ]
    assert any("session-" in value and "Expires=" in value for value in cookies)
