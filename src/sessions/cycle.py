"""The request cycle: every session decision, with no I/O.

Theory of operation
-------------------
One :class:`SessionCycle` serves one HTTP request. The adapter (WSGI, ASGI,
aiohttp, Tornado, or your own) feeds it plain facts and carries out what it
decides; the cycle never touches a socket, a store, the clock or a random
source by itself (new ids come from the configured ``genid``).

1. ``receive_request(facts)``: the cookie headers, the full path, whether the
   transport is TLS, any ``X-Forwarded-Proto`` values and the current time.
   The answer is :class:`NoSession` (the path is outside the cookie's path),
   :class:`SessionReady` (no usable cookie: a new, unsaved session) or
   :class:`LoadSession` (look this id up in the store).
2. ``receive_record(id, record_or_None)`` for each lookup. Candidates are
   the cookie values that verify, in header order, at most
   :data:`MAX_CANDIDATES` of them; the first one the store knows wins. When
   none is known, the request gets a new session under a *new* id: a
   client's id is never adopted.
3. The handler runs. An explicit ``save()`` or ``reload()`` goes through
   ``begin_save()``/``end_save()`` and ``begin_reload()``/``end_reload()``.
4. ``begin_commit(now)`` just before the response starts returns the ordered
   effects: store effects (:class:`Destroy`, :class:`Save`, :class:`Touch`)
   first, then header effects (:class:`SetCookie`, :class:`ClearCookie`).
   The adapter runs the store effects, and only once they succeeded calls
   ``end_commit()`` and sends the headers with the status line, so a
   redirect can never outrun its session write. If a store effect fails it
   calls ``fail()`` and lets the error reach the framework: no cookie is
   sent that points at nothing.
5. ``finish()`` when the response is over. Data changed after the commit
   and never saved raises :class:`~sessions.errors.SessionCommittedError`
   here rather than vanishing.

The legal moves are the table :data:`TRANSITIONS`. Any other call raises
:class:`~sessions.errors.UsageError` and leaves the cycle in the sticky
``ERROR`` state.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta, timezone
from typing import Final, TypeAlias
from urllib.parse import urlsplit

import attrs

from sessions.config import SessionConfig
from sessions.cookies import cookie_values
from sessions.errors import SessionCommittedError, SessionNotFoundError, UsageError
from sessions.ids import check_session_id
from sessions.records import SessionRecord, canonical_json, check_json_data
from sessions.session import Session
from sessions.signing import IdSigner

__all__ = [
    "MAX_CANDIDATES",
    "MAX_COOKIE_VALUES",
    "TRANSITIONS",
    "ClearCookie",
    "CookieWithheld",
    "CycleState",
    "Destroy",
    "Effect",
    "Event",
    "LoadSession",
    "NoSession",
    "RequestFacts",
    "Save",
    "SessionCycle",
    "SessionReady",
    "SetCookie",
    "Touch",
]

MAX_CANDIDATES: Final = 4
"""How many verified cookie values of the session name are looked up in the
store, at most, before the request gets a new session."""

MAX_COOKIE_VALUES: Final = 64
"""How many values of the session cookie that look like signed ids (see
:meth:`~sessions.signing.IdSigner.looks_signed`) get their signature
checked, in header order. Values of any other shape are skipped for free.
Browsers send two or three when cookies differ only by Domain or Path; a
header holding thousands must not cost thousands of signature checks."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)


class CycleState(enum.Enum):
    """Where a request cycle stands."""

    IDLE = "idle"  # waiting for the request facts
    LOADING = "loading"  # waiting for a store lookup
    ACTIVE = "active"  # the session is in the handler's hands
    SAVING = "saving"  # an explicit save() is running
    RELOADING = "reloading"  # an explicit reload() is running
    COMMITTING = "committing"  # store effects of the commit are running
    COMMITTED = "committed"  # the response has started
    LATE_SAVING = "late-saving"  # an explicit save() after the response started
    BYPASSED = "bypassed"  # the request is outside the cookie path
    CLOSED = "closed"  # the response is over
    ERROR = "error"  # misuse or a store failure; sticky


