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
3. The handler runs. An explicit ``save()`` goes through ``begin_save()``,
   the store operations it hands out, and ``end_save()``; a ``reload()``
   through ``begin_reload()``/``end_reload()``.
4. ``begin_commit(now)`` just before the response starts returns the first
   store operation (:class:`Save`, :class:`Update`, :class:`Touch`,
   :class:`Destroy`); the adapter runs it and passes the store's answer to
   ``receive_result()``, which returns the next one, until none is left.
   Then ``end_commit()`` returns the header effects (:class:`SetCookie`,
   :class:`ClearCookie`) to send with the status line, so a redirect can
   never outrun its session write. If a store operation fails, the adapter
   passes the error to ``receive_error()``, which re-raises it for the
   framework: no cookie is sent that points at nothing.

   A session that was loaded is written with :class:`Update`, conditional
   on the version read. When another request wrote first, the store
   answers ``False``; the cycle then asks for the record again
   (:class:`LoadSession`) and replays this request's own key-level changes
   on top of it in a new :class:`Update`. An update never creates a
   record, so a session another request ended stays ended: this request's
   changes are dropped (:class:`ChangesDropped`) and no cookie names it.
5. ``finish()`` when the response is over. Data changed after the commit
   and never saved raises :class:`~sessions.errors.SessionCommittedError`
   here rather than vanishing.

The legal moves are the table :data:`TRANSITIONS`. Any other call raises
:class:`~sessions.errors.UsageError` and leaves the cycle in the sticky
``ERROR`` state.
"""

from __future__ import annotations

import enum
import math
from datetime import datetime, timedelta, timezone
from typing import Any, Final, TypeAlias, TypeVar
from urllib.parse import urlsplit

import attrs

from sessions.config import SessionConfig
from sessions.cookies import cookie_values
from sessions.errors import (
    SessionCommittedError,
    SessionNotFoundError,
    StoreError,
    UsageError,
    WriteConflictError,
)
from sessions.ids import check_session_id
from sessions.records import SessionRecord, canonical_json, check_json_data
from sessions.session import Session, encode_values
from sessions.signing import IdSigner

__all__ = [
    "MAX_CANDIDATES",
    "MAX_COOKIE_VALUES",
    "MAX_WRITE_ATTEMPTS",
    "TRANSITIONS",
    "ChangesDropped",
    "ClearCookie",
    "CookieWithheld",
    "CycleState",
    "Destroy",
    "Effect",
    "Event",
    "HeaderEffect",
    "LoadSession",
    "NoSession",
    "RequestFacts",
    "Save",
    "SessionCycle",
    "SessionReady",
    "SetCookie",
    "StoreAnswer",
    "StoreOperation",
    "Touch",
    "Update",
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

MAX_WRITE_ATTEMPTS: Final = 16
"""How many conditional writes of one session a request tries before giving
up with :class:`~sessions.errors.WriteConflictError`. Every refused write
means another request's write succeeded, so only heavy contention on a
single session reaches this."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_Operation = TypeVar("_Operation", bound="StoreOperation")


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

    # Members are singletons compared by identity, so they can hash by
    # identity too, which is quicker than Enum's hash of the member name;
    # every move of the machine looks one state up.
    __hash__ = object.__hash__


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

    __hash__ = object.__hash__  # as for CycleState


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
            the query string, percent-decoded as WSGI and ASGI servers give
            it (``cookie.path`` is matched against this form).
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
    """Look ``session_id`` up in the store (``get``). While loading, pass the
    answer to :meth:`SessionCycle.receive_record`; during a save or commit,
    to :meth:`SessionCycle.receive_result`.

    Attributes:
        session_id: The id to look up.
        after_conflicts: How many writes of this request have lost to
            other requests' writes just before this read (zero for an
            ordinary lookup). Wait a short random time that grows with it
            before running the read, so that requests racing for one
            session spread out instead of colliding again;
            :func:`sessions.runner.conflict_backoff` gives such a time.
        renew_to: For the lookup that starts a request: a store that can
            (one with ``get_and_renew``, see
            :class:`~sessions.stores.base.RenewingStore`) may, in the same
            call, move the expiry of a live record whose cookie has no
            ``max_age`` (a browser-session cookie, kept by its idle
            timeout) to this moment, never closer, and return the record
            with the expiry it now has. The request then needs no separate
            touch at its end. ``None``: just read. A store without the
            ability runs a plain ``get``.
    """

    session_id: str
    after_conflicts: int = 0
    renew_to: datetime | None = None


