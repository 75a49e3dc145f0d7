"""A random walk through request cycles: legal and illegal calls in any
order, over many requests that share one store and one browser.

The machine keeps its own model of where the cycle should be (written out
below, independently of ``sessions.cycle.TRANSITIONS``), predicts for each
call whether it is legal, and checks the commit decisions against the rules
the documentation states. It answers the cycle's store operations one at a
time, or fails them (sometimes after the store already carried them out, as
when a reply is lost), and lets another request of the same browser write
or end the session in between, so that conditional writes lose and are
replayed.
"""

from __future__ import annotations

import copy
import itertools
from datetime import timedelta
from email.utils import parsedate_to_datetime

import attrs
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sessions import (
    ChangesDropped,
    ClearCookie,
    CookieOptions,
    CycleState,
    Destroy,
    LoadSession,
    NoSession,
    Save,
    Session,
    SessionCommittedError,
    SessionConfig,
    SessionCycle,
    SessionNotFoundError,
    SessionReady,
    SessionRecord,
    SetCookie,
    StoreError,
    Touch,
    Update,
    UsageError,
    WriteConflictError,
)
from sessions.cookies import parse_set_cookie
from sessions.cycle import (
    MAX_WRITE_ATTEMPTS,
    HeaderEffect,
    RequestFacts,
    StoreOperation,
)
from sessions.signing import IdSigner

from .support import NOW, SECRET, DictStore

S = CycleState
# Where each call is legal; everywhere else it must raise UsageError. An
# explicit save is also legal after the commit, for a session the client
# holds; a store operation's answer or error only while one is waiting; and
# the end of a save or commit only once none is (see CycleMachine.is_legal).
LEGAL_IN: dict[str, set[CycleState]] = {
    "receive_request": {S.IDLE},
    "answer_lookup": {S.LOADING},
    "lookup_fails": {S.LOADING},
    "answer_lookup_for_the_wrong_id": set(),
    "begin_save": {S.ACTIVE},
    "end_save": {S.SAVING, S.LATE_SAVING},
    "begin_reload": {S.ACTIVE},
    "end_reload": {S.RELOADING},
    "answer_operation": {S.SAVING, S.LATE_SAVING, S.COMMITTING},
    "operation_fails": {S.SAVING, S.LATE_SAVING, S.RELOADING, S.COMMITTING},
    "begin_commit": {S.ACTIVE, S.BYPASSED},
    "end_commit": {S.COMMITTING, S.BYPASSED},
    "finish": {S.IDLE, S.LOADING, S.ACTIVE, S.BYPASSED, S.COMMITTED, S.ERROR},
}
CALLS = tuple(LEGAL_IN)
NEED_A_WAITING_OPERATION = {"answer_operation", "operation_fails"}
NEED_NO_WAITING_OPERATION = {"end_save", "end_commit"}
# Where an adapter waits for the store, and so may be interrupted.
STORE_BUSY = {S.LOADING, S.SAVING, S.RELOADING, S.COMMITTING, S.LATE_SAVING}
# From the first lookup to the end of the response.
WHILE_THIS_REQUEST_RUNS = {
    S.LOADING,
    S.ACTIVE,
    S.SAVING,
    S.RELOADING,
    S.COMMITTING,
    S.COMMITTED,
    S.LATE_SAVING,
}
# Where an explicit save() or reload() of the session is running.
STORE_WORKING_ON_SESSION = {S.SAVING, S.RELOADING, S.LATE_SAVING}
# Where a failed save or reload hands the request back to.
AFTER_SAVE = {S.SAVING: S.ACTIVE, S.LATE_SAVING: S.COMMITTED}
AFTER_FAILURE = {**AFTER_SAVE, S.RELOADING: S.ACTIVE}