class Event(enum.Enum):
    """What can happen to a request cycle."""

    REQUEST_OUTSIDE_PATH = "request outside the cookie path"
    REQUEST_WITHOUT_ID = "request without a verified id"
    REQUEST_WITH_ID = "request with a verified id"
    RECORD_MISSING_TRY_NEXT = "record missing, another candidate left"
    RECORD_SETTLED = "lookup settled"
    SAVE_BEGIN = "save begins"
    SAVE_END = "save ends"
    RELOAD_BEGIN = "reload begins"
    RELOAD_END = "reload ends"
    COMMIT_BEGIN = "commit begins"
    COMMIT_END = "commit ends"
    FINISH = "response finished"


S, E = CycleState, Event

TRANSITIONS: Final[dict[tuple[CycleState, Event], CycleState]] = {
    (S.IDLE, E.REQUEST_OUTSIDE_PATH): S.BYPASSED,
    (S.IDLE, E.REQUEST_WITHOUT_ID): S.ACTIVE,
    (S.IDLE, E.REQUEST_WITH_ID): S.LOADING,
    (S.LOADING, E.RECORD_MISSING_TRY_NEXT): S.LOADING,
    (S.LOADING, E.RECORD_SETTLED): S.ACTIVE,
    (S.ACTIVE, E.SAVE_BEGIN): S.SAVING,
    (S.SAVING, E.SAVE_END): S.ACTIVE,
    (S.ACTIVE, E.RELOAD_BEGIN): S.RELOADING,
    (S.RELOADING, E.RELOAD_END): S.ACTIVE,
    (S.ACTIVE, E.COMMIT_BEGIN): S.COMMITTING,
    (S.COMMITTING, E.COMMIT_END): S.COMMITTED,
    (S.COMMITTED, E.SAVE_BEGIN): S.LATE_SAVING,
    (S.LATE_SAVING, E.SAVE_END): S.COMMITTED,
    (S.COMMITTED, E.FINISH): S.CLOSED,
    (S.BYPASSED, E.COMMIT_BEGIN): S.BYPASSED,
    (S.BYPASSED, E.COMMIT_END): S.BYPASSED,
    (S.BYPASSED, E.FINISH): S.CLOSED,
    # A handler that raised before the response started: nothing to commit.
    (S.IDLE, E.FINISH): S.CLOSED,
    (S.LOADING, E.FINISH): S.CLOSED,
    (S.ACTIVE, E.FINISH): S.CLOSED,
    (S.ERROR, E.FINISH): S.ERROR,
}
"""(state, event) -> next state. A pair missing here is a usage error."""

del S, E


# -- request facts and decisions -------------------------------------------


@attrs.frozen(kw_only=True)
class RequestFacts:
    """What the cycle needs to know about an incoming request.

    Attributes:
        cookie_headers: Every ``Cookie`` header field, in order.
        path: The full request path, including any mount prefix (WSGI
            ``SCRIPT_NAME + PATH_INFO``, ASGI ``root_path + path``), without
            the query string.
        is_tls: Whether this hop arrived over TLS.
        forwarded_proto: Every ``X-Forwarded-Proto`` field, in order; only
            read when ``trust_proxy`` is on.
        now: The current time, timezone-aware.
    """

    cookie_headers: tuple[str, ...] = ()
    path: str = "/"
    is_tls: bool = False
    forwarded_proto: tuple[str, ...] = ()
    now: datetime


@attrs.frozen
class NoSession:
    """The request is outside the cookie path: it gets no session at all."""


@attrs.frozen
class LoadSession:
    """Look ``session_id`` up in the store and pass the answer to
    :meth:`SessionCycle.receive_record`."""

    session_id: str


@attrs.frozen
class SessionReady:
    """The session is ready for the handler."""

    session: Session


Decision: TypeAlias = "NoSession | LoadSession | SessionReady"


# -- effects -----------------------------------------------------------------