@attrs.frozen
class SessionReady:
    """The session is ready for the handler."""

    session: Session


Decision: TypeAlias = NoSession | LoadSession | SessionReady


# -- effects -----------------------------------------------------------------


@attrs.frozen
class Save:
    """Write ``record`` under ``session_id``, a newly generated id (the
    store's ``set``: insert or replace). The answer is ``None``."""

    session_id: str
    record: SessionRecord


@attrs.frozen
class Update:
    """Write ``record`` under ``session_id`` only if the store still holds
    ``expected_version`` (the store's ``update``). The answer is the
    store's ``True`` (written) or ``False`` (another request wrote first,
    or the session is gone)."""

    session_id: str
    record: SessionRecord
    expected_version: int


@attrs.frozen
class Touch:
    """Move the stored expiry of ``session_id`` to ``expires``, keeping the
    stored data as it is (the store's ``touch``). The answer is whether the
    store still had the session."""

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


@attrs.frozen
class ChangesDropped:
    """This request's session changes were deliberately not stored, because
    another request ended the session while this one ran. Adapters log it;
    nothing needs executing."""

    reason: str


StoreEffect: TypeAlias = Save | Update | Touch | Destroy
StoreOperation: TypeAlias = LoadSession | Save | Update | Touch | Destroy
"""Everything the cycle may ask of a store."""
StoreAnswer: TypeAlias = SessionRecord | bool | None
"""What a store operation returns: a record or ``None`` for
:class:`LoadSession`, a ``bool`` for :class:`Update` and :class:`Touch`,
``None`` for :class:`Save` and :class:`Destroy`."""
HeaderEffect: TypeAlias = SetCookie | ClearCookie | CookieWithheld | ChangesDropped
Effect: TypeAlias = StoreEffect | HeaderEffect


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
        "_commit_time",
        "_config",
        "_cookie",
        "_dropped",
        "_gone",
        "_had_cookie",
        "_headers",
        "_now",
        "_operations",
        "_renew_to",
        "_renewed_on_load",
        "_restore_state",
        "_saved_changes",
        "_saved_in_request",
        "_saved_lifetime",
        "_secure",
        "_session",
        "_session_class",
        "_signer",
        "_stale",
        "_waiting",
        "_write",
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
        self._stale: list[str] = []
        self._had_cookie = False
        self._secure = False
        self._now = _EPOCH
        self._client_id: str | None = None
        self._saved_in_request = False
        # Whether an explicit save() of this request stored changed data: the
        # data changed in this request even though it now equals the store's.
        self._saved_changes = False
        # Whether an explicit save() stored a new cookie lifetime, which the
        # commit must then send.
        self._saved_lifetime = False
        # Set at commit when this request's changes are deliberately not
        # stored (detached, ended, or the cookie could not be delivered).
        self._dropped = False
        # The id of a session another request ended while this one ran.
        self._gone: str | None = None
        # Store operations still to hand out, the one whose answer is
        # awaited, and the data write in progress (for a replay).
        self._operations: list[StoreOperation] = []
        self._waiting: StoreOperation | None = None
        self._write: _Write | None = None
        self._headers: list[HeaderEffect] = []
        self._cookie: SetCookie | None = None  # the session's cookie, if due
        self._restore_state = CycleState.ACTIVE
        self._commit_time = _EPOCH  # the ``now`` of begin_commit()
        # The idle expiry the first lookups asked the store to renew to, and
        # whether the record that loaded came back renewed.
        self._renew_to: datetime | None = None
        self._renewed_on_load = False
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
        """Put the cycle in its error state, so nothing more is done with
        it; for an interruption (a cancelled task) in the middle of a store
        operation. A store's own error goes to :meth:`receive_error`."""
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

    def _new_session(self, outage: BaseException | None = None) -> Session:
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
            outage=outage,
        )

    def _deadline(self, created: datetime) -> datetime | None:
        """When a session created at ``created`` must end, whatever its use
        (``absolute_timeout``); ``None`` when there is no such limit."""
        limit = self._config.absolute_timeout
        return None if limit is None else created + timedelta(seconds=limit)

    def _is_live(self, record: SessionRecord, now: datetime) -> bool:
        if record.is_expired(now):
            return False
        deadline = self._deadline(record.created)
        return deadline is None or now < deadline

    def _ended(self, session: Session, now: datetime) -> bool:
        """Whether ``session`` is over by ``now``: the handler moved its
        cookie's expiry into the past (or gave it a lifetime of zero or
        less), or it reached ``absolute_timeout``."""
        if session._expires is not None and session._expires <= now:
            return True
        deadline = self._deadline(session._created)
        return deadline is not None and deadline <= now

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
        return self._lookup(candidates[0])

    def _lookup(self, session_id: str) -> LoadSession:
        """The lookup of a candidate id, renewing a browser-session cookie's
        idle timeout on the way when no absolute deadline could cap it."""
        config = self._config
        if config.absolute_timeout is not None:
            return LoadSession(session_id)
        renew_to = self._now + timedelta(seconds=config.idle_timeout)
        self._renew_to = renew_to
        return LoadSession(session_id, renew_to=renew_to)

    def receive_record(
        self, session_id: str, record: SessionRecord | None
    ) -> LoadSession | SessionReady:
        """Take the store's answer for the id of the last :class:`LoadSession`."""
        if self.state is not CycleState.LOADING:
            self._move(Event.RECORD_SETTLED)  # raises: no lookup is pending
        if session_id != self._candidates[0]:
            self.state = CycleState.ERROR
            raise UsageError("receive_record got an id that was not asked for")
        if record is not None and self._is_live(record, self._now):
            self._move(Event.RECORD_SETTLED)
            self._client_id = session_id
            renew_to = self._renew_to
            # Stores keep expiries to the millisecond (Redis does): one
            # renewed to renew_to may come back up to a millisecond short.
            self._renewed_on_load = (
                renew_to is not None
                and record.max_age is None
                and record.expires > renew_to - _MILLISECOND
            )
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
        if record is not None:
            # Over (by its absolute deadline, or a store that returned it
            # late): deleted at commit, so it cannot linger until the store's
            # own expiry.
            self._stale.append(session_id)
        del self._candidates[0]
        if self._candidates:
            self._move(Event.RECORD_MISSING_TRY_NEXT)
            return self._lookup(self._candidates[0])
        self._move(Event.RECORD_SETTLED)
        session = self._new_session()
        session._doomed.extend(self._stale)
        return self._ready(session)

    def load_failed(self, error: Exception) -> SessionReady:
        """Take a store error raised by the lookup of the last
        :class:`LoadSession`.

        With ``store_outage="fail"`` this re-raises ``error`` and the cycle
        stays in its error state. With ``"read_only"`` the request goes on
        with an empty stand-in session that sends no cookie and whose
        changes fail the commit (see :attr:`Session.is_available`).
        """
        if self.state is not CycleState.LOADING:
            self._move(Event.RECORD_SETTLED)  # raises: no lookup is pending
        if self._config.store_outage != "read_only":
            self.state = CycleState.ERROR
            raise error
        self._move(Event.RECORD_SETTLED)
        return self._ready(self._new_session(outage=error))

    def _ready(self, session: Session) -> SessionReady:
        self._session = session
        return SessionReady(session)

    # -- store operations after loading ------------------------------------

    def receive_result(self, answer: StoreAnswer) -> StoreOperation | None:
        """Take the store's answer to the operation last handed out by
        :meth:`begin_save`, :meth:`begin_commit` or this method, and return
        the next operation to run, or ``None`` when there is none left.

        An :class:`Update` answered ``False`` is followed by a
        :class:`LoadSession` of the same id: this request's own key-level
        changes are then replayed on top of the record found, in a new
        :class:`Update`.

        Raises:
            WriteConflictError: the write lost :data:`MAX_WRITE_ATTEMPTS`
                times in a row.
        """
        if self.state is CycleState.RELOADING:
            self.state = CycleState.ERROR
            raise UsageError(
                "a reload's answer goes to end_reload(), not receive_result()"
            )
        operation = self._take_waiting()
        if isinstance(operation, (Update, Touch)) and not isinstance(answer, bool):
            self.state = CycleState.ERROR
            raise UsageError(
                f"a store's {type(operation).__name__.lower()}() must return True "
                f"or False, not {answer!r}; nothing can be told about the write"
            )
        try:
            if isinstance(operation, Update) and answer is False:
                write = self._write
                assert write is not None
                if write.attempts == MAX_WRITE_ATTEMPTS:
                    raise WriteConflictError(
                        "the session write lost to other requests' writes "
                        f"{MAX_WRITE_ATTEMPTS} times in a row"
                    )
                return self._hand_out(
                    LoadSession(operation.session_id, after_conflicts=write.attempts)
                )
            if isinstance(operation, (Save, Update)):
                self._wrote(operation)
            elif isinstance(operation, LoadSession):
                assert answer is None or isinstance(answer, SessionRecord)
                replay = self._replay(answer)
                if replay is not None:
                    return self._hand_out(replay)
            elif isinstance(operation, Touch) and answer is False:
                # The session expired or was ended elsewhere meanwhile: a
                # cookie for it would only replace a newer one.
                self._lost(operation.session_id, changes=False)
        except Exception:
            self._abandon()
            raise
        return self._next_operation()

    def receive_error(self, error: Exception) -> StoreOperation | None:
        """Take the error a store raised for the operation last handed out,
        and re-raise it after putting the cycle where it must be: back to
        where it was for an explicit ``save()`` or ``reload()`` (the handler
        may catch the error and go on), in its error state for a commit.

        The one exception: with ``store_outage="read_only"`` a failed
        :class:`Touch` (which only moves an unchanged session's expiry) is
        tolerated; the cookie it would have renewed is not sent, and the
        next operation is returned.
        """
        operation = self._take_waiting()
        if (
            self.state is CycleState.COMMITTING
            and isinstance(operation, Touch)
            and self._config.store_outage == "read_only"
        ):
            self._headers.append(
                ChangesDropped("the store failed to renew the session's expiry")
            )
            self._lost(operation.session_id, changes=False)
            return self._next_operation()
        self._abandon()
        raise error

    def _take_waiting(self) -> StoreOperation:
        operation = self._waiting
        if operation is None or self.state not in _STORE_STATES:
            self.state = CycleState.ERROR
            raise UsageError(
                "no store operation of this cycle is waiting for its answer"
            )
        self._waiting = None
        return operation

    def _hand_out(self, operation: _Operation) -> _Operation:
        self._waiting = operation
        return operation

    def _next_operation(self) -> StoreOperation | None:
        if not self._operations:
            return None
        return self._hand_out(self._operations.pop(0))

    def _abandon(self) -> None:
        """Give up the operations in progress after a failure."""
        self._operations.clear()
        self._waiting = None
        self._write = None
        if self.state in (CycleState.SAVING, CycleState.LATE_SAVING):
            self.state = self._restore_state
            self._active_session()._store_busy = False
        elif self.state is CycleState.RELOADING:
            self.state = CycleState.ACTIVE
            self._active_session()._store_busy = False
        else:
            self.state = CycleState.ERROR

    # -- writing data, and replaying it after a lost race -------------------

    def _plan_write(self, session: Session, now: datetime) -> Save | Update:
        """The write of ``session``'s data as of ``now``: a :class:`Save`
        for a session the store has never held under this id, otherwise an
        :class:`Update` conditional on the version last read."""
        data = dict(session)
        check_json_data(data)
        encoded = encode_values(data)
        base = session._base
        changed = {
            key: data[key] for key, text in encoded.items() if base.get(key) != text
        }
        deleted = [key for key in base if key not in encoded]
        record = SessionRecord(
            data=data,
            expires=self._expiry(session, now),
            max_age=session._max_age,
            created=session._created,
            version=session._version + 1,
        )
        self._write = _Write(changed, deleted, encoded, record, now, planned=encoded)
        if not session._persisted:
            return Save(session.id, record)
        return Update(session.id, record, session._version)

    def _replay(self, found: SessionRecord | None) -> Update | None:
        """Re-apply this request's changes on top of ``found``, the record
        read after an :class:`Update` lost; ``None`` when the session is gone."""
        write, session = self._write, self._active_session()
        assert write is not None
        if found is None or not self._is_live(found, self._now):
            self._lost(session.id, changes=True)
            return None
        write.attempts += 1
        data = dict(found.data)
        encoded = encode_values(data)
        for key, value in write.changed.items():
            data[key] = value
            encoded[key] = write.encoded[key]
        for key in write.deleted:
            data.pop(key, None)
            encoded.pop(key, None)
        write.encoded = encoded
        write.replayed = True
        write.record = attrs.evolve(
            write.record,
            data=data,
            created=found.created,
            version=found.version + 1,
            **self._replayed_lifetime(session, write, found),
        )
        return Update(session.id, write.record, found.version)

    def _replayed_lifetime(
        self, session: Session, write: _Write, found: SessionRecord
    ) -> dict[str, Any]:
        """The lifetime a replayed write stores. The lifetime counts like one
        more key: a request that changed it (``cookie.max_age`` or
        ``cookie.expires``) writes its own, and one that did not keeps the
        lifetime it found, which another request may have changed (a
        "remember me" at login); renewed from now when this request's write
        renews it (``rolling``, ``touch()``, an idle timeout)."""
        if session._cookie_changed:
            return {}
        if found.max_age is None:
            lifetime = self._config.idle_timeout  # an idle timeout moves on
        elif self._config.rolling or session._touched:
            lifetime = found.max_age
        else:
            return {"max_age": found.max_age, "expires": found.expires}
        renewed = write.now + timedelta(seconds=lifetime)
        deadline = self._deadline(found.created)
        if deadline is not None:
            renewed = min(renewed, deadline)
        return {"max_age": found.max_age, "expires": max(renewed, found.expires)}

    def _wrote(self, operation: Save | Update) -> None:
        """A write succeeded: the store now holds ``operation.record``."""
        write, session = self._write, self._active_session()
        assert write is not None
        self._write = None
        if write.replayed:
            self._take_merged(session, operation.record.data, write.planned)
            if not session._cookie_changed:
                self._take_lifetime(session, operation.record)
        session._written(operation.record, write.encoded)
        if self.state is not CycleState.COMMITTING:  # an explicit save()
            self._saved_in_request = True
            if session._cookie_changed:
                # The store has a lifetime the client's cookie does not carry
                # yet; a reload() before the commit must not lose that.
                self._saved_lifetime = True
            if write.changed or write.deleted:
                self._saved_changes = True

    def _lost(self, session_id: str, *, changes: bool) -> None:
        """The store no longer has ``session_id``: another request ended it
        (or it expired) while this one ran. Nothing more is written for it
        and no cookie naming it is sent."""
        self._gone = session_id
        self._write = None
        self._dropped = True
        self._operations = [
            operation
            for operation in self._operations
            if operation.session_id != session_id
        ]
        if self._cookie is not None:
            self._headers.remove(self._cookie)
            self._cookie = None
        if changes and self.state is CycleState.COMMITTING:
            self._headers.append(ChangesDropped(_GONE))

    def _take_lifetime(self, session: Session, written: SessionRecord) -> None:
        """Bring the lifetime a replayed write kept from another request into
        ``session``, and into the cookie this response sends, if any."""
        session._max_age = written.max_age
        persistent = written.max_age is not None
        session._expires = written.expires if persistent else None
        cookie = self._cookie
        if cookie is None or self.state is not CycleState.COMMITTING:
            return
        renewed = self._session_cookie(session, session._expires, self._commit_time)
        self._headers[self._headers.index(cookie)] = renewed
        self._cookie = renewed

    @staticmethod
    def _take_merged(
        session: Session, written: dict[str, Any], planned: dict[str, str]
    ) -> None:
        """Bring the other requests' keys of a replayed write into
        ``session``. A key the handler changed again while the write was in
        flight (an asynchronous handler can) keeps its newer value, which
        stays unsaved."""
        for key in planned.keys() | written.keys():
            try:
                current = canonical_json(session[key]) if key in session else None
            except (TypeError, ValueError, RecursionError):
                continue  # changed to something new since: leave it
            if current != planned.get(key):
                continue
            if key in written:
                dict.__setitem__(session, key, written[key])
            else:
                dict.pop(session, key, None)

    # -- explicit save and reload ---------------------------------------------

    def _active_session(self) -> Session:
        session = self._session
        if session is None:
            self.state = CycleState.ERROR
            raise UsageError("there is no session in this request")
        return session

    def _check_available(self, session: Session) -> None:
        if session._outage is not None:
            raise StoreError(
                "the session store could not be reached when this request "
                "began, so its session cannot be saved or reloaded"
            ) from session._outage

    def begin_save(self, now: datetime) -> Save | Update | None:
        """Start an explicit ``save()``. Run the returned operation and pass
        its answer to :meth:`receive_result` (or its error to
        :meth:`receive_error`) until no operation is left, then call
        :meth:`end_save`.

        Returns ``None``, and nothing is to be done (not even
        :meth:`end_save`), for a new session whose cookie could not be delivered on this
        request (a ``Secure`` cookie on a request that is not secure): the
        client could never present it. The same goes for a session that has
        ended (see the commit): a store must never get a record that is
        already over.

        Raises:
            StoreError: the session is a stand-in for one the store could
                not load (``store_outage="read_only"``).
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
        self._restore_state = state
        if session._outage is not None:
            self.state = state
            self._check_available(session)
        if session.id == self._gone:
            self.state = state
            raise SessionNotFoundError(_GONE)
        if (not session._persisted and not self._deliverable()) or self._ended(
            session, now
        ):
            self.state = state  # nothing to write
            return None
        try:
            write = self._plan_write(session, now)
        except Exception:
            self.state = state  # nothing was written: the save never started
            raise
        session._store_busy = True
        return self._hand_out(write)

    def end_save(self) -> None:
        """Finish an explicit save started with :meth:`begin_save`.

        Raises:
            SessionNotFoundError: another request ended the session while
                this one ran; the change was not stored.
        """
        session = self._active_session()
        if self._waiting is not None:
            self.state = CycleState.ERROR
            raise UsageError("end_save() called before the save's operations ran")
        self._move(Event.SAVE_END)
        session._store_busy = False
        if session.id == self._gone:
            raise SessionNotFoundError(_GONE)

    def begin_reload(self) -> LoadSession:
        """Start an explicit ``reload()``: look the returned id up, then call
        :meth:`end_reload` with what the store said (or
        :meth:`receive_error` with what it raised)."""
        session = self._active_session()
        self._move(Event.RELOAD_BEGIN)
        if session._outage is not None:
            self.state = CycleState.ACTIVE
            self._check_available(session)
        session._store_busy = True
        return self._hand_out(LoadSession(session.id))

    def end_reload(self, record: SessionRecord | None) -> None:
        """Replace the session's data with ``record``.

        Raises:
            SessionNotFoundError: the store no longer has the session (or it
                has expired); the session keeps its current data.
        """
        session = self._active_session()
        self._waiting = None
        self._move(Event.RELOAD_END)
        session._store_busy = False
        if record is None or not self._is_live(record, self._now):
            raise SessionNotFoundError("the store no longer has this session")
        session._adopt(record)
        self._saved_in_request = False

    # -- commit ----------------------------------------------------------------

    def begin_commit(self, now: datetime) -> StoreOperation | None:
        """Decide, at response start, what the store and the client get.

        Returns the first store operation to run, or ``None`` when there is
        none. Pass each operation's answer to :meth:`receive_result` (or its
        error to :meth:`receive_error`), which returns the next one; when
        none is left, :meth:`end_commit` gives the headers to send.

        Raises:
            SerializationError: the data holds a value JSON cannot carry.
            StoreError: the session is a stand-in for one the store could
                not load, and the handler changed it.
        """
        self._move(Event.COMMIT_BEGIN)
        session = self._session
        if session is None:  # outside the cookie path
            return None
        # From here on the effects are decided: a later change could not
        # reach them.
        session._sealed = True
        self._commit_time = now
        try:
            self._decide(session, now)
        except Exception:
            self.state = CycleState.ERROR
            raise
        return self._next_operation()

    def end_commit(self) -> tuple[HeaderEffect, ...]:
        """Record that the commit's store operations all ran, and return the
        header effects to send with the response start (and the notices
        :class:`CookieWithheld` and :class:`ChangesDropped` to log)."""
        if self._waiting is not None or self._operations:
            self.state = CycleState.ERROR
            raise UsageError("end_commit() called before the commit's operations ran")
        self._move(Event.COMMIT_END)
        return tuple(self._headers)

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

    def _capped(self, session: Session, expiry: datetime) -> datetime:
        deadline = self._deadline(session._created)
        return expiry if deadline is None else min(expiry, deadline)

    def _expiry(self, session: Session, now: datetime) -> datetime:
        """When the store should forget ``session`` if it is written now: the
        cookie's expiry, or the end of the idle timeout for a browser-session
        cookie; never past the absolute deadline."""
        if session._expires is not None:
            return self._capped(session, session._expires)
        return self._capped(session, now + timedelta(seconds=self._config.idle_timeout))

    def _renewed_expiry(self, session: Session, now: datetime) -> datetime:
        """The expiry ``session`` gets when its lifetime restarts at ``now``."""
        if session._max_age is not None and session._expires is not None:
            return self._capped(session, now + timedelta(seconds=session._max_age))
        return self._expiry(session, now)

    def _touch_is_due(self, session: Session, expiry: datetime) -> bool:
        """Whether a touch moving ``session``'s stored expiry to ``expiry``
        is worth a store write (see ``SessionConfig.touch_after``)."""
        if session._touched:
            return True
        if self._renewed_on_load and session.id == self._client_id:
            return False  # the lookup already moved it (LoadSession.renew_to)
        touch_after = self._config.touch_after
        stored = session._stored_expires
        if touch_after is None or stored is None:
            return True
        return (expiry - stored).total_seconds() >= touch_after

    def _session_cookie(
        self, session: Session, expires: datetime | None, now: datetime
    ) -> SetCookie:
        """The ``Set-Cookie`` for ``session``'s id, expiring at ``expires``
        (``None``: when the browser closes)."""
        config = self._config
        max_age = None
        if expires is not None:
            max_age = math.ceil((expires - now).total_seconds())
        return SetCookie(
            config.cookie.render(
                config.name,
                self._signer.sign(session.id),
                request_is_secure=self._secure,
                max_age=max_age,
                expires=None if expires is None else expires.timestamp(),
            )
        )

    def _decide(self, session: Session, now: datetime) -> None:
        """Fill in the commit's store operations and header effects."""
        config = self._config
        store = self._operations
        headers = self._headers
        # Ids retired by regenerate() or destroy() are deleted after the new
        # record is saved: if the save fails, the old session still works,
        # so a store outage during login logs nobody out.
        retired = [Destroy(old) for old in session._doomed]
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

        def set_cookie(expires: datetime | None = None) -> None:
            if session._expires is not None and session._max_age is not None:
                if expires is None:
                    expires = self._renewed_expiry(session, now)
                session._expires = expires
            else:
                expires = None
            self._cookie = self._session_cookie(session, expires, now)
            headers.append(self._cookie)
            self._client_id = session.id

        # A stand-in for a session the store could not load: nothing may be
        # written, and no cookie sent that would replace the client's.
        if session._outage is not None:
            if session._detached and config.unset == "keep":
                return
            if (
                session._data_changed()
                or session._doomed
                or session._regenerated
                or session._destroyed
                or session._touched
                or session._cookie_changed
                or session._detached
            ):
                raise StoreError(
                    "the session store could not be reached when this request "
                    "began, so the session changes it made cannot be saved"
                ) from session._outage
            return

        # The handler let go of the session (req.session = null).
        if session._detached:
            self._dropped = True
            if config.unset == "keep":
                return  # not even a regenerate() of this request counts
            if session._persisted:
                store.append(Destroy(session.id))
            store.extend(retired)
            clear_cookie()
            return

        # Another request ended the session while this one ran (found by an
        # explicit save): it stays ended.
        if session.id == self._gone:
            self._dropped = True
            store.extend(retired)
            return

        # The handler moved the expiry into the past, or the session reached
        # its absolute deadline: it ends.
        if self._ended(session, now):
            self._dropped = True
            if session._persisted:
                store.append(Destroy(session.id))
            store.extend(retired)
            clear_cookie()
            return

        data_changed = session._data_changed()

        if not session._persisted:
            # A new session (fresh, regenerated, or what follows destroy()).
            if data_changed or session._regenerated or config.save_uninitialized:
                if not deliverable:
                    self._dropped = True
                    headers.append(CookieWithheld("insecure request"))
                else:
                    set_cookie()
                    store.append(self._plan_write(session, now))
            elif session._destroyed:
                clear_cookie()
            store.extend(retired)
            return

        # A stored session: loaded from the cookie, or saved explicitly in
        # this request.
        persistent = session._expires is not None
        send = (
            session.id != self._client_id
            or config.rolling
            or session._touched
            or session._cookie_changed
            or self._saved_lifetime
            or (persistent and (data_changed or self._saved_changes))
        )
        lifetime_changed = session._max_age != session._stored_max_age
        write = touch = False
        if self._saved_in_request and not (data_changed or lifetime_changed):
            # An explicit save() already stored exactly this data; only the
            # expiry the cookie now carries may have moved since.
            touch = send and persistent
        elif data_changed or lifetime_changed or config.resave:
            write = True
        else:
            # Keep the stored expiry equal to the one the client holds; a
            # browser-session cookie has none, so its idle timeout restarts.
            touch = send or not persistent
        cookie_expires: datetime | None = None
        if (
            touch
            and not session._cookie_changed
            and not self._touch_is_due(session, self._renewed_expiry(session, now))
        ):
            # Recently renewed: keep the stored expiry, and give a re-sent
            # cookie that same expiry so that the two still agree.
            touch = False
            cookie_expires = session._stored_expires
        if send:
            if deliverable:
                set_cookie(cookie_expires)
            else:
                headers.append(CookieWithheld("insecure request"))
                touch = touch and not persistent
        if write:
            store.append(self._plan_write(session, now))
        elif touch:
            store.append(Touch(session.id, self._expiry(session, now)))
        store.extend(retired)


@attrs.define
class _Write:
    """A data write in progress: this request's key-level changes, kept so
    that they can be replayed on top of another request's newer record."""

    changed: dict[str, object]
    deleted: list[str]
    encoded: dict[str, str]  # canonical JSON of each value to be written
    record: SessionRecord  # the record the last attempt wrote
    now: datetime  # when the write was planned
    planned: dict[str, str]  # ``encoded`` of the first attempt
    attempts: int = 1
    replayed: bool = False


_MILLISECOND: Final = timedelta(milliseconds=1)

_GONE: Final = (
    "the session ended while this request ran (another request logged out or "
    "regenerated it, or it expired or was evicted from the store), so this "
    "request's changes were not stored"
)

_STORE_STATES: Final = frozenset(
    {
        CycleState.SAVING,
        CycleState.LATE_SAVING,
        CycleState.RELOADING,
        CycleState.COMMITTING,
    }
)
