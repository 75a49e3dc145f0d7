"""Cookie and Set-Cookie headers: parsing hostile input without raising,
and rendering that round-trips and can never inject a header."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sessions.cookies import (
    cookie_values,
    format_http_date,
    is_cookie_value,
    is_token,
    parse_cookie_header,
    parse_expires,
    parse_set_cookie,
    render_set_cookie,
)

# No example may fail for taking long: these tests assert behaviour only.
relaxed = settings(deadline=None)

tokens = st.from_regex(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", fullmatch=True)
cookie_octets = st.from_regex(r"[!#-+\--:<-\[\]-~]*", fullmatch=True)
# What an attribute value may be: printable ASCII without ';' or ',', and no
# space at either end (a parser strips those).
attribute_values = st.from_regex(
    r"[!-+\--:<-~](?:[ -+\--:<-~]*[!-+\--:<-~])?", fullmatch=True
)
injections = st.sampled_from([";", ",", "\r", "\n", "\r\n"]) | st.characters(
    min_codepoint=0x80
)


def values_of(header: str, name: str) -> list[str]:
    """``cookie_values`` computed the slow way, from the full parse."""
    return [value for key, value in parse_cookie_header(header) if key == name]


# -- parsing Cookie headers: examples ------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        'prefs={"a":1}; sid=SIGNED; theme=dark',
        'prefs={"a":1,"b":[2,3]}; sid=SIGNED',
        "flag; sid=SIGNED",
        "a=1;sid=SIGNED;b=2",
        "  a=1 ;  sid=SIGNED  ;b=2 ",
        "sid=SIGNED;",
        "sid=SIGNED; ;; =orphan; b",
        "\ta=1;\tsid=SIGNED\t",
        'sid="SIGNED"',
        "a=1, sid=SIGNED",
        "xsid=other; sidx=other; sid=SIGNED",
        "caf\u00e9=\u00ff\u00fe; sid=SIGNED",
    ],
)
def test_session_cookie_is_found_whatever_its_neighbours(header: str) -> None:
    assert cookie_values([header], "sid") == ["SIGNED"]
    assert values_of(header, "sid") == ["SIGNED"]


def test_pairs_come_back_in_header_order_with_duplicates() -> None:
    header = "sid=old; a=1; sid=new; a=2"
    assert parse_cookie_header(header) == [
        ("sid", "old"),
        ("a", "1"),
        ("sid", "new"),
        ("a", "2"),
    ]
    assert cookie_values([header], "sid") == ["old", "new"]


def test_values_from_several_cookie_fields_keep_field_order() -> None:
    headers = ["a=1; sid=first", "sid=second", "b=2"]
    assert cookie_values(headers, "sid") == ["first", "second"]


def test_pair_without_equals_or_without_name_is_skipped_alone() -> None:
    assert parse_cookie_header("flag; =v; sid=x; =") == [("sid", "x")]


@pytest.mark.parametrize(
    ("header", "value"),
    [("sid=", ""), ('sid=""', ""), ('sid="', '"'), ('sid="a"b"', 'a"b')],
)
def test_empty_and_odd_quoted_values_are_kept_as_sent(header: str, value: str) -> None:
    assert cookie_values([header], "sid") == [value]


def test_values_are_not_percent_decoded() -> None:
    assert cookie_values(["sid=a%20b%zz"], "sid") == ["a%20b%zz"]


def test_thousands_of_backslashes_inside_quotes_are_returned_verbatim() -> None:
    inner = "\\" * 20_000
    assert cookie_values([f'a=1; sid="{inner}"'], "sid") == [inner]


def test_no_cookie_header_means_no_values() -> None:
    assert cookie_values([], "sid") == []
    assert parse_cookie_header("") == []


# -- parsing Cookie headers: properties ----------------------------------------


@relaxed
@given(st.binary(max_size=600))
def test_any_bytes_decoded_as_latin_1_parse_without_raising(raw: bytes) -> None:
    header = raw.decode("latin-1")
    pairs = parse_cookie_header(header)
    assert all(name and "=" not in name for name, _ in pairs)
    assert cookie_values([header], "sid") == values_of(header, "sid")


@relaxed
@given(st.text(max_size=600), tokens)
def test_any_text_parses_without_raising(header: str, name: str) -> None:
    pairs = parse_cookie_header(header)
    assert all(isinstance(key, str) and isinstance(value, str) for key, value in pairs)
    assert cookie_values([header], name) == values_of(header, name)


@settings(deadline=None, max_examples=30)
@given(
    st.lists(
        st.tuples(tokens, cookie_octets) | st.text(max_size=20), min_size=1, max_size=8
    ),
    st.integers(min_value=1000, max_value=4000),
)
def test_huge_headers_with_thousands_of_pairs_parse_completely(
    pieces: list[tuple[str, str] | str], repeat: int
) -> None:
    chunks = [p if isinstance(p, str) else f"{p[0]}={p[1]}" for p in pieces]
    header = "; ".join(chunks * repeat)
    pairs = parse_cookie_header(header)
    good = sum(1 for piece in pieces if not isinstance(piece, str))
    assert len(pairs) >= good * repeat
    assert cookie_values([header], "sid") == values_of(header, "sid")


junk_chunks = st.text(max_size=30).filter(
    lambda chunk: (
        ";" not in chunk
        and "," not in chunk
        and chunk.partition("=")[0].strip(" \t") != "sid"
    )
)


@relaxed
@given(
    st.lists(junk_chunks, max_size=6),
    st.lists(cookie_octets, min_size=1, max_size=3),
    st.data(),
)
def test_session_values_survive_any_malformed_neighbours(
    junk: list[str], session_values: list[str], data: st.DataObject
) -> None:
    chunks = list(junk)
    position = 0
    for value in session_values:
        position = data.draw(st.integers(min_value=position, max_value=len(chunks)))
        chunks.insert(position, f"sid={value}")
        position += 1
    header = ";".join(chunks)
    assert cookie_values([header], "sid") == session_values


# -- rendering and parsing Set-Cookie ------------------------------------------

same_sites = st.sampled_from([None, "Strict", "Lax", "None"])
priorities = st.sampled_from([None, "Low", "Medium", "High"])
# Up to the last second of year 9999, which an IMF-fixdate can still state.
moments = st.integers(min_value=0, max_value=253_402_300_799) | st.floats(
    min_value=0, max_value=253_402_300_799, allow_nan=False
)


@st.composite
def cookie_attributes(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "domain": draw(st.none() | attribute_values),
        "path": draw(st.none() | attribute_values),
        "max_age": draw(st.none() | st.integers(min_value=-(10**9), max_value=10**12)),
        "expires": draw(st.none() | moments),
        "http_only": draw(st.booleans()),
        "secure": draw(st.booleans()),
        "same_site": draw(same_sites),
        "priority": draw(priorities),
        "partitioned": draw(st.booleans()),
    }


ATTRIBUTE_ORDER = (
    ("domain", "domain"),
    ("path", "path"),
    ("max-age", "max_age"),
    ("expires", "expires"),
    ("httponly", "http_only"),
    ("secure", "secure"),
    ("samesite", "same_site"),
    ("priority", "priority"),
    ("partitioned", "partitioned"),
)


@relaxed
@given(tokens, cookie_octets, cookie_attributes())
def test_rendered_set_cookie_parses_back_identically(
    name: str, value: str, attributes: dict[str, Any]
) -> None:
    parsed = parse_set_cookie(render_set_cookie(name, value, **attributes))

    assert parsed.name == name
    assert parsed.value == value
    assert parsed.domain == attributes["domain"]
    assert parsed.path == attributes["path"]
    assert parsed.max_age == attributes["max_age"]
    assert parsed.http_only == attributes["http_only"]
    assert parsed.secure == attributes["secure"]
    assert parsed.same_site == attributes["same_site"]
    assert parsed.priority == attributes["priority"]
    assert parsed.partitioned == attributes["partitioned"]
    expires = attributes["expires"]
    if expires is None:
        assert parsed.expires is None
    else:
        assert parsed.expires is not None
        stated = parsedate_to_datetime(parsed.expires).timestamp()
        assert stated == int(expires)
    present = [
        header_name
        for header_name, argument in ATTRIBUTE_ORDER
        if attributes[argument] is not None and attributes[argument] is not False
    ]
    assert list(parsed.attributes) == present


@relaxed
@example(name="sid", value="v", domain=None, path=" /app")
@example(name="sid", value="v", domain="example.com\t", path=None)
@given(
    name=st.text(max_size=12),
    value=st.text(max_size=12),
    domain=st.none() | st.text(max_size=12),
    path=st.none() | st.text(max_size=12),
)
def test_any_text_is_rendered_faithfully_or_refused(
    name: str, value: str, domain: str | None, path: str | None
) -> None:
    try:
        header = render_set_cookie(name, value, domain=domain, path=path)
    except ValueError:
        return
    assert header.isascii()
    assert "\r" not in header
    assert "\n" not in header
    parsed = parse_set_cookie(header)
    assert (parsed.name, parsed.value) == (name, value)
    assert (parsed.domain, parsed.path) == (domain, path)


@st.composite
def texts_with_an_injection(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    text = draw(base)
    position = draw(st.integers(min_value=0, max_value=len(text)))
    return text[:position] + draw(injections) + text[position:]


@relaxed
@given(st.sampled_from(["name", "value", "domain", "path"]), st.data())
def test_render_refuses_separators_line_breaks_and_non_ascii(
    field: str, data: st.DataObject
) -> None:
    base = {"name": tokens, "value": cookie_octets}.get(field, attribute_values)
    bad = data.draw(texts_with_an_injection(base))
    arguments: dict[str, Any] = {"name": "sid", "value": "v", field: bad}
    with pytest.raises(ValueError, match=r"name|value|Domain|Path"):
        render_set_cookie(**arguments)


@pytest.mark.parametrize(
    "field",
    [{"domain": ""}, {"path": ""}, {"same_site": "none"}, {"priority": "urgent"}],
)
def test_render_refuses_empty_attributes_and_unknown_keywords(
    field: dict[str, Any],
) -> None:
    with pytest.raises(ValueError, match="must"):
        render_set_cookie("sid", "v", **field)


@pytest.mark.parametrize("value", [" /app", "/app ", " "])
def test_render_refuses_attribute_values_with_edge_spaces(value: str) -> None:
    with pytest.raises(ValueError, match="surrounding spaces"):
        render_set_cookie("sid", "v", path=value)


def test_render_puts_attributes_in_the_documented_order() -> None:
    header = render_set_cookie(
        "sid",
        "abc.def",
        domain="example.com",
        path="/app",
        max_age=60,
        expires=60.0,
        http_only=True,
        secure=True,
        same_site="None",
        priority="High",
        partitioned=True,
    )
    assert header == (
        "sid=abc.def; Domain=example.com; Path=/app; Max-Age=60; "
        "Expires=Thu, 01 Jan 1970 00:01:00 GMT; HttpOnly; Secure; "
        "SameSite=None; Priority=High; Partitioned"
    )


def test_http_date_of_the_epoch() -> None:
    assert format_http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert format_http_date(59.999) == "Thu, 01 Jan 1970 00:00:59 GMT"


@pytest.mark.parametrize("header", ["", "novalue", "=v", "; Path=/", "  =x; a=b"])
def test_set_cookie_without_a_leading_pair_is_refused(header: str) -> None:
    with pytest.raises(ValueError, match="name=value"):
        parse_set_cookie(header)


def test_set_cookie_attribute_names_ignore_case_and_the_last_one_wins() -> None:
    parsed = parse_set_cookie("sid=v; path=/a; PATH=/b; HTTPONLY; secure")
    assert parsed.path == "/b"
    assert parsed.http_only
    assert parsed.secure
    assert parsed.attributes == ("path", "path", "httponly", "secure")


@pytest.mark.parametrize(("raw", "max_age"), [("60", 60), ("-1", -1), ("1.5", None)])
def test_set_cookie_max_age_that_is_not_an_integer_is_ignored(
    raw: str, max_age: int | None
) -> None:
    assert parse_set_cookie(f"sid=v; Max-Age={raw}").max_age == max_age


def test_set_cookie_unknown_attributes_are_listed_but_ignored() -> None:
    parsed = parse_set_cookie("sid=v; Comment=hi; Path=/")
    assert parsed.path == "/"
    assert parsed.attributes == ("comment", "path")


# -- the small predicates ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sid", True),
        ("my-cookie_1.x", True),
        ("", False),
        ("a b", False),
        ("a;b", False),
    ],
)
def test_is_token(text: str, expected: bool) -> None:
    assert is_token(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", True), ("abc.DEF-_=", True), ("a b", False), ('a"', False), ("a\\b", False)],
)
def test_is_cookie_value(text: str, expected: bool) -> None:
    assert is_cookie_value(text) is expected


def test_an_invalid_max_age_or_empty_domain_leaves_the_earlier_valid_one() -> None:
    parsed = parse_set_cookie("sid=v; Max-Age=100; Domain=a.test; Max-Age=x; Domain=")
    assert parsed.max_age == 100
    assert parsed.domain == "a.test"


@pytest.mark.parametrize(
    ("raw", "max_age"),
    [("9" * 5000, 2**63 - 1), ("-" + "9" * 5000, -(2**63 - 1)), ("0" * 40 + "7", 7)],
)
def test_a_max_age_of_any_length_parses_clamped_to_64_bits(
    raw: str, max_age: int
) -> None:
    assert parse_set_cookie(f"sid=v; Max-Age={raw}").max_age == max_age


def test_an_unreadable_expires_leaves_the_earlier_readable_one() -> None:
    readable = "Wed, 01 Jan 2031 00:00:00 GMT"
    parsed = parse_set_cookie(f"sid=v; Expires={readable}; Expires=soon")
    assert parsed.expires == readable
    assert parse_set_cookie("sid=v; Expires=soon").expires is None
    assert parse_expires(readable) == datetime(2031, 1, 1, tzinfo=timezone.utc)
