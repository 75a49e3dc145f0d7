"""Field reports, Cookie header parsing: whatever else a ``Cookie`` header
carries, the session cookie in it is found, and nothing in it can cause an
error, a hang or a lookup of an unverified id.

Each test sends many variations to one server and reports every variation
that went wrong at once.
"""

from __future__ import annotations

import pytest

from sessions.cycle import MAX_CANDIDATES, MAX_COOKIE_VALUES
from tests.behaviour.client import Reply
from tests.behaviour.harness import Server

SEEDED = {"user": "ada"}

# -- one malformed neighbour ---------------------------------------------------

MALFORMED = [
    'prefs={"a":1}',
    'prefs={"a":1,"b":[2,3]}',
    "flag",
    "=orphan",
    "=",
    "a=b=c",
    'q="unterminated',
    'q=unterminated"',
    'q="\\"',
    "sp ace=1",
    "x=y z",
    '"quoted name"=1',
    "$Version=1",
    "x=%ZZ%",
    "caf\u00e9=cr\u00e8me",
    "\u00ff\u00fe=\u00ff",
    "x=\\",
    "(comment)",
    "x=a\tb",
    "sid",
    "sidx=1",
    "xsid=1",
    "SID=1",
]
"""Pairs a browser may send next to the session cookie that are not valid
RFC 6265 cookie pairs (or are valid pairs that merely look like it)."""

PLACES = [
    "{bad}; {sid}",
    "{sid}; {bad}",
    "a=1; {bad}; {sid}; b=2",
    "a=1; {sid}; {bad}; b=2",
    "{bad}; {bad}; {sid}; {bad}",
    "{bad};{sid};{bad}",
]
"""Where the malformed pair stands relative to the session cookie."""


def _session(reply: Reply) -> str:
    return reply.session_id if reply.status == 200 else f"status {reply.status}"


def test_f_one_malformed_neighbour_does_not_hide_the_session(server: Server) -> None:
    session_cookie = server.seed(SEEDED, session_id="abc")
    client = server.client()
    wrong: dict[str, str | None] = {}

    for bad in MALFORMED:
        for place in PLACES:
            header = place.replace("{bad}", bad).replace("{sid}", session_cookie)
            reply = client.send("/", [("Cookie", header.encode("latin-1"))])
            if reply.status != 200 or reply.session_id != "abc":
                wrong[header] = _session(reply)

    assert wrong == {}
    assert server.store.ids("get") == ["abc"] * len(MALFORMED) * len(PLACES)


@pytest.mark.parametrize("bad", ['prefs={"a":1}', "flag", "=orphan", "x=%ZZ"])
def test_f_one_malformed_neighbour_in_another_cookie_field(
    server: Server, bad: str
) -> None:
    session_cookie = server.seed(SEEDED, session_id="abc")
    client = server.client()

    before = client.send("/", [("Cookie", bad), ("Cookie", session_cookie)])
    after = client.send("/", [("Cookie", session_cookie), ("Cookie", bad)])

    assert (before.session_id, after.session_id) == ("abc", "abc")


# -- separators and whitespace -------------------------------------------------

SEPARATED = [
    "a=1;{sid};b=2",
    "  a=1 ;  {sid}  ;b=2 ",
    "a=1;\t{sid}\t;b=2",
    "{sid};",
    "{sid}; ",
    "{sid};;",
    ";{sid}",
    ";;{sid};;",
    " ; {sid} ; ",
    "a=1,{sid}",
    "a=1, {sid}, b=2",
    "a=1 ,{sid} ;b=2",
    "{sid},",
    "sid = {value}",
    'sid="{value}"',
    'a=1; sid="{value}"; b=2',
]


def test_f_separators_and_whitespace_around_the_session_cookie(
    server: Server,
) -> None:
    session_cookie = server.seed(SEEDED, session_id="abc")
    value = server.sign("abc")
    client = server.client()
    wrong: dict[str, str | None] = {}

    for shape in SEPARATED:
        header = shape.replace("{sid}", session_cookie).replace("{value}", value)
        reply = client.send("/", [("Cookie", header)])
        if reply.status != 200 or reply.session_id != "abc":
            wrong[header] = _session(reply)

    assert wrong == {}


# -- an empty value ------------------------------------------------------------

