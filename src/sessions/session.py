"""The session object a request handler works with.

:class:`Session` is a real :class:`dict`, so code written for Flask's or
Starlette's dict sessions keeps working (``json.dumps(session)``,
``dict(session)``, ``session | other``). Changes are found key by key, by
comparing a canonical JSON text of each value with the one taken when the
session was loaded or last saved, so every mutation counts, including
in-place changes deep inside nested values, and a request that only reads
never writes. Knowing which keys a request set or deleted is what lets a
write that lost a race with another request be replayed on top of the
other request's result (see :mod:`sessions.cycle`).

Lifecycle methods (:meth:`Session.regenerate`, :meth:`Session.destroy`,
:meth:`Session.touch`, :meth:`Session.detach`) only record an intent; the
request cycle turns it into store operations and cookie headers when the
response starts. ``save()`` and ``reload()`` need I/O, so they live on the
adapter-specific subclasses :class:`~sessions.SyncSession` and
:class:`~sessions.AsyncSession`. While one of them is running, the
lifecycle methods and changes to the cookie lifetime are refused: the
store's answer would otherwise undo them or leave them pointing at a record
that was never written.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sessions.config import MAX_LIFETIME
from sessions.errors import SessionCommittedError, UsageError
from sessions.ids import check_session_id
from sessions.records import SessionRecord, canonical_json

__all__ = ["Session", "SessionCookie"]


def encode_values(data: dict[str, Any]) -> dict[str, str]:
    """The canonical JSON text of each value of ``data``, by key.

    Raises:
        TypeError, ValueError: a value is not JSON-safe.
    """
    return {key: canonical_json(value) for key, value in data.items()}


class SessionCookie:
    """The lifetime of one session's cookie, which a handler may change.

    Reading :attr:`max_age` gives the time remaining; assigning it (or
    :attr:`expires`) changes this session's cookie and stored expiry from
    this response on. Other cookie attributes come from the configuration.
    """

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def max_age(self) -> int | None:
        """Seconds left before the cookie expires; ``None`` for a
        browser-session cookie. Assign seconds (or a ``timedelta``) to give
        this session a new lifetime, or ``None`` to make its cookie end with
        the browser. Zero or less ends the session like ``destroy()``."""
        session = self._session
        if session._expires is None:
            return None
        return max(0, round((session._expires - session._now).total_seconds()))

    @max_age.setter
    def max_age(self, value: int | timedelta | None) -> None:
        session = self._session
        session._check_open()
        if value is None:
            session._max_age = None
            session._expires = None
        else:
            if isinstance(value, timedelta):
                value = round(value.total_seconds())
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError("max_age must be seconds (int), a timedelta or None")
            if value > MAX_LIFETIME:
                raise ValueError("max_age must be at most 400 days")
            session._max_age = value
            session._expires = session._now + timedelta(seconds=value)
        session._cookie_changed = True

    @property
    def expires(self) -> datetime | None:
        """When the cookie expires (timezone-aware), or ``None`` for a
        browser-session cookie. Assigning a past moment ends the session
        like ``destroy()``."""
        return self._session._expires

    @expires.setter
    def expires(self, value: datetime | None) -> None:
        session = self._session
        session._check_open()
        if value is None:
            session._max_age = None
        else:
            if not isinstance(value, datetime):
                raise TypeError("expires must be a timezone-aware datetime or None")
            if value.tzinfo is None:
                raise ValueError("expires must be a timezone-aware datetime")
            # Rounded up: a moment still ahead, however close, must not turn
            # into a Max-Age of zero, which would end the session unannounced.
            max_age = math.ceil((value - session._now).total_seconds())
            if max_age > MAX_LIFETIME:
                raise ValueError("expires must be at most 400 days away")
            session._max_age = max_age
        session._expires = value
        session._cookie_changed = True

    @property
    def original_max_age(self) -> int | None:
        """The lifetime in seconds that :meth:`Session.touch` and every
        re-sent cookie restore; ``None`` for a browser-session cookie."""
        return self._session._max_age

    def __repr__(self) -> str:
        return f"SessionCookie(max_age={self.max_age!r}, expires={self.expires!r})"


class Session(dict[str, Any]):
    """The data of one session, plus what the handler wants done with it.

    Instances are made by the request cycle, not by application code.
    """

    __slots__ = (
        "_base",
        "_cookie_changed",
        "_created",
        "_default_max_age",
        "_destroyed",
        "_detached",
        "_doomed",
        "_expires",
        "_genid",
        "_id",
        "_max_age",
        "_now",
        "_outage",
        "_persisted",
        "_regenerated",
        "_sealed",
        "_store_busy",
        "_stored_expires",
        "_stored_max_age",
        "_touched",
        "_version",
    )

    def __init__(
        self,
        *,
        session_id: str,
        now: datetime,
        genid: Callable[[], str],
        record: SessionRecord | None = None,
        max_age: int | None = None,
        outage: BaseException | None = None,
    ) -> None:
        """Build a session: loaded from ``record``, or new and empty when
        ``record`` is ``None``. ``max_age`` is the configured cookie max-age,
        used for new sessions. ``outage`` is the store error that kept the
        real session from loading, for a session that stands in for it."""
        super().__init__()
        self._id = session_id
        self._now = now
        self._genid = genid
        self._doomed: list[str] = []
        self._regenerated = False
        self._destroyed = False
        self._detached = False
        self._touched = False
        self._cookie_changed = False
        self._sealed = False
        self._store_busy = False
        self._default_max_age = max_age
        self._outage = outage
        if record is None:
            self._persisted = False
            self._base: dict[str, str] = {}
            self._version = 0
            self._created = now
            self._set_lifetime(max_age)
            self._stored_max_age = max_age
            self._stored_expires: datetime | None = None
        else:
            self._adopt(record)

    # -- state shared with the request cycle ---------------------------------

    def _set_lifetime(self, max_age: int | None) -> None:
        self._max_age = max_age
        self._expires = (
            None if max_age is None else self._now + timedelta(seconds=max_age)
        )

    def _adopt(self, record: SessionRecord) -> None:
        """Take ``record``, just read from the store, as this session's state."""
        dict.clear(self)
        dict.update(self, record.data)
        self._persisted = True
        self._base = encode_values(record.data)
        self._version = record.version
        self._created = record.created
        self._max_age = self._stored_max_age = record.max_age
        self._expires = record.expires if record.max_age is not None else None
        self._stored_expires = record.expires
        self._cookie_changed = False

    def _written(self, record: SessionRecord, encoded: dict[str, str]) -> None:
        """Take ``record``, just written to the store, as what the store
        holds. ``encoded`` is :func:`encode_values` of its data."""
        self._persisted = True
        self._base = encoded
        self._version = record.version
        self._stored_max_age = record.max_age
        self._stored_expires = record.expires

    def _check_open(self) -> None:
        if self._store_busy:
            raise UsageError(
                "a save() or reload() of this session is still running: wait "
                "for it before changing the session's id or lifetime"
            )
        if self._sealed:
            raise SessionCommittedError(
                "the response has already started: this change could no longer "
                "reach the cookie or the store; call save() to persist data "
                "changed this late"
            )

    def _replace_id(self) -> None:
        """Retire the current id (destroying it at commit if it was stored)
        and continue under a new one."""
        if self._persisted:
            self._doomed.append(self._id)
        self._id = check_session_id(self._genid())
        self._persisted = False
        self._base = {}
        self._version = 0
        self._stored_max_age = None
        self._stored_expires = None
        self._created = self._now

    # -- public API ----------------------------------------------------------

    @property
    def id(self) -> str:
        """The session id. After :meth:`regenerate` it is already the new one."""
        return self._id

    @property
    def is_new(self) -> bool:
        """Whether the store had no record of this session when it was made
        available to the handler (or since :meth:`regenerate`/:meth:`destroy`)."""
        return not self._persisted

    @property
    def cookie(self) -> SessionCookie:
        """This session's cookie lifetime; see :class:`SessionCookie`."""
        return SessionCookie(self)

    @property
    def created(self) -> datetime:
        """When this session was first created."""
        return self._created

    def regenerate(self, keep_data: bool = False) -> None:
        """Move the session to a new id, to defeat session fixation.

        Call it whenever privileges change, above all at login. The old id
        is deleted from the store when the response starts, and the cookie
        is re-issued with the new id. The data is cleared unless
        ``keep_data`` is true. The same object stays valid.

        Known limitation: with ``keep_data``, the data copied is what this
        request loaded; a change another request commits to the old id
        before this request's commit is not carried over to the new id
        (see the concurrency guide).
        """
        self._check_open()
        self._replace_id()
        self._regenerated = True
        self._destroyed = False
        if not keep_data:
            dict.clear(self)

    def destroy(self) -> None:
        """End the session: it is deleted from the store and the client is
        sent a cookie that expires it.

        The object then behaves as a new, empty session; if the handler puts
        data into it afterwards, that data is saved under a new id.

        A destroyed session stays destroyed: another request that loaded
        it earlier and commits a change later finds it gone, because a
        loaded session is only ever written back with a conditional update
        that cannot create a record. That request's changes are dropped
        (and logged by the adapter). The same holds for the id that
        :meth:`regenerate` retires.
        """
        self._check_open()
        self._replace_id()
        self._destroyed = True
        self._regenerated = False
        dict.clear(self)
        self._set_lifetime(self._default_max_age)

    def touch(self) -> None:
        """Restart the session's lifetime: at commit, the stored expiry and
        the cookie move to now plus the original max-age, even when nothing
        else changed."""
        self._check_open()
        self._touched = True

    def detach(self) -> None:
        """Stop managing this session for the rest of the request, like
        ``req.session = null`` in express-session.

        What happens to the stored copy follows ``SessionConfig.unset``:
        ``"keep"`` leaves it as it was (this request's changes are dropped),
        ``"destroy"`` deletes it and clears the cookie.
        """
        self._check_open()
        self._detached = True

    @property
    def is_modified(self) -> bool:
        """Whether the data differs from what the store last saw."""
        return self._data_changed()

    @property
    def is_available(self) -> bool:
        """``False`` when the store could not be reached as the request
        began and ``SessionConfig.store_outage="read_only"`` let the request
        go on with this empty stand-in. Reading it is fine; changing it (or
        calling a lifecycle method) fails the request when it commits."""
        return self._outage is None

    def _data_changed(self) -> bool:
        base = self._base
        if len(self) != len(base):
            return True
        try:
            for key, value in self.items():
                if base.get(key) != canonical_json(value):
                    return True
        except (TypeError, ValueError, RecursionError):
            # Not JSON-safe: certainly changed; the save reports the key.
            return True
        return False

    def __repr__(self) -> str:
        return f"Session({dict.__repr__(self)})"