cookie_options = st.builds(
    CookieOptions,
    path=st.sampled_from(["/", "/app"]),
    secure=st.sampled_from(["auto", True, False]),
    max_age=st.sampled_from([None, 60]),
)
configs = st.builds(
    SessionConfig,
    secret=st.just(SECRET),
    cookie=cookie_options,
    trust_proxy=st.booleans(),
    rolling=st.booleans(),
    resave=st.booleans(),
    save_uninitialized=st.booleans(),
    unset=st.sampled_from(["keep", "destroy"]),
    idle_timeout=st.just(120),
    store_outage=st.sampled_from(["fail", "read_only"]),
)
# The browser mostly sends back what it was given.
cookie_modes = st.sampled_from(
    [
        "none",
        "jar",
        "jar",
        "jar",
        "tampered",
        "stale then jar",
        "garbage then jar",
        "ghost",
    ]
)
lifecycle_calls = st.sampled_from(
    [
        "regenerate",
        "regenerate keeping data",
        "destroy",
        "touch",
        "detach",
        "max_age 120",
        "max_age 0",
        "browser cookie",
    ]
)


def outage() -> StoreError:
    return StoreError("the store is unreachable")


class CycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = DictStore()
        self.jar: str | None = None  # the cookie value the browser holds
        self.ended_elsewhere: set[str] = set()  # ids another request ended
        self.now = NOW
        self.counter = itertools.count()
        self.config = SessionConfig(secret=SECRET)
        self.signer = IdSigner(self.config.secret)
        self.start_cycle()

    # -- the model of one request ----------------------------------------------

    def start_cycle(self) -> None:
        self.cycle = SessionCycle(self.config, signer=self.signer)
        self.expected = S.IDLE
        self.candidates: list[str] = []  # ids still to be looked up
        self.offered: list[str] = []  # every verified id the client sent
        self.session: Session | None = None
        self.client_id: str | None = None
        self.loaded = False
        self.stand_in = False  # the lookup failed under store_outage="read_only"
        self.stand_in_used = False
        self.detached = False
        self.data_written = False
        self.lifetime_changed = False
        self.sealed = False
        self.changed_after_seal = False
        self.save_covers_changes = False
        # The store operation the cycle waits on, and what the request knows
        # of the store: the version it last read or wrote, by id.
        self.waiting: StoreOperation | None = None
        self.versions: dict[str, int] = {}
        # The version a lost write's re-read found: the replay is conditional
        # on it, but the session only takes it on once the replay lands.
        self.found_version: int | None = None
        self.attempts = 0  # conditional writes tried for the current write
        self.replaying = False  # an update lost: a lookup and a replay follow
        self.lost_id: str | None = None
        self.changed_in_flight = False
        self.gone: str | None = None  # found ended by another request
        self.notice_due = False  # a ChangesDropped is due at commit
        self.ran: list[StoreOperation] = []  # the commit's operations
        self.landed: list[Save | Update] = []  # the commit's writes that landed
        self.commit_headers: tuple[HeaderEffect, ...] = ()

    def unique(self) -> int:
        return next(self.counter)

    @initialize(
        config=configs,
        returning=st.booleans(),
        version=st.integers(min_value=1, max_value=5),
    )
    def configure(self, config: SessionConfig, returning: bool, version: int) -> None:
        """Set the configuration; a returning browser already holds the
        cookie of a stored session, written ``version`` times so far."""
        self.config = config
        self.signer = IdSigner(config.secret)
        if returning:
            max_age = config.cookie.max_age
            lifetime = config.idle_timeout if max_age is None else max_age
            self.store.records["returning"] = SessionRecord(
                data={"visits": version},
                expires=self.now + timedelta(seconds=lifetime),
                max_age=max_age,
                created=self.now - timedelta(hours=1),
                version=version,
            )
            self.jar = self.signer.sign("returning")
        self.start_cycle()

    @invariant()
    def cycle_is_where_the_model_says(self) -> None:
        assert self.cycle.state is self.expected

    # -- requests and lookups --------------------------------------------------

    @precondition(lambda self: self.expected in (S.CLOSED, S.ERROR))
    @rule(seconds_later=st.integers(min_value=0, max_value=90), data=st.data())
    def next_request(self, seconds_later: int, data: st.DataObject) -> None:
        if self.expected is S.ERROR:
            self.check_error_is_sticky(self.cycle, data)
        self.now += timedelta(seconds=seconds_later)
        self.start_cycle()

    def cookies_for(self, mode: str) -> tuple[list[str], list[str]]:
        """The Cookie headers for ``mode`` and the ids that should verify."""
        jar = self.jar
        if mode == "ghost":
            ghost = f"ghost-{self.unique()}"
            return [f"sid={self.signer.sign(ghost)}"], [ghost]
        if jar is None or mode == "none":
            return [], []
        jar_id = self.signer.unsign(jar)
        assert jar_id is not None
        if mode == "tampered":
            flipped = "A" if jar[-2] != "A" else "B"
            return [f"sid={jar[:-2]}{flipped}{jar[-1]}"], []
        if mode == "stale then jar":
            stale = f"stale-{self.unique()}"
            return [f"sid={self.signer.sign(stale)}; sid={jar}"], [stale, jar_id]
        if mode == "garbage then jar":
            return [f"sid=garbage; theme=dark, sid={jar}"], [jar_id]
        return [f"a=1; sid={jar}"], [jar_id]

    @precondition(lambda self: self.is_legal("receive_request"))
    @rule(
        mode=cookie_modes,
        path=st.sampled_from(["/", "/app", "/app/x", "/apple"]),
        is_tls=st.booleans(),
        forwarded=st.sampled_from([(), ("https",), ("http, https",)]),
    )
    def receive_request(
        self, mode: str, path: str, is_tls: bool, forwarded: tuple[str, ...]
    ) -> None:
        headers, ids = self.cookies_for(mode)
        facts = RequestFacts(
            cookie_headers=tuple(headers),
            path=path,
            is_tls=is_tls,
            forwarded_proto=forwarded,
            now=self.now,
        )
        decision = self.cycle.receive_request(facts)

        cookie_path = self.config.cookie.path
        if not (path == cookie_path or path.startswith(cookie_path.rstrip("/") + "/")):
            assert decision == NoSession()
            self.expected = S.BYPASSED
            return
        secure = is_tls or (self.config.trust_proxy and forwarded == ("https",))
        assert self.cycle.request_is_secure is secure
        self.candidates = list(ids)
        self.offered = list(ids)
        if ids:
            assert decision == self.first_lookup(ids[0])
            self.expected = S.LOADING
        else:
            self.take_ready(decision, loaded_id=None)

    def first_lookup(self, session_id: str) -> LoadSession:
        """The lookup of a candidate id as a request starts: it asks a store
        that can to restart a browser-session cookie's idle timeout, unless
        an absolute deadline would have to cap it."""
        if self.config.absolute_timeout is not None:
            return LoadSession(session_id)
        idle = timedelta(seconds=self.config.idle_timeout)
        return LoadSession(session_id, renew_to=self.now + idle)

    def take_ready(self, decision: object, loaded_id: str | None) -> None:
        assert isinstance(decision, SessionReady)
        session = decision.session
        self.session = session
        self.expected = S.ACTIVE
        assert session.is_available is not self.stand_in
        if loaded_id is None:
            assert session.is_new
            assert session == {}
            assert session.id not in self.offered, "a client's id was adopted"
        else:
            record = self.store.records[loaded_id]
            assert session.id == loaded_id
            assert not session.is_new
            assert session == record.data
            self.loaded = True
            self.client_id = loaded_id
            self.versions[loaded_id] = record.version

    # Mostly the store answers; now and then it raises, or the adapter's
    # task is cancelled while it waits (fail()).
    @precondition(lambda self: self.is_legal("answer_lookup"))
    @rule(outcome=st.sampled_from(["answer"] * 6 + ["error", "interrupted"]))
    def store_answers_lookup(self, outcome: str) -> None:
        if outcome == "answer":
            self.answer_lookup()
        elif outcome == "error":
            self.lookup_fails()
        else:
            self.interrupt()

    def answer_lookup(self) -> None:
        session_id = self.candidates[0]
        record = self.store.records.get(session_id)
        decision = self.cycle.receive_record(session_id, record)
        if record is not None and not record.is_expired(self.now):
            self.take_ready(decision, loaded_id=session_id)
            return
        del self.candidates[0]
        if self.candidates:
            assert decision == self.first_lookup(self.candidates[0])
        else:
            self.take_ready(decision, loaded_id=None)

    def lookup_fails(self) -> None:
        error = outage()
        if self.config.store_outage == "read_only":
            self.stand_in = True
            self.take_ready(self.cycle.load_failed(error), loaded_id=None)
            return
        # An outage is never taken for "this client has no session".
        with pytest.raises(StoreError) as caught:
            self.cycle.load_failed(error)
        assert caught.value is error
        assert self.cycle.session is None
        self.expected = S.ERROR

    # -- another request of the same browser -----------------------------------

    def jar_id(self) -> str | None:
        return None if self.jar is None else self.signer.unsign(self.jar)

    def another_request_may_run(self) -> bool:
        jar_id = self.jar_id()
        # A change made while a write is in flight is lost when that write
        # is replayed (see test_a_change_made_while_a_write_is_in_flight_
        # survives_its_replay in test_cycle.py); the walk leaves that case
        # to that test and does not make such a write lose.
        return (
            self.expected in WHILE_THIS_REQUEST_RUNS
            and jar_id is not None
            and jar_id in self.store.records
            and not self.changed_in_flight
        )

    @precondition(lambda self: self.another_request_may_run())
    @rule(how=st.sampled_from(["writes", "writes", "writes", "ends"]))
    def another_request(self, how: str) -> None:
        """While this request runs, another tab of the same browser writes a
        key of the session, or logs out."""
        jar_id = self.jar_id()
        assert jar_id is not None
        record = self.store.records[jar_id]
        if how == "ends":
            del self.store.records[jar_id]
            self.ended_elsewhere.add(jar_id)
            return
        number = self.unique()
        self.store.records[jar_id] = attrs.evolve(
            record,
            data={**record.data, f"other{number}": number},
            version=record.version + 1,
        )

    # -- the handler -----------------------------------------------------------

    def handler_holds_a_session(self) -> bool:
        # Once the cycle is over or broken, nothing done to the session
        # matters any more.
        return self.session is not None and self.expected not in (S.CLOSED, S.ERROR)

    def replay_under_way(self) -> bool:
        """Whether the write in flight is, or will be, replayed on top of
        another request's record."""
        operation = self.waiting
        if operation is None or self.expected is S.RELOADING:
            return False
        if self.replaying:
            return True
        if isinstance(operation, Update):
            held = self.store.records.get(operation.session_id)
            return held is None or held.version != operation.expected_version
        return False

    def note_change(self) -> None:
        self.data_written = True
        self.stand_in_used = True
        if self.sealed:
            self.changed_after_seal = True
        if self.waiting is not None:
            self.changed_in_flight = True
        self.save_covers_changes = False

    # See another_request_may_run for why no change is made during a replay.
    @precondition(
        lambda self: self.handler_holds_a_session() and not self.replay_under_way()
    )
    @rule(how=st.sampled_from(["new key", "append", "nested"]))
    def change_data(self, how: str) -> None:
        session = self.session
        assert session is not None
        number = self.unique()
        if how == "new key":
            session[f"key{number}"] = number
        elif how == "append":
            session.setdefault("list", []).append(number)
        else:
            session.setdefault("nested", {})[f"n{number}"] = [number]
        self.note_change()

    @precondition(lambda self: self.handler_holds_a_session())
    @rule()
    def read_data(self) -> None:
        session = self.session
        assert session is not None
        _ = dict(session), session.get("list"), session.cookie.max_age, session.id

    @precondition(lambda self: self.handler_holds_a_session())
    @rule(call=lifecycle_calls)
    def lifecycle(self, call: str) -> None:
        session = self.session
        assert session is not None
        before = (session.id, dict(session))
        if self.sealed or self.expected in STORE_WORKING_ON_SESSION:
            busy = self.expected in STORE_WORKING_ON_SESSION
            refusal = UsageError if busy else SessionCommittedError
            with pytest.raises(refusal):
                self.call_lifecycle(session, call)
            assert (session.id, dict(session)) == before
            return
        self.call_lifecycle(session, call)
        self.stand_in_used = True
        if call.startswith("regenerate"):
            assert session.id != before[0]
            self.note_change()
        elif call == "destroy":
            assert session.id != before[0]
            assert session == {}
            if before[1]:
                self.note_change()
        elif call == "detach":
            self.detached = True
        elif call != "touch":
            self.lifetime_changed = True

    def call_lifecycle(self, session: Session, call: str) -> None:
        if call == "regenerate":
            session.regenerate()
        elif call == "regenerate keeping data":
            session.regenerate(keep_data=True)
        elif call == "destroy":
            session.destroy()
        elif call == "touch":
            session.touch()
        elif call == "detach":
            session.detach()
        elif call == "browser cookie":
            session.cookie.max_age = None
        else:
            session.cookie.max_age = int(call.split()[-1])

    # -- store operations --------------------------------------------------------

    def hand_out(self, operation: StoreOperation | None) -> None:
        """Take ``operation`` as the one the cycle now waits on, checking
        what the store is asked to do."""
        self.waiting = operation
        self.changed_in_flight = False
        if isinstance(operation, (Save, Update, Touch)):
            expires = (
                operation.expires
                if isinstance(operation, Touch)
                else operation.record.expires
            )
            assert expires > self.now, "the store got a lifetime already over"
        if isinstance(operation, Save):
            assert operation.session_id not in self.versions, (
                "a session the store holds was written unconditionally"
            )
            assert operation.record.version == 1
        elif isinstance(operation, Update):
            expected = self.found_version
            if expected is None:
                expected = self.versions.get(operation.session_id)
            self.found_version = None
            assert operation.expected_version == expected, (
                "a write not conditional on the version last read"
            )
            assert operation.record.version == operation.expected_version + 1
            self.attempts += 1
        elif isinstance(operation, LoadSession):
            assert self.replaying, "a lookup that follows no lost write"
            assert operation.session_id == self.lost_id

    def abandon(self) -> None:
        """A store operation failed: the cycle goes back to the handler
        after a save or reload, and breaks during a commit."""
        self.waiting = None
        self.replaying = False
        self.found_version = None
        self.expected = AFTER_FAILURE.get(self.expected, S.ERROR)

    # Mostly the store answers; now and then it raises, before or after
    # carrying the operation out (a reply lost on the way back), or the
    # adapter's task is cancelled while it waits (fail()).
    @precondition(lambda self: self.is_legal("operation_fails"))
    @rule(
        outcome=st.sampled_from(
            ["answer"] * 8 + ["error", "error after doing it", "interrupted"]
        )
    )
    def store_replies(self, outcome: str) -> None:
        if outcome == "answer" and self.expected is S.RELOADING:
            self.end_reload()
        elif outcome == "answer":
            self.answer_operation()
        elif outcome == "interrupted":
            self.interrupt()
        else:
            self.operation_fails(applied=outcome == "error after doing it")

    def answer_operation(self) -> None:
        operation = self.waiting
        assert operation is not None
        committing = self.expected is S.COMMITTING
        answer = self.store.answer(operation)
        if committing:
            self.ran.append(operation)

        found = None
        if isinstance(operation, (Save, Update)) and answer is not False:
            self.versions[operation.session_id] = operation.record.version
            self.replaying = False
            if committing:
                self.landed.append(operation)
        elif isinstance(operation, Update):
            event("a conditional write lost")
            if self.attempts >= MAX_WRITE_ATTEMPTS:
                with pytest.raises(WriteConflictError):
                    self.cycle.receive_result(answer)
                self.abandon()
                return
            self.replaying = True
            self.lost_id = operation.session_id
        elif isinstance(operation, LoadSession):
            assert not isinstance(answer, bool)
            if answer is None or answer.is_expired(self.now):
                event("a lost write found the session ended")
                self.gone = operation.session_id
                self.replaying = False
                self.notice_due = self.notice_due or committing
            else:
                found = answer
                self.found_version = answer.version
        elif isinstance(operation, Touch) and answer is False:
            event("a touch found the session ended")
            self.gone = operation.session_id

        following = self.cycle.receive_result(answer)
        if isinstance(operation, Update) and answer is False:
            # Read again, telling the adapter how many writes lost so far.
            assert following == LoadSession(
                operation.session_id, after_conflicts=self.attempts
            )
        if found is not None:
            assert isinstance(following, Update), "a lost write was not replayed"
            assert following.session_id == operation.session_id
            assert following.expected_version == found.version
            assert following.record.created == found.created
        if self.gone is not None and following is not None:
            assert following.session_id != self.gone, "an ended session was written"
        self.hand_out(following)

    def operation_fails(self, *, applied: bool) -> None:
        """The store raises; with ``applied`` it did the work first and
        only its reply was lost."""
        operation = self.waiting
        assert operation is not None
        if applied:
            self.store.answer(operation)
        error = outage()
        if (
            self.expected is S.COMMITTING
            and isinstance(operation, Touch)
            and self.config.store_outage == "read_only"
        ):
            # Tolerated: the renewed cookie is not sent, and a notice is.
            event("a failed touch was tolerated")
            following = self.cycle.receive_error(error)
            self.ran.append(operation)
            self.gone = operation.session_id
            self.notice_due = True
            assert following is None or following.session_id != operation.session_id
            self.hand_out(following)
            return
        with pytest.raises(StoreError) as caught:
            self.cycle.receive_error(error)
        assert caught.value is error
        self.abandon()

    # -- explicit save and reload ----------------------------------------------

    @precondition(lambda self: self.is_legal("begin_save"))
    @rule()
    def begin_save(self) -> None:
        session = self.session
        late = self.expected is S.COMMITTED
        assert session is not None
        if self.stand_in:
            with pytest.raises(StoreError):
                self.cycle.begin_save(self.now)
            return
        if session.id == self.gone:
            with pytest.raises(SessionNotFoundError):
                self.cycle.begin_save(self.now)
            return
        expires = session.cookie.expires
        ended = expires is not None and expires <= self.now
        was_new = session.is_new
        write = self.cycle.begin_save(self.now)
        if write is None:
            # Only a session whose lifetime is over, or a new session whose
            # Secure cookie cannot be delivered, is not written.
            assert self.cycle.session is session
            assert ended or (session.is_new and not self.cycle.request_is_secure)
            return
        assert not ended, "a store got a record whose lifetime is over"
        assert write.session_id == session.id
        assert write.record.data == dict(session)
        assert isinstance(write, Save) is was_new
        self.attempts = 0
        self.hand_out(write)
        self.data_written = True
        self.save_covers_changes = True
        self.expected = S.LATE_SAVING if late else S.SAVING

    @precondition(lambda self: self.is_legal("end_save"))
    @rule()
    def end_save(self) -> None:
        session = self.session
        assert session is not None
        self.expected = AFTER_SAVE[self.expected]
        if session.id == self.gone:
            with pytest.raises(SessionNotFoundError):
                self.cycle.end_save()
            return
        self.cycle.end_save()
        assert not session.is_new
        if self.save_covers_changes:
            self.changed_after_seal = False

    @precondition(lambda self: self.is_legal("begin_reload"))
    @rule()
    def begin_reload(self) -> None:
        assert self.session is not None
        if self.stand_in:
            with pytest.raises(StoreError):
                self.cycle.begin_reload()
            return
        lookup = self.cycle.begin_reload()
        assert lookup == LoadSession(self.session.id)
        self.waiting = lookup
        self.expected = S.RELOADING

    def end_reload(self) -> None:
        session = self.session
        assert session is not None
        record = self.store.get(session.id)
        self.expected = S.ACTIVE
        self.waiting = None
        if record is None or record.is_expired(self.now):
            with pytest.raises(SessionNotFoundError):
                self.cycle.end_reload(record)
        else:
            self.cycle.end_reload(record)
            assert session == record.data
            assert not session.is_new
            self.versions[session.id] = record.version

    # -- commit ----------------------------------------------------------------

    @precondition(lambda self: self.is_legal("begin_commit"))
    @rule()
    def begin_commit(self) -> None:
        if self.expected is S.BYPASSED:
            assert self.cycle.begin_commit(self.now) is None
            return
        session = self.session
        assert session is not None
        self.sealed = True
        if (
            self.stand_in
            and self.stand_in_used
            and not (self.detached and self.config.unset == "keep")
        ):
            # Nothing may be written for a stand-in, so a change to it
            # fails the request rather than vanish.
            with pytest.raises(StoreError):
                self.cycle.begin_commit(self.now)
            self.expected = S.ERROR
            return
        first = self.cycle.begin_commit(self.now)
        self.expected = S.COMMITTING
        if self.stand_in:
            assert first is None, "a stand-in reached the store"
        if isinstance(first, (Save, Update)):
            assert first.session_id == session.id
            assert first.record.data == dict(session)
            assert isinstance(first, Save) is session.is_new
        self.attempts = 0
        self.hand_out(first)

    def check_commit(self, headers: tuple[HeaderEffect, ...]) -> None:
        writes = [op for op in self.ran if isinstance(op, (Save, Update))]
        set_cookies = [effect for effect in headers if isinstance(effect, SetCookie)]

        if self.loaded and not (
            self.data_written or self.lifetime_changed or self.config.resave
        ):
            assert writes == [], "a read-only request wrote to the store"
        if not (self.loaded or self.data_written or self.config.save_uninitialized):
            assert writes == [], "an unwritten new session was stored"
            assert set_cookies == [], "an unwritten new session got a cookie"
        if self.stand_in:
            assert headers == (), "a stand-in's cookie replaced the client's"

        notices = [effect for effect in headers if isinstance(effect, ChangesDropped)]
        assert len(notices) == int(self.notice_due)

        for set_cookie in set_cookies:
            cookie = parse_set_cookie(set_cookie.header)
            session_id = self.signer.unsign(cookie.value)
            assert session_id != self.gone, "a cookie names an ended session"
            if cookie.max_age is None:
                assert cookie.expires is None
                continue
            assert cookie.expires is not None
            sent_expiry = parsedate_to_datetime(cookie.expires)
            assert sent_expiry == self.now + timedelta(seconds=cookie.max_age)
            for write in writes:
                if write.session_id == session_id:
                    assert write.record.expires == sent_expiry
                    assert write.record.max_age == cookie.max_age
            for touch in self.ran:
                if isinstance(touch, Touch) and touch.session_id == session_id:
                    assert touch.expires == sent_expiry

    @precondition(lambda self: self.is_legal("end_commit"))
    @rule()
    def end_commit(self) -> None:
        headers = self.cycle.end_commit()
        if self.expected is S.BYPASSED:
            assert headers == ()
            return
        self.expected = S.COMMITTED
        event("a commit ran to its end")
        self.commit_headers = headers
        self.check_commit(headers)
        for header in headers:
            if isinstance(header, SetCookie):
                self.jar = parse_set_cookie(header.header).value
                self.client_id = self.signer.unsign(self.jar)
            elif isinstance(header, ClearCookie):
                self.jar = None
        session = self.session
        assert session is not None
        if not (
            session.is_new
            or Destroy(session.id) in self.ran
            or session.id == self.gone
            or session.id in self.ended_elsewhere
        ):
            assert session.id in self.store.records, (
                "a session counted as stored is not"
            )

    # Finishing is legal in IDLE and ERROR too, but would stall the walk
    # there; those moves are covered by the misuse checks below.
    @precondition(
        lambda self: self.is_legal("finish") and self.expected not in (S.IDLE, S.ERROR)
    )
    @rule()
    def finish(self) -> None:
        committed = self.expected is S.COMMITTED
        self.expected = S.CLOSED
        try:
            self.cycle.finish()
        except SessionCommittedError:
            assert committed
            assert self.changed_after_seal, "a change was invented"
            return
        kept = bool(self.landed) or any(
            isinstance(effect, SetCookie) for effect in self.commit_headers
        )
        # A session found ended by another request has nothing to keep a
        # change in; every save() of it already raised SessionNotFoundError.
        ended = self.session is not None and self.session.id == self.gone
        assert not (committed and kept and self.changed_after_seal and not ended), (
            "a change after the commit vanished without an error"
        )

    def interrupt(self) -> None:
        assert self.expected in STORE_BUSY
        self.cycle.fail()
        self.expected = S.ERROR

    # -- misuse ----------------------------------------------------------------

    def is_legal(self, call: str) -> bool:
        """Whether ``call`` is allowed where the model says the cycle is."""
        state, session = self.expected, self.session
        if call == "begin_save":
            # After the commit, a session the client holds may be saved; one
            # found ended by another request is refused as such.
            return session is not None and (
                state is S.ACTIVE
                or (state is S.COMMITTED and session.id in (self.client_id, self.gone))
            )
        legal = state in LEGAL_IN[call]
        if call in NEED_A_WAITING_OPERATION:
            return legal and self.waiting is not None
        if call in NEED_NO_WAITING_OPERATION:
            return legal and self.waiting is None
        return legal

    def illegal_call(self, cycle: SessionCycle, call: str) -> None:
        now = self.now
        if call == "receive_request":
            cycle.receive_request(RequestFacts(now=now))
        elif call == "answer_lookup":
            cycle.receive_record("asked-for-nothing", None)
        elif call == "answer_lookup_for_the_wrong_id":
            cycle.receive_record("not-asked-for", None)
        elif call == "lookup_fails":
            cycle.load_failed(outage())
        elif call == "begin_save":
            cycle.begin_save(now)
        elif call == "end_save":
            cycle.end_save()
        elif call == "begin_reload":
            cycle.begin_reload()
        elif call == "end_reload":
            cycle.end_reload(None)
        elif call == "answer_operation":
            cycle.receive_result(None)
        elif call == "operation_fails":
            cycle.receive_error(outage())
        elif call == "begin_commit":
            cycle.begin_commit(now)
        elif call == "end_commit":
            cycle.end_commit()
        else:
            cycle.finish()

    @precondition(lambda self: self.expected is not S.ERROR)
    @rule(
        data=st.data(),
        misused=st.sampled_from(["a copy", "a copy", "a copy", "the cycle"]),
    )
    def make_an_illegal_call(self, data: st.DataObject, misused: str) -> None:
        """Misuse the cycle: mostly a copy of it, so that the walk goes on,
        and now and then the cycle itself."""
        illegal = [c for c in CALLS if not self.is_legal(c)]
        call = data.draw(st.sampled_from(["answer_lookup_for_the_wrong_id", *illegal]))
        cycle = self.cycle if misused == "the cycle" else copy.deepcopy(self.cycle)
        with pytest.raises(UsageError):
            self.illegal_call(cycle, call)
        if cycle is self.cycle:
            self.expected = S.ERROR
        self.check_error_is_sticky(cycle, data)

    def check_error_is_sticky(self, cycle: SessionCycle, data: st.DataObject) -> None:
        """In the error state every call but ``finish`` is refused, and none
        of them leaves it."""
        assert cycle.state is S.ERROR
        call = data.draw(st.sampled_from([c for c in CALLS if c != "finish"]))
        with pytest.raises(UsageError):
            self.illegal_call(cycle, call)
        assert cycle.state is S.ERROR
        cycle.finish()
        assert cycle.state is S.ERROR


CycleMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None
)
TestCycleMachine = CycleMachine.TestCase
