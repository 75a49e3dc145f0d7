"""A random walk through request cycles: legal and illegal calls in any
order, over many requests that share one store and one browser.

The machine keeps its own model of where the cycle should be (written out
below, independently of ``sessions.cycle.TRANSITIONS``), predicts for each
call whether it is legal, and checks the commit decisions against the rules
the documentation states.
"""

from __future__ import annotations

import copy
import itertools
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sessions import (
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
    Touch,
    UsageError,
)
from sessions.cookies import parse_set_cookie
from sessions.cycle import Effect, RequestFacts
from sessions.signing import IdSigner

from .support import NOW, SECRET

S = CycleState
STORE_EFFECTS = (Save, Touch, Destroy)
HEADER_EFFECTS = (SetCookie, ClearCookie)
# Where each call is legal; everywhere else it must raise UsageError. An
# explicit save is also legal after the commit, for a session the client
# holds (see CycleMachine.is_legal).
LEGAL_IN: dict[str, set[CycleState]] = {
    "receive_request": {S.IDLE},
    "answer_lookup": {S.LOADING},
    "answer_lookup_for_the_wrong_id": set(),
    "begin_save": {S.ACTIVE},
    "end_save": {S.SAVING, S.LATE_SAVING},
    "begin_reload": {S.ACTIVE},
    "end_reload": {S.RELOADING},
    "begin_commit": {S.ACTIVE, S.BYPASSED},
    "end_commit": {S.COMMITTING, S.BYPASSED},
    "finish": {S.IDLE, S.LOADING, S.ACTIVE, S.BYPASSED, S.COMMITTED, S.ERROR},
}
CALLS = tuple(LEGAL_IN)
# Where an adapter waits for the store, and so may report a store failure.
STORE_BUSY = {S.LOADING, S.SAVING, S.RELOADING, S.COMMITTING, S.LATE_SAVING}
# Where an explicit save() or reload() of the session is running.
STORE_WORKING_ON_SESSION = {S.SAVING, S.RELOADING, S.LATE_SAVING}
AFTER_SAVE = {S.SAVING: S.ACTIVE, S.LATE_SAVING: S.COMMITTED}

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


class CycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store: dict[str, SessionRecord] = {}
        self.jar: str | None = None  # the cookie value the browser holds
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
        self.data_written = False
        self.lifetime_changed = False
        self.sealed = False
        self.changed_after_seal = False
        self.save_covers_changes = False
        self.pending_save: Save | None = None
        self.pending_headers: list[Effect] = []
        self.commit_effects: tuple[Effect, ...] = ()

    def unique(self) -> int:
        return next(self.counter)

    @initialize(config=configs)
    def configure(self, config: SessionConfig) -> None:
        self.config = config
        self.signer = IdSigner(config.secret)
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
            assert decision == LoadSession(ids[0])
            self.expected = S.LOADING
        else:
            self.take_ready(decision, loaded_id=None)

    def take_ready(self, decision: object, loaded_id: str | None) -> None:
        assert isinstance(decision, SessionReady)
        session = decision.session
        self.session = session
        self.expected = S.ACTIVE
        if loaded_id is None:
            assert session.is_new
            assert session == {}
            assert session.id not in self.offered, "a client's id was adopted"
        else:
            assert session.id == loaded_id
            assert not session.is_new
            assert session == self.store[loaded_id].data
            self.loaded = True
            self.client_id = loaded_id

    @precondition(lambda self: self.is_legal("answer_lookup"))
    @rule()
    def answer_lookup(self) -> None:
        session_id = self.candidates[0]
        record = self.store.get(session_id)
        decision = self.cycle.receive_record(session_id, record)
        if record is not None and not record.is_expired(self.now):
            self.take_ready(decision, loaded_id=session_id)
            return
        del self.candidates[0]
        if self.candidates:
            assert decision == LoadSession(self.candidates[0])
        else:
            self.take_ready(decision, loaded_id=None)

    # -- the handler -----------------------------------------------------------

    def handler_holds_a_session(self) -> bool:
        # Once the cycle is over or broken, nothing done to the session
        # matters any more.
        return self.session is not None and self.expected not in (S.CLOSED, S.ERROR)

    def note_change(self) -> None:
        self.data_written = True
        if self.sealed:
            self.changed_after_seal = True
        self.save_covers_changes = False

    @precondition(lambda self: self.handler_holds_a_session())
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
        if call.startswith("regenerate"):
            assert session.id != before[0]
            self.note_change()
        elif call == "destroy":
            assert session.id != before[0]
            assert session == {}
            if before[1]:
                self.note_change()
        elif call not in ("touch", "detach"):
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

    # -- explicit save and reload ----------------------------------------------

    @precondition(lambda self: self.is_legal("begin_save"))
    @rule()
    def begin_save(self) -> None:
        session = self.session
        late = self.expected is S.COMMITTED
        assert session is not None
        expires = session.cookie.expires
        ended = expires is not None and expires <= self.now
        save = self.cycle.begin_save(self.now)
        if save is None:
            # Only a session whose lifetime is over, or a new session whose
            # Secure cookie cannot be delivered, is not written.
            assert self.cycle.session is session
            assert ended or (session.is_new and not self.cycle.request_is_secure)
            return
        assert not ended, "a store got a record whose lifetime is over"
        assert save.session_id == session.id
        assert save.record.data == dict(session)
        assert save.record.expires > self.now
        self.pending_save = save
        self.data_written = True
        self.save_covers_changes = True
        self.expected = S.LATE_SAVING if late else S.SAVING

    @precondition(lambda self: self.is_legal("end_save"))
    @rule(ok=st.booleans())
    def end_save(self, ok: bool) -> None:
        self.cycle.end_save(ok=ok)
        self.expected = AFTER_SAVE[self.expected]
        if ok:
            assert self.pending_save is not None
            self.store[self.pending_save.session_id] = self.pending_save.record
            if self.save_covers_changes:
                self.changed_after_seal = False

    @precondition(lambda self: self.is_legal("begin_reload"))
    @rule()
    def begin_reload(self) -> None:
        assert self.session is not None
        assert self.cycle.begin_reload() == LoadSession(self.session.id)
        self.expected = S.RELOADING

    @precondition(lambda self: self.is_legal("end_reload"))
    @rule(ok=st.booleans())
    def end_reload(self, ok: bool) -> None:
        session = self.session
        assert session is not None
        record = self.store.get(session.id)
        self.expected = S.ACTIVE
        if not ok:
            self.cycle.end_reload(None, ok=False)
        elif record is None or record.is_expired(self.now):
            with pytest.raises(SessionNotFoundError):
                self.cycle.end_reload(record)
        else:
            self.cycle.end_reload(record)
            assert session == record.data
            assert not session.is_new

    # -- commit ----------------------------------------------------------------

    @precondition(lambda self: self.is_legal("begin_commit"))
    @rule()
    def begin_commit(self) -> None:
        effects = self.cycle.begin_commit(self.now)
        if self.expected is S.BYPASSED:
            assert effects == ()
            return
        self.expected = S.COMMITTING
        self.sealed = True
        self.commit_effects = effects
        self.check_commit(effects)
        for effect in effects:
            if isinstance(effect, Save):
                self.store[effect.session_id] = effect.record
            elif isinstance(effect, Destroy):
                self.store.pop(effect.session_id, None)
            elif isinstance(effect, Touch) and effect.session_id in self.store:
                old = self.store[effect.session_id]
                self.store[effect.session_id] = SessionRecord(
                    data=old.data,
                    expires=effect.expires,
                    max_age=old.max_age,
                    created=old.created,
                )
            elif isinstance(effect, SetCookie):
                self.client_id = self.signer.unsign(
                    parse_set_cookie(effect.header).value
                )
        self.pending_headers = [e for e in effects if isinstance(e, HEADER_EFFECTS)]

    def check_commit(self, effects: tuple[Effect, ...]) -> None:
        kinds = [isinstance(effect, STORE_EFFECTS) for effect in effects]
        assert kinds == sorted(kinds, reverse=True), "store effects must come first"
        saves = [effect for effect in effects if isinstance(effect, Save)]
        set_cookies = [effect for effect in effects if isinstance(effect, SetCookie)]

        if self.loaded and not (
            self.data_written or self.lifetime_changed or self.config.resave
        ):
            assert saves == [], "a read-only request wrote to the store"
        if not (self.loaded or self.data_written or self.config.save_uninitialized):
            assert saves == [], "an unwritten new session was stored"
            assert set_cookies == [], "an unwritten new session got a cookie"

        for effect in effects:
            if isinstance(effect, (Save, Touch)):
                expires = (
                    effect.record.expires
                    if isinstance(effect, Save)
                    else effect.expires
                )
                assert expires > self.now, "the store got a lifetime already over"
        for set_cookie in set_cookies:
            cookie = parse_set_cookie(set_cookie.header)
            session_id = self.signer.unsign(cookie.value)
            if cookie.max_age is None:
                assert cookie.expires is None
                continue
            assert cookie.expires is not None
            sent_expiry = parsedate_to_datetime(cookie.expires)
            assert sent_expiry == self.now + timedelta(seconds=cookie.max_age)
            for save in saves:
                if save.session_id == session_id:
                    assert save.record.expires == sent_expiry
                    assert save.record.max_age == cookie.max_age
            for touch in effects:
                if isinstance(touch, Touch) and touch.session_id == session_id:
                    assert touch.expires == sent_expiry

    @precondition(lambda self: self.is_legal("end_commit"))
    @rule()
    def end_commit(self) -> None:
        self.cycle.end_commit()
        if self.expected is S.BYPASSED:
            return
        self.expected = S.COMMITTED
        for header in self.pending_headers:
            if isinstance(header, SetCookie):
                self.jar = parse_set_cookie(header.header).value
            else:
                self.jar = None
        session = self.session
        assert session is not None
        if not session.is_new and Destroy(session.id) not in self.commit_effects:
            assert session.id in self.store, "a session counted as stored is not"

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
        session = self.session
        kept = session is not None and any(
            isinstance(effect, (Save, SetCookie)) for effect in self.commit_effects
        )
        assert not (committed and kept and self.changed_after_seal), (
            "a change after the commit vanished without an error"
        )

    @precondition(lambda self: self.expected in STORE_BUSY)
    @rule()
    def fail(self) -> None:
        self.cycle.fail()
        self.expected = S.ERROR

    # -- misuse ----------------------------------------------------------------

    def is_legal(self, call: str) -> bool:
        """Whether ``call`` is allowed where the model says the cycle is."""
        state, session = self.expected, self.session
        if call == "begin_save":
            return session is not None and (
                state is S.ACTIVE
                or (state is S.COMMITTED and session.id == self.client_id)
            )
        return state in LEGAL_IN[call]

    def illegal_call(self, cycle: SessionCycle, call: str) -> None:
        now = self.now
        if call == "receive_request":
            cycle.receive_request(RequestFacts(now=now))
        elif call == "answer_lookup":
            cycle.receive_record("asked-for-nothing", None)
        elif call == "answer_lookup_for_the_wrong_id":
            cycle.receive_record("not-asked-for", None)
        elif call == "begin_save":
            cycle.begin_save(now)
        elif call == "end_save":
            cycle.end_save()
        elif call == "begin_reload":
            cycle.begin_reload()
        elif call == "end_reload":
            cycle.end_reload(None)
        elif call == "begin_commit":
            cycle.begin_commit(now)
        elif call == "end_commit":
            cycle.end_commit()
        else:
            cycle.finish()

    @precondition(lambda self: self.expected is not S.ERROR)
    @rule(data=st.data(), on_a_copy=st.integers(min_value=0, max_value=3))
    def make_an_illegal_call(self, data: st.DataObject, on_a_copy: int) -> None:
        """Misuse the cycle: mostly a copy of it, so that the walk goes on,
        and now and then the cycle itself."""
        illegal = [call for call in CALLS if not self.is_legal(call)]
        call = data.draw(st.sampled_from(["answer_lookup_for_the_wrong_id", *illegal]))
        cycle = copy.deepcopy(self.cycle) if on_a_copy else self.cycle
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
