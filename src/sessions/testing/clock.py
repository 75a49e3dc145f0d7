"""A clock that moves only when a test moves it.

Nothing in the library reads the time on its own: the adapters take a
``clock`` (a callable returning a timezone-aware :class:`~datetime.datetime`),
the memory and SQLite stores take a ``clock`` returning POSIX seconds, and the
test clients' cookie jars take the same kind of clock as the adapters. One
:class:`ManualClock` can stand in for all of them, so a test can jump a day
ahead and see a session expire everywhere at once::

    clock = ManualClock()
    store = MemoryStore(clock=clock.time)
    app = SessionMiddleware(app, config, store, clock=clock)
    client = WSGIClient(app, clock=clock)
    ...
    clock.advance(timedelta(days=2))
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

__all__ = ["DEFAULT_START", "ManualClock"]

DEFAULT_START = datetime(2030, 1, 1, tzinfo=timezone.utc)
"""Where a :class:`ManualClock` starts unless told otherwise: a fixed moment,
so runs repeat exactly. It lies in the future, so a store left on the real
clock by mistake still keeps what this clock's requests write (it just never
sees it expire)."""


def _aware(moment: object, what: str) -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return moment.astimezone(timezone.utc)


class ManualClock:
    """A clock that stands still until :meth:`advance` or :meth:`set` moves it.

    Calling it returns the current moment, so the instance itself is the
    ``clock`` an adapter or a test client takes; :meth:`time` gives the same
    moment as POSIX seconds, the ``clock`` of
    :class:`~sessions.MemoryStore` and the SQLite stores. It is safe to
    read from several threads while one thread moves it.

    Args:
        start: The first moment (timezone-aware); by default
            :data:`DEFAULT_START`.

    Raises:
        TypeError: ``start`` is not a datetime.
        ValueError: ``start`` has no timezone.
    """

    __slots__ = ("_lock", "_now")

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        self._now = _aware(start, "start")
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        """The current moment, in UTC."""
        return self._now

    def now(self) -> datetime:
        """The current moment, in UTC (the same as calling the clock)."""
        return self._now

    def time(self) -> float:
        """The current moment as POSIX seconds, for a store's ``clock``."""
        return self._now.timestamp()

    def advance(self, by: timedelta | float) -> datetime:
        """Move the clock forward by ``by`` (a ``timedelta`` or seconds) and
        return the new moment.

        Raises:
            TypeError: ``by`` is neither a timedelta nor a number.
            ValueError: ``by`` is negative; use :meth:`set` to go back.
        """
        if isinstance(by, bool) or not isinstance(by, (timedelta, int, float)):
            raise TypeError("advance() takes a timedelta or a number of seconds")
        step = by if isinstance(by, timedelta) else timedelta(seconds=by)
        if step < timedelta(0):
            raise ValueError("advance() only moves forward; use set() to go back")
        with self._lock:
            self._now += step
            return self._now

    def set(self, moment: datetime) -> datetime:
        """Put the clock at ``moment`` (timezone-aware), forward or back, and
        return it in UTC.

        Raises:
            TypeError: ``moment`` is not a datetime.
            ValueError: ``moment`` has no timezone.
        """
        moment = _aware(moment, "moment")
        with self._lock:
            self._now = moment
            return moment

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"