EMPTY = ["sid=", 'sid=""', "sid= ", "sid=;", "a=1; sid=", "sid=; a=1", "sid=,"]


def test_f_empty_value_is_never_looked_up(server: Server) -> None:
    server.seed({"user": "someone"}, session_id="")
    client = server.client()

    replies = {header: client.send("/", [("Cookie", header)]) for header in EMPTY}

    assert {header: reply.status for header, reply in replies.items()} == dict.fromkeys(
        EMPTY, 200
    )
    assert all(reply.is_new and reply.data == {} for reply in replies.values())
    assert all(reply.set_cookie_fields == () for reply in replies.values())
    assert server.store.calls == []


@pytest.mark.parametrize("header", ["sid=", 'sid=""', "a=1; sid=; b=2"])
def test_f_empty_value_then_a_write_makes_a_new_id(server: Server, header: str) -> None:
    server.seed({"user": "someone"}, session_id="")

    reply = server.client().send("/?set=n:1", [("Cookie", header)])

    assert reply.session_id != ""
    assert reply.data == {"n": 1}
    assert server.store.ids("set") == [reply.session_id]
    assert server.verify(reply.sent_cookie.value) == reply.session_id
    assert server.store.count("get") == 0
    record = server.store.peek("")
    assert record is not None
    assert record.data == {"user": "someone"}


# -- bytes that do not decode --------------------------------------------------

UNDECODABLE_NEIGHBOURS = [
    b"junk=\xff\xfe",
    b"junk=\xc3\x28",
    b"junk=\xe2\x82",
    b"\xff\xfe=\xff",
    b"junk=%ZZ%",
    b"junk=%E9%",
    b"junk=%C3%28",
    b"junk=%u00e9",
]


def test_f_bytes_that_do_not_decode_in_a_neighbour_are_no_error(server: Server) -> None:
    session_cookie = server.seed(SEEDED, session_id="abc").encode()
    client = server.client()
    wrong: dict[bytes, str | None] = {}

    for junk in UNDECODABLE_NEIGHBOURS:
        for header in (junk + b"; " + session_cookie, session_cookie + b"; " + junk):
            reply = client.send("/", [("Cookie", header)])
            if reply.status != 200 or reply.session_id != "abc":
                wrong[header] = _session(reply)

    assert wrong == {}


def test_f_bytes_that_do_not_decode_in_the_session_value_count_as_absent(
    server: Server,
) -> None:
    server.seed(SEEDED, session_id="abc")
    good = server.sign("abc").encode()
    ident, _, signature = good.rpartition(b".")
    values = [
        b"\xff\xfe." + b"\xc3" * 43,
        ident + b"\xff." + signature,
        ident + b"." + signature[:-1] + b"\xff",
        b"%ZZ",
        b"abc%2E" + signature,
        b"\xc3\x28" + good,
    ]
    client = server.client()

    alone = [client.send("/", [("Cookie", b"sid=" + value)]) for value in values]
    then_good = [
        client.send("/", [("Cookie", b"sid=" + value + b"; sid=" + good)])
        for value in values
    ]

    assert [reply.status for reply in alone + then_good] == [200] * 2 * len(values)
    assert all(reply.is_new for reply in alone)
    assert all(reply.set_cookie_fields == () for reply in alone)
    assert [reply.session_id for reply in then_good] == ["abc"] * len(values)
    assert server.store.ids("get") == ["abc"] * len(values)


# -- hostile size --------------------------------------------------------------


def _pairs(size: int) -> str:
    """About ``size`` characters of ordinary cookie pairs."""
    pairs = (f"cookie{index}=value{index}" for index in range(size))
    text = ""
    for pair in pairs:
        if len(text) >= size:
            break
        text += f"{pair}; "
    return text.rstrip("; ")


HOSTILE = {
    "60 KB of pairs": _pairs(60_000),
    "backslashes in quotes": 'q="' + "\\" * 20_000 + '"',
    "quotes": '"' * 20_000,
    "quoted quotes": 'q="' + '\\"' * 10_000 + '"',
    "semicolons": ";" * 20_000,
    "commas": "," * 20_000,
    "equals signs": "=" * 20_000,
    "one long value": "big=" + "v" * 30_000,
    "session names without values": "sid;" * 5_000,
}


