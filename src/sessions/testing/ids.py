"""Session ids a test can predict.

:class:`SequentialIds` is a ``genid`` for :class:`~sessions.SessionConfig`
that numbers the sessions it creates, so a test can tell which id a login
should produce and what the cookie must carry::

    ids = SequentialIds()
    config = SessionConfig(secret="test", genid=ids)

Never use it outside tests: a session id must be unguessable, and these
are the opposite.
"""

from __future__ import annotations

import threading

from sessions.ids import check_session_id

__all__ = ["SequentialIds"]


class SequentialIds:
    """Hands out ``<prefix>1``, ``<prefix>2``, ... one per call.

    Safe to call from several threads: no number is given out twice.

    Args:
        prefix: Put before each number. Together they must make a valid
            session id (HTTP token characters, at most 256 of them).
        start: The first number.

    Raises:
        InvalidSessionIdError: ``prefix`` cannot start a session id.
        ValueError: ``start`` is negative.
    """

    __slots__ = ("_issued", "_lock", "_next", "prefix")

    def __init__(self, prefix: str = "session-", start: int = 1) -> None:
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError("start must be a non-negative int")
        check_session_id(f"{prefix}{start}")
        self.prefix = prefix
        self._next = start
        self._issued: list[str] = []
        self._lock = threading.Lock()

    def __call__(self) -> str:
        """The next id."""
        with self._lock:
            session_id = f"{self.prefix}{self._next}"
            self._next += 1
            self._issued.append(session_id)
        return session_id

    def peek(self) -> str:
        """The id the next call will return, without using it up."""
        with self._lock:
            return f"{self.prefix}{self._next}"

    @property
    def issued(self) -> tuple[str, ...]:
        """Every id handed out so far, oldest first."""
        with self._lock:
            return tuple(self._issued)

    @property
    def last(self) -> str | None:
        """The id handed out most recently, or ``None`` before the first."""
        with self._lock:
            return self._issued[-1] if self._issued else None

    def __repr__(self) -> str:
        return f"SequentialIds(prefix={self.prefix!r}, next={self._next})"