@attrs.frozen
class Save:
    """Write ``record`` under ``session_id`` (insert or replace)."""

    session_id: str
    record: SessionRecord


@attrs.frozen
class Touch:
    """Move the stored expiry of ``session_id`` to ``expires``, keeping the
    stored data as it is."""

    session_id: str
    expires: datetime


@attrs.frozen
class Destroy:
    """Delete ``session_id`` from the store (a missing id is not an error)."""

    session_id: str


@attrs.frozen
class SetCookie:
    """Send ``header`` as a ``Set-Cookie`` field."""

    header: str


@attrs.frozen
class ClearCookie:
    """Send ``header``, a ``Set-Cookie`` field that deletes the cookie."""

    header: str


@attrs.frozen
class CookieWithheld:
    """A cookie was due but cannot be sent: the cookie is ``Secure`` and the
    request is not. No header is sent and a new session is not stored.
    Adapters log it; nothing needs executing."""

    reason: str


StoreEffect: TypeAlias = "Save | Touch | Destroy"
Effect: TypeAlias = "Save | Touch | Destroy | SetCookie | ClearCookie | CookieWithheld"


# -- the cycle ---------------------------------------------------------------


def request_path(target: str) -> str:
    """The path to match against ``cookie.path`` for a request target.

    An absolute-form target (``http://host/x``) contributes its path; a
    target that is not a path at all (``*`` in ``OPTIONS *``) counts as
    ``/``, as RFC 6265 does for a request URI without one.
    """
    if target.startswith("/"):
        return target
    if "://" in target:
        path = urlsplit(target).path
        return path if path.startswith("/") else "/"
    return "/"