def test_f_hostile_size_is_parsed_or_refused_cleanly(server: Server) -> None:
    session_cookie = server.seed(SEEDED, session_id="abc")
    client = server.client()
    wrong: dict[str, object] = {}

    for noise, text in HOSTILE.items():
        for header in (f"{text}; {session_cookie}", f"{session_cookie}; {text}"):
            reply = client.send("/", [("Cookie", header)])
            if reply.status == 200:
                found = reply.session_id == "abc"
            else:
                # A server may refuse a header this large outright.
                found = reply.status in (400, 413, 431) and not reply.set_cookie_fields
            if not found:
                wrong[noise] = _session(reply)

    assert wrong == {}


def test_f_same_name_thousands_of_times_costs_a_bounded_number_of_lookups(
    server: Server,
) -> None:
    session_cookie = server.seed(SEEDED, session_id="abc")
    forged = "; ".join(server.cookie(f"ghost{index}") for index in range(60))
    unsigned = "; ".join(f"sid=unsigned{index}" for index in range(400))

    ghosts = server.client().send("/", [("Cookie", f"{forged}; {session_cookie}")])
    junk = server.client().send("/", [("Cookie", f"{unsigned}; {session_cookie}")])

    assert (ghosts.status, junk.status) == (200, 200)
    assert ghosts.is_new
    # Values that cannot be signed ids cost nothing and hide nothing.
    assert not junk.is_new
    assert junk.session_id == "abc"
    assert server.store.ids("get") == [
        *(f"ghost{i}" for i in range(MAX_CANDIDATES)),
        "abc",
    ]


# -- the same name twice ---------------------------------------------------------


def test_f_same_name_twice_the_one_the_store_knows_wins(server: Server) -> None:
    valid = server.seed(SEEDED, session_id="abc")
    stale = [server.cookie(f"stale{index}") for index in range(MAX_CANDIDATES)]
    forged = "sid=forged." + "A" * 43  # shaped like a signed id; never verifies
    cases: list[tuple[list[tuple[str, str]], str | None, list[str]]] = [
        # (Cookie fields, the session expected, the ids looked up)
        ([("Cookie", f"{stale[0]}; {valid}")], "abc", ["stale0", "abc"]),
        ([("Cookie", f"{valid}; {stale[0]}")], "abc", ["abc"]),
        ([("Cookie", stale[0]), ("Cookie", valid)], "abc", ["stale0", "abc"]),
        ([("Cookie", f"sid=forged; a=1, {valid}")], "abc", ["abc"]),
        (
            [("Cookie", "; ".join([*stale[:-1], valid]))],
            "abc",
            [f"stale{index}" for index in range(MAX_CANDIDATES - 1)] + ["abc"],
        ),
        (
            [("Cookie", "; ".join([*stale, valid]))],
            None,
            [f"stale{index}" for index in range(MAX_CANDIDATES)],
        ),
        (
            # Values that cannot be signed ids use up nothing.
            [("Cookie", "; ".join(["sid=junk", "sid=", "sid=."] * 100 + [valid]))],
            "abc",
            ["abc"],
        ),
        (
            # Repeats of one forged value cost one signature check.
            [("Cookie", "; ".join([forged] * (MAX_COOKIE_VALUES + 5) + [valid]))],
            "abc",
            ["abc"],
        ),
        ([("Cookie", f"{valid}; {valid}")], "abc", ["abc"]),
    ]
    wrong: dict[object, object] = {}

    for index, (fields, expected, lookups) in enumerate(cases):
        before = len(server.store.ids("get"))
        reply = server.client().send("/", fields)
        loaded = None if reply.is_new else reply.session_id
        looked_up = server.store.ids("get")[before:]
        if (reply.status, loaded, looked_up) != (200, expected, lookups):
            wrong[index] = (reply.status, loaded, looked_up)

    assert wrong == {}


def test_f_same_name_twice_a_write_goes_to_the_session_found(server: Server) -> None:
    valid = server.seed(SEEDED, session_id="abc")
    stale = server.cookie("stale")

    reply = server.client().get("/?set=n:1", cookie=f"{stale}; {valid}")

    assert reply.session_id == "abc"
    assert server.store.ids("set") == ["abc"]
    assert server.verify(reply.sent_cookie.value) == "abc"
    assert server.store.peek("stale") is None
