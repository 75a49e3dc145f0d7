"""Exceptions raised by the session library.

Untrusted input (a tampered, unknown or malformed cookie) never raises: it is
a decision of the cycle, and the request simply gets a fresh session. The
exceptions below are for misuse, configuration mistakes and store failures.
Every message names what went wrong without ever quoting a secret or a whole
session id.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InvalidSessionIdError",
    "NoSessionError",
    "SerializationError",
    "SessionCommittedError",
    "SessionError",
    "SessionNotFoundError",
    "StoreError",
    "UsageError",
    "WriteConflictError",
]


class SessionError(Exception):
    """The root of every exception this library raises on purpose."""


class ConfigError(SessionError, ValueError):
    """A configuration value is invalid.

    Raised when a :class:`~sessions.SessionConfig` or
    :class:`~sessions.CookieOptions` is constructed, never later.

    Attributes:
        field: The dotted name of the offending option, for example
            ``"cookie.same_site"``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class UsageError(SessionError, RuntimeError):
    """The library was driven in an order it does not allow.

    For example, committing a request cycle twice, or loading a session after
    the response has started. The cycle that raised it stays in its error
    state; every later call raises again.
    """


class SessionCommittedError(UsageError):
    """The session was changed after its response had already started.

    At that point the ``Set-Cookie`` header is gone and the store write is
    done, so the change would otherwise vanish without a trace. Call
    ``save()`` explicitly to persist a change made that late.
    """


class InvalidSessionIdError(SessionError, ValueError):
    """The id factory (``genid``) returned something that cannot be an id.

    A session id must be a non-empty string of at most 256 characters drawn
    from the HTTP token alphabet, so that it can travel in a cookie unquoted.
    """


class SerializationError(SessionError, TypeError):
    """Session data holds a value that has no exact JSON representation.

    Session data must be made of ``dict`` (with ``str`` keys), ``list``,
    ``str``, ``int``, ``float`` (finite), ``bool`` and ``None``. Anything else
    (a ``set``, a ``tuple``, a ``datetime``, an object) would come back from
    the store as a different type, so it is refused at commit instead.

    Attributes:
        path: Where the value sits, for example ``"cart[2].added"``.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"session[{path}]: {message}" if path else message)
        self.path = path


class NoSessionError(SessionError, LookupError):
    """The request has no session: the session middleware is not installed
    in front of this code, or the request path is outside ``cookie.path``."""


class SessionNotFoundError(SessionError, LookupError):
    """``reload()`` found no record for the session in the store, or an
    explicit ``save()`` found that another request had ended the session
    (a logout, or a ``regenerate()`` that retired its id) while this one
    ran; the change was not stored."""


class StoreError(SessionError):
    """A store could not complete an operation (connection lost, timeout).

    Stores raise it with the underlying exception chained as ``__cause__``.
    It always propagates to the framework's error handling: a store outage
    must never look like "this client has no session".
    """


class WriteConflictError(StoreError):
    """A session write kept losing to other requests' writes.

    Each write of a loaded session is conditional on the version this
    request last read; when another request wrote first, this one reads the
    record again and replays its own changes on top. After
    :data:`~sessions.cycle.MAX_WRITE_ATTEMPTS` tries in a row that all lost
    it gives up with this error, like any store failure.
    """
