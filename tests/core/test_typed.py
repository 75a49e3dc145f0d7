"""TypedView: a declared attrs class or dataclass over a session's keys.

Reading loads by the documented evolution rule (missing field: default or
SessionDataError; unknown key: ignored and kept; wrong shape:
SessionDataError) and never changes the session. Writing sets only the keys
of fields that changed, refuses values the declared type does not allow,
and leaves the session as it was when it refuses. The view works the same
on sync and async sessions, and its per-key writes merge with concurrent
requests like any other change.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import re
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, NamedTuple

import attrs
import cattrs.gen
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions import (
    AsyncRunner,
    AsyncSession,
    FieldValueError,
    MemoryStore,
    SerializationError,
    Session,
    SessionDataError,
    SessionError,
    SyncRunner,
    SyncSession,
    TypedView,
    UsageError,
)
from sessions.records import record_from_json, record_to_json
from sessions.typed import make_converter
from tests.behaviour.servers import serve_asgi

from .support import NOW, facts, make_config, make_record, sign

# -- declared classes -------------------------------------------------------------


@attrs.define
class Visit:
    user_id: int | None = None
    cart: list[str] = attrs.Factory(list)


@dataclasses.dataclass
class Profile:
    name: str
    languages: list[str] = dataclasses.field(default_factory=list)


class Plan(enum.Enum):
    FREE = "free"
    PRO = "pro"


@attrs.define
class Address:
    street: str = ""
    city: str = ""


@attrs.define
class Account:
    """A field of every kind the default converter stores."""

    user_id: int | None = None
    name: str = ""
    balance: float = 0.0
    admin: bool = False
    plan: Plan = Plan.FREE
    mode: Literal["light", "dark"] = "light"
    cart: list[str] = attrs.Factory(list)
    tags: set[str] = attrs.Factory(set)
    sizes: tuple[int, ...] = ()
    counts: dict[str, int] = attrs.Factory(dict)
    address: Address | None = None
    seen: datetime | None = None


ACCOUNT_KEYS = tuple(field.name for field in attrs.fields(Account))


def loaded(data: dict[str, Any]) -> Session:
    """A session loaded from a store record holding ``data``."""
    return Session(
        session_id="stored",
        now=NOW,
        genid=lambda: "new-id",
        record=make_record(data),
    )


# -- reading -------------------------------------------------------------------


def test_read_structures_the_declared_fields() -> None:
    session = loaded({"user_id": 7, "cart": ["book", "pen"]})
    visit = TypedView(session, Visit).read()
    assert visit == Visit(user_id=7, cart=["book", "pen"])


def test_the_read_instance_shares_nothing_with_the_session() -> None:
    session = loaded({"cart": ["book"]})
    visit = TypedView(session, Visit).read()
    visit.cart.append("pen")
    assert session["cart"] == ["book"]
    assert not session.is_modified


def test_a_missing_field_takes_its_default_and_is_not_written() -> None:
    session = loaded({"theme": "dark"})
    with TypedView(session, Visit) as visit:
        assert visit == Visit()
    assert dict(session) == {"theme": "dark"}
    assert not session.is_modified


def test_a_missing_field_without_default_names_the_field() -> None:
    session = loaded({"languages": ["en"]})
    with pytest.raises(SessionDataError, match="missing and has no default") as raised:
        TypedView(session, Profile).read()
    assert raised.value.field == "name"
    assert isinstance(raised.value, SessionError)
    assert isinstance(raised.value, ValueError)


def test_an_unknown_key_is_ignored_and_left_alone() -> None:
    # A record written by a newer version of the class, or by other code.
    session = loaded({"user_id": 7, "coupon": "SPRING", "cart": []})
    with TypedView(session, Visit) as visit:
        visit.cart.append("book")
    assert dict(session) == {"user_id": 7, "coupon": "SPRING", "cart": ["book"]}


@pytest.mark.parametrize(
    ("cls", "stored", "field"),
    [
        (Visit, {"user_id": "7"}, "user_id"),  # cattrs alone would turn it into 7
        (Visit, {"user_id": True}, "user_id"),
        (Visit, {"user_id": 7.5}, "user_id"),
        (Visit, {"user_id": "seven"}, "user_id"),
        (Visit, {"cart": "book"}, "cart"),  # not a list of four letters
        (Visit, {"cart": {"book": 1}}, "cart"),
        (Visit, {"cart": None}, "cart"),
        (Visit, {"cart": ["book", 2]}, "cart"),
        (Account, {"balance": True}, "balance"),
        (Account, {"plan": "gold"}, "plan"),
        (Account, {"mode": "sepia"}, "mode"),
        (Account, {"tags": ["a", "a"]}, "tags"),  # a set would drop one
        (Account, {"counts": {"a": "1"}}, "counts"),
        (Account, {"address": {"street": 5}}, "address"),
        (Account, {"address": "Main St"}, "address"),
        (Account, {"seen": "tomorrow"}, "seen"),
    ],
)
def test_a_stored_value_of_the_wrong_shape_names_the_field(
    cls: type[Any], stored: dict[str, Any], field: str
) -> None:
    session = loaded(stored)
    before = json.dumps(session, sort_keys=True)
    with pytest.raises(SessionDataError) as raised:
        TypedView(session, cls).read()
    assert raised.value.field == field
    assert str(raised.value).startswith(f"session[{field}]: cannot load {cls.__name__}")
    assert json.dumps(session, sort_keys=True) == before
    assert not session.is_modified


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"balance": 3}, Account(balance=3.0)),  # JSON has one kind of number
        ({"tags": ["b", "a"]}, Account(tags={"a", "b"})),  # any order
        ({"plan": "pro"}, Account(plan=Plan.PRO)),
        ({"sizes": [1, 2]}, Account(sizes=(1, 2))),
        (
            {"seen": "2030-01-01T12:00:00+00:00"},
            Account(seen=datetime(2030, 1, 1, 12, tzinfo=timezone.utc)),
        ),
        # A nested object from an older or newer version of its class loads
        # by the same rule as the top level.
        (
            {"address": {"street": "Main St", "floor": 3}},
            Account(address=Address(street="Main St")),
        ),
    ],
)
def test_stored_json_that_says_the_same_loads(
    stored: dict[str, Any], expected: Account
) -> None:
    assert TypedView(loaded(stored), Account).read() == expected


def test_a_field_that_cannot_load_can_be_reset_to_recover() -> None:
    # The documented way out for a handler that meets an old, broken value.
    session = loaded({"user_id": 7, "cart": "book"})
    view = TypedView(session, Visit)
    try:
        view.read()
    except SessionDataError as error:
        del session[error.field]
    assert view.read() == Visit(user_id=7)


def test_dataclasses_work_like_attrs_classes() -> None:
    session = loaded({"name": "Ada", "languages": ["en"]})
    with TypedView(session, Profile) as profile:
        assert profile == Profile("Ada", ["en"])
        profile.languages.append("fr")
    assert session["languages"] == ["en", "fr"]


@attrs.frozen
class FrozenVisit:
    user_id: int | None = None
    cart: tuple[str, ...] = ()


def test_frozen_classes_are_written_as_new_instances() -> None:
    session = loaded({"cart": ["book"], "theme": "dark"})
    view = TypedView(session, FrozenVisit)
    visit = view.read()
    assert view.write(attrs.evolve(visit, cart=(*visit.cart, "pen"))) == {"cart"}
    assert dict(session) == {"cart": ["book", "pen"], "theme": "dark"}


def test_a_class_that_is_neither_attrs_nor_a_dataclass_is_refused() -> None:
    class Plain:
        user_id: int | None = None

    with pytest.raises(TypeError, match="not an attrs class or a dataclass"):
        TypedView({}, Plain)


# -- writing -------------------------------------------------------------------


def test_the_with_block_writes_back_nested_changes_only() -> None:
    session = loaded({"user_id": 7, "cart": ["book"], "theme": "dark"})
    with TypedView(session, Visit) as visit:
        visit.cart.append("pen")
    assert dict(session) == {"user_id": 7, "cart": ["book", "pen"], "theme": "dark"}
    assert session.is_modified


def test_write_sets_only_the_keys_of_changed_fields() -> None:
    session = loaded({"user_id": 7, "cart": ["book"]})
    view = TypedView(session, Visit)
    visit = view.read()
    visit.cart.append("pen")
    assert view.write(visit) == {"cart"}
    assert view.write(visit) == frozenset()  # nothing changed since
    visit.user_id = None
    assert view.write(visit) == {"user_id"}
    assert dict(session) == {"user_id": None, "cart": ["book", "pen"]}


def test_an_unchanged_field_does_not_overwrite_a_newer_value() -> None:
    # Another part of the handler (or a reload) changed a key the view read:
    # writing back the view's untouched copy must not undo that.
    session = loaded({"user_id": 7, "cart": ["book"]})
    view = TypedView(session, Visit)
    visit = view.read()
    session["user_id"] = 8
    visit.cart.append("pen")
    view.write(visit)
    assert session["user_id"] == 8


def test_write_before_any_read_stores_fields_that_differ_from_the_session() -> None:
    session = loaded({"user_id": 7, "cart": ["book"]})
    assert TypedView(session, Visit).write(Visit(user_id=7)) == {"cart"}
    assert dict(session) == {"user_id": 7, "cart": []}


def test_the_written_value_is_a_copy() -> None:
    session: dict[str, Any] = {}
    view = TypedView(session, Visit)
    visit = Visit(cart=["book"])
    view.write(visit)
    visit.cart.append("pen")
    assert session == {"user_id": None, "cart": ["book"]}


def add_pen_then_fail(session: Session) -> None:
    with TypedView(session, Visit) as visit:
        visit.cart.append("pen")
        raise LookupError("the handler failed")


def test_an_exception_in_the_block_writes_nothing() -> None:
    session = loaded({"cart": ["book"]})
    with pytest.raises(LookupError):
        add_pen_then_fail(session)
    assert session["cart"] == ["book"]
    assert not session.is_modified


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("user_id", "ada"),
        ("user_id", True),  # JSON true is no number
        ("user_id", 1.5),
        ("cart", "book"),  # would be stored as ["b", "o", "o", "k"]
        ("cart", {"book"}),
        ("cart", ("book",)),
        ("cart", ["book", 3]),
        ("cart", None),
    ],
)
def test_a_value_the_type_does_not_allow_is_refused(field: str, value: Any) -> None:
    session = loaded({"user_id": 7, "cart": ["book"]})
    view = TypedView(session, Visit)
    visit = view.read()
    visit.user_id = 8
    setattr(visit, field, value)
    with pytest.raises(FieldValueError) as raised:
        view.write(visit)
    assert raised.value.field == field == raised.value.path
    assert isinstance(raised.value, SerializationError)
    assert isinstance(raised.value, TypeError)
    assert dict(session) == {"user_id": 7, "cart": ["book"]}  # not even user_id
    assert not session.is_modified


def name_and_count_nan(session: Session) -> None:
    with TypedView(session, Account) as account:
        account.name = "Ada"
        account.counts = {"book": 1, "pen": float("nan")}  # type: ignore[dict-item]


def test_a_value_with_no_json_form_is_refused_with_its_path() -> None:
    session = loaded({"cart": ["book"]})
    with pytest.raises(SerializationError) as raised:
        name_and_count_nan(session)
    assert raised.value.path == "counts.pen"
    assert dict(session) == {"cart": ["book"]}


def test_a_number_where_a_float_is_declared_is_accepted() -> None:
    session: dict[str, Any] = {}
    view = TypedView(session, Account)
    account = view.read()
    account.balance = 3
    assert view.write(account) == {"balance"}
    assert TypedView(session, Account).read().balance == 3.0


def test_an_instance_of_another_class_is_refused() -> None:
    view = TypedView({}, Visit)
    with pytest.raises(TypeError, match="stores Visit, not Profile"):
        view.write(Profile("Ada"))  # type: ignore[arg-type]


def test_a_view_cannot_be_opened_twice_at_once() -> None:
    view = TypedView({}, Visit)
    with view, pytest.raises(UsageError), view:
        pass


def test_fields_set_outside_init_are_not_stored() -> None:
    @attrs.define
    class Counter:
        count: int = 0
        label: str = attrs.field(init=False, default="derived")

    session: dict[str, Any] = {"label": "stored"}
    view = TypedView(session, Counter)
    assert view.keys == ("count",)
    with view as counter:
        counter.count += 1
        counter.label = "changed"
    assert session == {"label": "stored", "count": 1}


# -- converters --------------------------------------------------------------------


@attrs.define
class Price:
    amount: Decimal = Decimal("0")


def test_a_converter_with_hooks_for_other_types() -> None:
    converter = make_converter()
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(Decimal, lambda value, _: Decimal(value))

    session: dict[str, Any] = {}
    with TypedView(session, Price, converter=converter) as price:
        price.amount = Decimal("9.99")
    assert session == {"amount": "9.99"}
    assert TypedView(session, Price, converter=converter).read() == Price(
        Decimal("9.99")
    )


def test_a_type_the_converter_cannot_load_is_refused_up_front() -> None:
    with pytest.raises(TypeError, match="no structure hook for Decimal"):
        TypedView({}, Price)


def test_a_type_the_converter_cannot_store_is_reported_when_reading() -> None:
    converter = make_converter()
    converter.register_structure_hook(Decimal, lambda value, _: Decimal(value))
    with pytest.raises(SerializationError) as raised:
        TypedView({}, Price, converter=converter).read()
    assert raised.value.path == "amount"


def test_a_converter_that_renames_fields_is_refused() -> None:
    converter = make_converter()
    converter.register_unstructure_hook(
        Visit,
        cattrs.gen.make_dict_unstructure_fn(
            Visit, converter, user_id=cattrs.gen.override(rename="uid")
        ),
    )
    with pytest.raises(UsageError, match="every field under its own name"):
        TypedView({}, Visit, converter=converter).read()


def test_dates_and_sets_are_stored_as_json() -> None:
    @attrs.define
    class Trip:
        day: date = date(2030, 1, 1)
        stops: frozenset[str] = frozenset()

    session: dict[str, Any] = {}
    TypedView(session, Trip).write(Trip(date(2030, 5, 4), frozenset({"b", "a"})))
    assert session == {"day": "2030-05-04", "stops": ["a", "b"]}


def test_a_shared_class_level_default_never_carries_one_session_into_another() -> None:
    shared: list[str] = []

    @attrs.define
    class Basket:
        items: list[str] = shared  # one object for every instance

    alice: dict[str, Any] = {}
    bob: dict[str, Any] = {}
    with TypedView(alice, Basket) as basket:
        basket.items.append("alice's item")

    assert TypedView(bob, Basket).read() == Basket([])
    assert shared == []
    assert alice == {"items": ["alice's item"]}


class Point(NamedTuple):
    x: int
    label: str


@attrs.define
class Pin:
    at: Point = attrs.Factory(lambda: Point(0, "origin"))


def test_named_tuples_are_stored_as_lists() -> None:
    session: dict[str, Any] = {}
    with TypedView(session, Pin) as pin:
        pin.at = Point(3, "home")

    assert session == {"at": [3, "home"]}
    assert TypedView(session, Pin).read() == Pin(Point(3, "home"))
    with pytest.raises(SessionDataError) as raised:
        TypedView({"at": [1]}, Pin).read()
    assert raised.value.field == "at"


def test_an_error_never_quotes_the_stored_value() -> None:
    @attrs.define
    class Mode:
        mode: Literal["light", "dark"] = "light"

    with pytest.raises(SessionDataError) as raised:
        TypedView({"mode": "a-private-value"}, Mode).read()

    assert raised.value.field == "mode"
    assert "a-private-value" not in str(raised.value)


def test_tuples_of_fixed_or_any_length_are_stored_as_lists() -> None:
    @attrs.define
    class Place:
        point: tuple[int, int] = (0, 0)
        label: tuple[str, int] | None = None
        path: tuple[int, ...] = ()

    session: dict[str, Any] = {}
    with TypedView(session, Place) as place:
        place.point, place.label, place.path = (3, 4), ("home", 1), (1, 2, 3)

    assert session == {"point": [3, 4], "label": ["home", 1], "path": [1, 2, 3]}
    assert TypedView(session, Place).read() == Place((3, 4), ("home", 1), (1, 2, 3))
    # A tuple of another length than declared would not come back the same.
    with pytest.raises(FieldValueError), TypedView(session, Place) as place:
        place.point = (1, 2, 3)  # type: ignore[assignment]
    assert session["point"] == [3, 4]


# -- through real requests: per-key merge, sync and async --------------------------


def sync_request(
    store: MemoryStore, cookie: str = ""
) -> tuple[SyncRunner, SyncSession]:
    runner = SyncRunner(make_config(), store, clock=lambda: NOW)
    session = runner.load(facts(cookie) if cookie else facts())
    assert session is not None
    return runner, session


def test_concurrent_requests_changing_different_fields_both_land() -> None:
    store = MemoryStore(clock=NOW.timestamp)
    store.set("abc", make_record({"user_id": None, "cart": ["book"], "theme": "dark"}))
    cookie = f"sid={sign('abc')}"

    # Both requests load the same version; the first to commit wins the
    # race, the second is replayed on top of it, key by key.
    adding, cart_session = sync_request(store, cookie)
    login, login_session = sync_request(store, cookie)
    with TypedView(cart_session, Visit) as visit:
        visit.cart.append("pen")
    with TypedView(login_session, Visit) as visit:
        visit.user_id = 7
    adding.commit()
    login.commit()

    record = store.get("abc")
    assert record is not None
    assert record.data == {"user_id": 7, "cart": ["book", "pen"], "theme": "dark"}


def test_a_read_only_typed_request_writes_nothing() -> None:
    store = MemoryStore(clock=NOW.timestamp)
    store.set("abc", make_record({"cart": ["book"]}, version=4))
    runner, session = sync_request(store, f"sid={sign('abc')}")
    with TypedView(session, Visit) as visit:
        assert visit.user_id is None
    runner.commit()
    record = store.get("abc")
    assert record is not None
    assert record.version == 4
    assert record.data == {"cart": ["book"]}


def test_async_sessions_take_the_same_view() -> None:
    async def scenario() -> Visit:
        store = MemoryStore(clock=NOW.timestamp).as_async()
        first = AsyncRunner(make_config(), store, clock=lambda: NOW)
        session = await first.load(facts())
        assert isinstance(session, AsyncSession)
        with TypedView(session, Visit) as visit:
            visit.cart.append("book")
        await session.save()

        second = AsyncRunner(make_config(), store, clock=lambda: NOW)
        again = await second.load(facts(f"sid={sign(session.id)}"))
        assert again is not None
        return TypedView(again, Visit).read()

    assert asyncio.run(scenario()) == Visit(cart=["book"])


DOCS = Path(__file__).resolve().parents[2] / "docs" / "typed.md"


def test_the_guide_example_runs_behind_a_real_server() -> None:
    guide = DOCS.read_text(encoding="utf-8")
    section = guide.split("\n## A complete example\n", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None
    namespace: dict[str, Any] = {"__name__": "typed_guide_example"}
    exec(compile(found.group(1), str(DOCS), "exec"), namespace)

    with serve_asgi(namespace["app"]) as url, requests.Session() as browser:
        replies = [
            browser.post(f"{url}/cart/book", timeout=10),
            browser.post(f"{url}/cart/pen", timeout=10),
            browser.post(f"{url}/login/7", timeout=10),
            browser.get(f"{url}/cart", timeout=10),
        ]
    assert [reply.json() for reply in replies] == [
        {"cart": ["book"], "user_id": None},
        {"cart": ["book", "pen"], "user_id": None},
        {"cart": ["book", "pen"], "user_id": 7},
        {"cart": ["book", "pen"], "user_id": 7},
    ]
    assert "set-cookie" not in replies[-1].headers  # reading wrote nothing


# -- properties ----------------------------------------------------------------

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
numbers = st.floats(allow_nan=False, allow_infinity=False)
integers = st.integers(min_value=-(2**63), max_value=2**63)

accounts = st.builds(
    Account,
    user_id=st.none() | integers,
    name=text,
    balance=numbers,
    admin=st.booleans(),
    plan=st.sampled_from(Plan),
    mode=st.sampled_from(["light", "dark"]),
    cart=st.lists(text, max_size=4),
    tags=st.sets(text, max_size=4),
    sizes=st.lists(integers, max_size=4).map(tuple),
    counts=st.dictionaries(text, integers, max_size=4),
    address=st.none() | st.builds(Address, street=text, city=text),
    seen=st.none() | st.datetimes(timezones=st.sampled_from([timezone.utc, None])),
)

json_values = st.recursive(
    st.none() | st.booleans() | integers | numbers | text,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(accounts)
def test_any_instance_round_trips_through_a_stored_record(account: Account) -> None:
    session: dict[str, Any] = {"theme": "dark"}
    TypedView(session, Account).write(account)

    # Through the JSON a store really keeps.
    record = record_from_json(record_to_json(make_record(session)))
    restored = loaded(record.data)
    view = TypedView(restored, Account)
    assert view.read() == account
    assert restored["theme"] == "dark"
    assert view.write(account) == frozenset()


@settings(max_examples=300, deadline=None)
@given(accounts, st.data())
def test_any_json_in_the_stored_keys_loads_by_the_rule_or_names_a_field(
    account: Account, data: st.DataObject
) -> None:
    # Start from what a valid instance stores, then break some keys, drop
    # some, and add a key the class does not know.
    stored: dict[str, Any] = {}
    TypedView(stored, Account).write(account)
    for key in data.draw(st.sets(st.sampled_from(ACCOUNT_KEYS))):
        stored[key] = data.draw(json_values)
    for key in data.draw(st.sets(st.sampled_from(ACCOUNT_KEYS))):
        del stored[key]
    stored["unknown"] = data.draw(json_values)
    session = loaded(stored)
    before = json.dumps(session, sort_keys=True)

    view = TypedView(session, Account)
    failure: SessionDataError | None = None
    try:
        value = view.read()
    except SessionDataError as error:
        failure = error
    if failure is not None:
        assert failure.field in stored
    else:
        defaults = Account()
        for key in ACCOUNT_KEYS:
            if key not in stored:
                assert getattr(value, key) == getattr(defaults, key)
        assert view.write(value) == frozenset()
        assert TypedView(session, Account).read() == value
    assert json.dumps(session, sort_keys=True) == before
    assert not session.is_modified


odd_values = (
    json_values
    | st.sets(integers, max_size=3)
    | st.tuples(text)
    | st.sampled_from([Plan.PRO, Address(), object(), float("inf"), b"x", 2j])
)


@settings(max_examples=300, deadline=None)
@given(accounts, st.sampled_from(ACCOUNT_KEYS), odd_values)
def test_any_value_is_either_stored_faithfully_or_refused(
    account: Account, key: str, value: Any
) -> None:
    session = loaded({"theme": "dark"})
    view = TypedView(session, Account)
    view.write(account)
    before = json.dumps(session, sort_keys=True)

    setattr(account, key, value)
    failure: SerializationError | None = None  # FieldValueError is one
    try:
        view.write(account)
    except SerializationError as error:
        failure = error
    if failure is not None:
        assert failure.path.startswith(key)
        assert json.dumps(session, sort_keys=True) == before
    else:
        assert getattr(TypedView(session, Account).read(), key) == value