def path_matches(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 section 5.1.4 path-match."""
    if request_path == cookie_path:
        return True
    if not request_path.startswith(cookie_path):
        return False
    return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"


def _ended(session: Session, now: datetime) -> bool:
    """Whether ``session``'s cookie has expired by ``now`` (the handler moved
    its expiry into the past, or gave it a lifetime of zero or less)."""
    return session._expires is not None and session._expires <= now


def forwarded_secure(values: tuple[str, ...]) -> bool:
    """Whether the first ``X-Forwarded-Proto`` token, with all fields joined
    in order, is ``https`` (case and surrounding spaces and tabs ignored;
    nothing else). An empty first token is not ``https``."""
    if not values:
        return False
    return values[0].split(",", 1)[0].strip(" \t").lower() == "https"


class SessionCycle:
    """The session decisions for one request; see the module documentation.

    Args:
        config: The shared configuration.
        signer: An :class:`~sessions.signing.IdSigner` for ``config.secret``;
            pass one built once per application to avoid rebuilding it.
        session_class: The class of session handed to the handler, so an
            adapter can provide one with ``save()``/``reload()``.
    """

    __slots__ = (
        "_candidates",
        "_client_id",
        "_config",
        "_dropped",
        "_had_cookie",
        "_now",
        "_pending_snapshot",
        "_saved_changes",
        "_saved_in_request",
        "_secure",
        "_session",
        "_session_class",
        "_signer",
        "state",
    )

    def __init__(
        self,
        config: SessionConfig,
        *,
        signer: IdSigner | None = None,
        session_class: type[Session] = Session,
    ) -> None:
        self._config = config
        self._signer = signer if signer is not None else IdSigner(config.secret)
        self._session_class = session_class
        self._session: Session | None = None
        self._candidates: list[str] = []
        self._had_cookie = False
        self._secure = False
        self._now = _EPOCH
        self._client_id: str | None = None
        self._saved_in_request = False
        # Whether an explicit save() of this request stored changed data: the
        # data changed in this request even though it now equals the store's.
        self._saved_changes = False
        self._pending_snapshot = ""
        # Set at commit when this request's changes are deliberately not
        # stored (detached, ended, or the cookie could not be delivered).
        self._dropped = False
        self.state = CycleState.IDLE

    # -- plumbing ------------------------------------------------------------

    def _move(self, event: Event) -> None:
        try:
            self.state = TRANSITIONS[self.state, event]
        except KeyError:
            state, self.state = self.state, CycleState.ERROR
            raise UsageError(
                f"cannot handle '{event.value}' in state '{state.value}'"
            ) from None

    def fail(self) -> None:
        """Put the cycle in its error state after a store failure, so nothing
        more is done with it. The adapter re-raises the store's error."""
        self.state = CycleState.ERROR

    @property
    def session(self) -> Session | None:
        """The session, once it is ready; ``None`` before and when bypassed."""
        return self._session

    @property
    def request_is_secure(self) -> bool:
        """Whether the request counts as secure (TLS, or a trusted proxy said
        so)."""
        return self._secure

    def _deliverable(self) -> bool:
        """Whether a cookie can reach the client on this request."""
        return self._secure or self._config.cookie.secure is not True

    def _new_session(self) -> Session:
        config = self._config
        try:
            session_id = check_session_id(config.genid())
        except Exception:
            self.state = CycleState.ERROR  # the request cannot get a session
            raise
        return self._session_class(
            session_id=session_id,
            now=self._now,
            genid=config.genid,
            max_age=config.cookie.max_age,
        )

    # -- loading -------------------------------------------------------------

    def receive_request(self, facts: RequestFacts) -> Decision:
        """Take the request's facts and say how to get its session."""
        config = self._config
        if facts.now.tzinfo is None:
            self.state = CycleState.ERROR
            raise UsageError("RequestFacts.now must be timezone-aware")
        if not path_matches(request_path(facts.path), config.cookie.path):
            self._move(Event.REQUEST_OUTSIDE_PATH)
            return NoSession()

        self._now = facts.now
        self._secure = facts.is_tls or (
            config.trust_proxy and forwarded_secure(facts.forwarded_proto)
        )
        values = cookie_values(facts.cookie_headers, config.name)
        self._had_cookie = bool(values)
        candidates = self._candidates
        signer = self._signer
        checked: set[str] = set()
        for value in values:
            if value in checked or not signer.looks_signed(value):
                continue
            checked.add(value)
            if len(checked) > MAX_COOKIE_VALUES:
                break
            session_id = signer.unsign(value)
            if session_id is not None and session_id not in candidates:
                candidates.append(session_id)
                if len(candidates) == MAX_CANDIDATES:
                    break

        if not candidates:
            self._move(Event.REQUEST_WITHOUT_ID)
            return self._ready(self._new_session())
        self._move(Event.REQUEST_WITH_ID)
        return LoadSession(candidates[0])

    def receive_record(
        self, session_id: str, record: SessionRecord | None
    ) -> LoadSession | SessionReady:
        """Take the store's answer for the id of the last :class:`LoadSession`."""
        if self.state is not CycleState.LOADING:
            self._move(Event.RECORD_SETTLED)  # raises: no lookup is pending
        if session_id != self._candidates[0]:
            self.state = CycleState.ERROR
            raise UsageError("receive_record got an id that was not asked for")
        if record is not None and not record.is_expired(self._now):
            self._move(Event.RECORD_SETTLED)
            self._client_id = session_id
            config = self._config
            return self._ready(
                self._session_class(
                    session_id=session_id,
                    now=self._now,
                    genid=config.genid,
                    record=record,
                    max_age=config.cookie.max_age,
                )
            )
        del self._candidates[0]
        if self._candidates:
            self._move(Event.RECORD_MISSING_TRY_NEXT)
            return LoadSession(self._candidates[0])
        self._move(Event.RECORD_SETTLED)
        return self._ready(self._new_session())

    def _ready(self, session: Session) -> SessionReady:
        self._session = session
        return SessionReady(session)

    # -- explicit save and reload ---------------------------------------------

    def _active_session(self) -> Session:
        session = self._session
        if session is None:
            self.state = CycleState.ERROR
            raise UsageError("there is no session in this request")
        return session

    def begin_save(self, now: datetime) -> Save | None:
        """Start an explicit ``save()``: the returned effect must be run, then
        :meth:`end_save` called (with ``ok=False`` if it failed).

        Returns ``None``, and nothing is to be done, for a new session whose
        cookie could not be delivered on this request (a ``Secure`` cookie on
        a request that is not secure): the client could never present it. The
        same goes for a session whose expiry the handler moved into the past:
        a store must never get a record that is already over, and the commit
        deletes the session.
        """
        session = self._active_session()
        late = self.state is CycleState.COMMITTED
        if late and session.id != self._client_id:
            self.state = CycleState.ERROR
            raise SessionCommittedError(
                "cannot save a session whose cookie was never sent: the "
                "response has already started"
            )
        state = self.state
        self._move(Event.SAVE_BEGIN)
        if (not session._persisted and not self._deliverable()) or _ended(session, now):
            self.state = state  # nothing to write
            return None
        try:
            record = self._record(session, now)
        except Exception:
            self.state = state  # nothing was written: the save never started
            raise
        session._store_busy = True
        return Save(session.id, record)

    def end_save(self, *, ok: bool = True) -> None:
        """Finish an explicit save started with :meth:`begin_save`."""
        session = self._active_session()
        self._move(Event.SAVE_END)
        session._store_busy = False
        if ok:
            if self._pending_snapshot != session._snapshot:
                self._saved_changes = True
            session._persisted = True
            session._snapshot = self._pending_snapshot
            session._stored_max_age = session._max_age
            self._saved_in_request = True

    def begin_reload(self) -> LoadSession:
        """Start an explicit ``reload()``: look the returned id up, then call
        :meth:`end_reload` with what the store said."""
        session = self._active_session()
        self._move(Event.RELOAD_BEGIN)
        session._store_busy = True
        return LoadSession(session.id)

    def end_reload(self, record: SessionRecord | None, *, ok: bool = True) -> None:
        """Replace the session's data with ``record``.

        Raises:
            SessionNotFoundError: the store no longer has the session (or it
                has expired); the session keeps its current data.
        """
        session = self._active_session()
        self._move(Event.RELOAD_END)
        session._store_busy = False
        if not ok:
            return
        if record is None or record.is_expired(self._now):
            raise SessionNotFoundError("the store no longer has this session")
        session._adopt(record)
        self._saved_in_request = False

    # -- commit ----------------------------------------------------------------

    def begin_commit(self, now: datetime) -> tuple[Effect, ...]:
        """Decide, at response start, what the store and the client get.

        Returns store effects first, then header effects. Run the store
        effects, then call :meth:`end_commit`, then send the headers.

        Raises:
            SerializationError: the data holds a value JSON cannot carry.
        """
        self._move(Event.COMMIT_BEGIN)
        self._pending_snapshot = ""
        session = self._session
        if session is None:  # outside the cookie path
            return ()
        # From here on the effects are decided: a later change could not
        # reach them.
        session._sealed = True
        try:
            return self._decide(session, now)
        except Exception:
            self.state = CycleState.ERROR
            raise

    def end_commit(self) -> None:
        """Record that the commit's store effects succeeded."""
        self._move(Event.COMMIT_END)
        session = self._session
        if session is None:
            return
        if self._pending_snapshot:  # the commit saved the session
            session._persisted = True
            session._snapshot = self._pending_snapshot
            session._stored_max_age = session._max_age

    def finish(self) -> None:
        """Close the cycle when the response is over.

        Raises:
            SessionCommittedError: the handler changed the data after the
                response started and did not ``save()`` it.
        """
        committed = self.state is CycleState.COMMITTED
        self._move(Event.FINISH)
        session = self._session
        if (
            committed
            and session is not None
            and not self._dropped
            and session._data_changed()
        ):
            raise SessionCommittedError(
                "session data was changed after the response started and never "
                "saved, so the change is lost; call save() after such a change"
            )

    # -- the decision table for the end of a request -------------------------

    def _expiry(self, session: Session, now: datetime) -> datetime:
        """When the store should forget ``session`` if it is written now: the
        cookie's expiry, or the end of the idle timeout for a browser-session
        cookie."""
        if session._expires is not None:
            return session._expires
        return now + timedelta(seconds=self._config.idle_timeout)

    def _record(self, session: Session, now: datetime) -> SessionRecord:
        """Build the record to store for ``session`` as of ``now``."""
        data = dict(session)
        check_json_data(data)
        self._pending_snapshot = canonical_json(data)
        return SessionRecord(
            data=data,
            expires=self._expiry(session, now),
            max_age=session._max_age,
            created=session._created,
        )

    def _decide(self, session: Session, now: datetime) -> tuple[Effect, ...]:
        config = self._config
        store: list[Effect] = []
        # Ids retired by regenerate() or destroy() are deleted after the new
        # record is saved: if the save fails, the old session still works,
        # so a store outage during login logs nobody out.
        retired: list[Effect] = [Destroy(old) for old in session._doomed]
        headers: list[Effect] = []
        deliverable = self._deliverable()

        def clear_cookie() -> None:
            if not self._had_cookie:
                return
            if not deliverable:
                headers.append(CookieWithheld("insecure request"))
                return
            headers.append(
                ClearCookie(
                    config.cookie.render(
                        config.name,
                        "",
                        request_is_secure=self._secure,
                        max_age=0,
                        expires=0.0,
                    )
                )
            )

        def set_cookie() -> None:
            expires = session._expires
            if expires is not None and session._max_age is not None:
                expires = now + timedelta(seconds=session._max_age)
                session._expires = expires
            value = self._signer.sign(session.id)
            headers.append(
                SetCookie(
                    config.cookie.render(
                        config.name,
                        value,
                        request_is_secure=self._secure,
                        max_age=session._max_age if expires is not None else None,
                        expires=None if expires is None else expires.timestamp(),
                    )
                )
            )
            self._client_id = session.id

        # The handler let go of the session (req.session = null).
        if session._detached:
            self._dropped = True
            if config.unset == "keep":
                return ()  # not even a regenerate() of this request counts
            if session._persisted:
                store.append(Destroy(session.id))
            clear_cookie()
            return (*store, *retired, *headers)

        # The handler moved the expiry into the past: the session ends.
        if _ended(session, now):
            self._dropped = True
            if session._persisted:
                store.append(Destroy(session.id))
            clear_cookie()
            return (*store, *retired, *headers)

        data_changed = session._data_changed()

        if not session._persisted:
            # A new session (fresh, regenerated, or what follows destroy()).
            if data_changed or session._regenerated or config.save_uninitialized:
                if not deliverable:
                    self._dropped = True
                    headers.append(CookieWithheld("insecure request"))
                else:
                    set_cookie()
                    store.append(Save(session.id, self._record(session, now)))
            elif session._destroyed:
                clear_cookie()
            return (*store, *retired, *headers)

        # A stored session: loaded from the cookie, or saved explicitly in
        # this request.
        persistent = session._expires is not None
        sent = False
        if (
            session.id != self._client_id
            or config.rolling
            or session._touched
            or session._cookie_changed
            or (persistent and (data_changed or self._saved_changes))
        ):
            if deliverable:
                set_cookie()
                sent = True
            else:
                headers.append(CookieWithheld("insecure request"))
        lifetime_changed = session._max_age != session._stored_max_age
        if self._saved_in_request and not (data_changed or lifetime_changed):
            # An explicit save() already stored exactly this data; only the
            # expiry the cookie now carries may have moved since.
            if sent and persistent:
                store.append(Touch(session.id, self._expiry(session, now)))
        elif data_changed or lifetime_changed or config.resave:
            store.append(Save(session.id, self._record(session, now)))
        elif sent or not persistent:
            # Keep the stored expiry equal to the one the client holds; a
            # browser-session cookie has none, so its idle timeout restarts.
            store.append(Touch(session.id, self._expiry(session, now)))
        return (*store, *retired, *headers)
