"""Session records and their JSON form: exact round trips, aware timestamps,
and a SerializationError naming the path of anything JSON would change."""

from __future__ import annotations

import enum
import json
import math
from collections import OrderedDict, defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions import SerializationError, SessionRecord
from sessions.records import (
    MAX_DEPTH,
    canonical_json,
    check_json_data,
    record_from_json,
    record_to_json,
)

from .support import NOW, make_record

relaxed = settings(deadline=None)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
json_data = st.dictionaries(st.text(max_size=8), json_values, max_size=6)
aware_moments = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(9998, 1, 1),
    timezones=st.sampled_from(
        [
            timezone.utc,
            timezone(timedelta(hours=2)),
            timezone(timedelta(hours=-9, minutes=-30)),
        ]
    ),
)


class Colour(enum.IntEnum):
    RED = 1


class Mood(enum.Enum):
    CALM = "calm"


class Tag(str, enum.Enum):
    NEW = "new"


# -- round trips ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path"),
    [({"name": "Zo\udce9"}, "name"), ({"list": ["ok", "\ud800"]}, "list[1]")],
)
def test_a_lone_surrogate_is_refused_with_its_path(
    data: dict[str, Any], path: str
) -> None:
    with pytest.raises(SerializationError, match="surrogate") as caught:
        check_json_data(data)
    assert caught.value.path == path


def test_data_nested_deeper_than_the_limit_is_refused_with_its_path() -> None:
    deep: list[Any] = []
    inner = deep
    for _ in range(MAX_DEPTH):
        inner.append([])
        inner = inner[0]
    with pytest.raises(SerializationError, match="deeper") as caught:
        check_json_data({"deep": deep})
    assert caught.value.path.startswith("deep[0]")


def test_data_at_the_depth_limit_is_accepted() -> None:
    deep: list[Any] = []
    inner = deep
    for _ in range(MAX_DEPTH - 2):
        inner.append([])
        inner = inner[0]
    check_json_data({"deep": deep})


def test_a_list_that_contains_itself_is_refused_not_a_recursion_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(SerializationError):
        check_json_data({"loop": loop})


def test_an_integer_too_long_for_json_is_refused() -> None:
    with pytest.raises(SerializationError, match="digits") as caught:
        check_json_data({"big": 10**5000})
    assert caught.value.path == "big"


def test_a_key_with_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(SerializationError, match="surrogate"):
        check_json_data({"\udc80": 1})


@relaxed
@given(json_data, aware_moments, aware_moments, st.none() | st.integers(1, 10**9))
def test_any_json_safe_record_round_trips_exactly(
    data: dict[str, Any], expires: datetime, created: datetime, max_age: int | None
) -> None:
    record = SessionRecord(data=data, expires=expires, max_age=max_age, created=created)
    back = record_from_json(record_to_json(record))
    assert back == record
    assert json.dumps(back.data, sort_keys=True) == json.dumps(data, sort_keys=True)
    assert back.expires.tzinfo is not None
    assert back.created.tzinfo is not None


def test_expiry_comes_back_aware_in_utc_at_the_same_instant() -> None:
    paris = timezone(timedelta(hours=1))
    expires = datetime(2030, 1, 1, 13, 0, 0, 123456, tzinfo=paris)
    back = record_from_json(record_to_json(make_record(expires=expires)))
    assert back.expires == expires
    assert back.expires.utcoffset() == timedelta(0)
    assert back.expires.microsecond == 123456


@pytest.mark.parametrize("max_age", [None, 1, 2_592_000])
def test_original_max_age_survives_the_round_trip(max_age: int | None) -> None:
    back = record_from_json(record_to_json(make_record(max_age=max_age)))
    assert back.max_age == max_age


def test_keys_named_like_session_methods_are_plain_data() -> None:
    data = {"save": 1, "destroy": [2], "cookie": {"max_age": 3}, "v": 4}
    back = record_from_json(record_to_json(make_record(data)))
    assert back.data == data


def test_record_json_is_compact_versioned_and_readable_text() -> None:
    text = record_to_json(make_record({"name": "Zoë"}))
    document = json.loads(text)
    assert document["v"] == 1
    assert document["data"] == {"name": "Zoë"}
    assert " " not in text.replace("Zoë", "")
    assert "Zoë" in text


def test_record_from_json_accepts_utf_8_bytes() -> None:
    record = make_record({"name": "Zoë"})
    assert record_from_json(record_to_json(record).encode("utf-8")) == record


# -- reading what is not a record ----------------------------------------------


def record_document(**changes: Any) -> str:
    document = json.loads(record_to_json(make_record()))
    document.update(changes)
    return json.dumps({k: v for k, v in document.items() if v is not ...})


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[1, 2]",
        "null",
        record_document(v=...),
        record_document(v=2),
        record_document(expires="2030-01-01T12:00:00"),
        record_document(expires=1893499200),
        record_document(created="yesterday"),
        record_document(data=[1, 2]),
        record_document(data=...),
        record_document(max_age="sixty"),
    ],
)
def test_text_that_is_not_a_record_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid session record"):
        record_from_json(text)


# -- is_expired ----------------------------------------------------------------


def test_record_is_expired_from_its_expiry_on() -> None:
    record = make_record(expires=NOW)
    assert not record.is_expired(NOW - timedelta(microseconds=1))
    assert record.is_expired(NOW)
    assert record.is_expired(NOW + timedelta(seconds=1))


# -- refusing what JSON would change -------------------------------------------


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"tags": {"a", "b"}}, "tags"),
        ({"point": (1, 2)}, "point"),
        ({"seen": datetime(2030, 1, 1, tzinfo=timezone.utc)}, "seen"),
        ({"day": date(2030, 1, 1)}, "day"),
        ({"price": Decimal("1.10")}, "price"),
        ({"counts": {1: "one"}}, "counts"),
        ({"ratio": math.nan}, "ratio"),
        ({"ratio": math.inf}, "ratio"),
        ({"ratio": -math.inf}, "ratio"),
        ({"colour": Colour.RED}, "colour"),
        ({"mood": Mood.CALM}, "mood"),
        ({"tag": Tag.NEW}, "tag"),
        ({"raw": b"bytes"}, "raw"),
        ({"cart": [{"id": 1}, {"id": 2}, {"added": {1, 2}}]}, "cart[2].added"),
        ({"deep": {"er": [[0, (1,)]]}}, "deep.er[0][1]"),
        ({"ordered": OrderedDict(a=1)}, "ordered"),
        ({"counts": defaultdict(int)}, "counts"),
        ({"keyed": {Tag.NEW: 1}}, "keyed"),
    ],
)
def test_values_json_would_change_are_refused_naming_the_path(
    data: dict[str, Any], path: str
) -> None:
    with pytest.raises(SerializationError) as caught:
        check_json_data(data)
    assert caught.value.path == path
    assert f"session[{path}]" in str(caught.value)


def test_record_to_json_refuses_unsafe_data() -> None:
    with pytest.raises(SerializationError) as caught:
        record_to_json(make_record({"tags": {"x"}}))
    assert caught.value.path == "tags"


def test_serialization_error_is_a_type_error() -> None:
    assert issubclass(SerializationError, TypeError)


@relaxed
@given(json_data)
def test_json_safe_data_is_accepted(data: dict[str, Any]) -> None:
    check_json_data(data)
    assert json.loads(canonical_json(data)) == data


# -- canonical JSON ------------------------------------------------------------


def test_canonical_json_ignores_insertion_order() -> None:
    assert canonical_json({"a": 1, "b": {"x": 1, "y": 2}}) == canonical_json(
        {"b": {"y": 2, "x": 1}, "a": 1}
    )


def test_canonical_json_sees_a_change_deep_inside() -> None:
    data: dict[str, Any] = {"cart": [{"items": [1]}]}
    before = canonical_json(data)
    data["cart"][0]["items"].append(2)
    assert canonical_json(data) != before


def test_canonical_json_refuses_nan() -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json({"x": math.nan})
