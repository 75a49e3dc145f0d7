"""Untrusted cookies: anything that does not verify is no cookie at all (no
store lookup, no error), and a malformed neighbour never hides the session."""

from __future__ import annotations

import pytest

from tests.behaviour.harness import Server

SEEDED = {"user": "ada"}


def _other(character: str) -> str:
    return "B" if character == "A" else "A"


def _tampered(name: str, server: Server) -> str:
    """The session cookie value for ``abc``, damaged as ``name`` says."""
    good = server.sign("abc")
    session_id, _, signature = good.rpartition(".")
    middle = len(signature) // 2
    return {
        "unsigned": session_id,
        "id shortened": f"ab.{signature}",
        "id changed": f"abd.{signature}",
        "signature truncated": good[:-1],
        "signature missing a middle character": (
            f"abc.{signature[:middle]}{signature[middle + 1 :]}"
        ),
        "signature character flipped": (
            f"abc.{signature[:middle]}{_other(signature[middle])}"
            f"{signature[middle + 1 :]}"
        ),
        "last character flipped": good[:-1] + _other(good[-1]),
        "signature padded": good + "=",
        "invalid base64": "abc." + "!" * len(signature),
        "trailing dot": "abc.",
        "lone dot": ".",
        "empty": "",
        "signature alone": "." + signature,
        "signed with another secret": server.sign("abc", secret="another secret"),
    }[name]


TAMPERINGS = [
    "unsigned",
    "id shortened",
    "id changed",
    "signature truncated",
    "signature missing a middle character",
    "signature character flipped",
    "last character flipped",
    "signature padded",
    "invalid base64",
    "trailing dot",
    "lone dot",
    "empty",
    "signature alone",
    "signed with another secret",
]


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_tampered_cookie_is_treated_as_absent(server: Server, tampering: str) -> None:
    server.seed(SEEDED, session_id="abc")
    cookie = f"sid={_tampered(tampering, server)}"

    reply = server.client().get("/", cookie=cookie)

    assert reply.status == 200
    assert reply.is_new
    assert reply.session_id != "abc"
    assert reply.data == {}
    assert reply.set_cookie_fields == ()
    assert server.store.calls == []


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_write_after_tampered_cookie_makes_a_new_session(
    server: Server, tampering: str
) -> None:
    server.seed(SEEDED, session_id="abc")
    cookie = f"sid={_tampered(tampering, server)}"

    reply = server.client().get("/?set=n:1", cookie=cookie)

    assert reply.status == 200
    assert reply.data == {"n": 1}
    assert server.store.count("get") == 0
    assert server.store.ids("set") == [reply.session_id]
    sent = reply.session_cookie
    assert sent is not None
    assert server.verify(sent.value) == reply.session_id != "abc"
    record = server.store.peek("abc")
    assert record is not None
    assert record.data == SEEDED


def test_undecodable_bytes_are_absent_not_an_error(server: Server) -> None:
    server.seed(SEEDED, session_id="abc")
    client = server.client()

    broken = client.send("/", [("Cookie", b"sid=\xff\xfe." + b"\xc3" * 43)])
    neighbour = client.send(
        "/", [("Cookie", b"junk=\xff%ZZ%; " + server.cookie("abc").encode())]
    )

    assert broken.status == 200
    assert broken.is_new
    assert neighbour.status == 200
    assert neighbour.session_id == "abc"
    assert server.store.ids("get") == ["abc"]


MALFORMED_NEIGHBOURS = [
    'prefs={"a":1}; {sid}; theme=dark',
    'prefs={"a":1,"b":2}; {sid}',
    "flag; {sid}",
    "{sid}; flag",
    "=orphan; {sid}",
    "a=1;{sid};b=2",
    "  a=1 ;  {sid}  ;b=2 ",
    "{sid};",
    ";;{sid};;",
    'q="unterminated; {sid}',
]


@pytest.mark.parametrize("header", MALFORMED_NEIGHBOURS)
def test_malformed_neighbour_does_not_hide_the_session(
    server: Server, header: str
) -> None:
    session_cookie = server.seed(SEEDED, session_id="abc")

    reply = server.client().send(
        "/", [("Cookie", header.replace("{sid}", session_cookie))]
    )

    assert reply.status == 200
    assert reply.session_id == "abc"
    assert reply.data == SEEDED


def test_cookie_split_over_two_header_fields(server: Server) -> None:
    session_cookie = server.seed(SEEDED, session_id="abc")

    reply = server.client().send(
        "/", [("Cookie", "theme=dark"), ("Cookie", session_cookie)]
    )

    assert reply.session_id == "abc"


@pytest.mark.parametrize(
    "noise",
    [
        "; ".join(f"c{index}=v{index}" for index in range(4000)),
        'q="' + "\\" * 20000 + '"',
    ],
    ids=["thousands of pairs", "backslashes in quotes"],
)
def test_hostile_header_size_still_finds_the_session(
    server: Server, noise: str
) -> None:
    session_cookie = server.seed(SEEDED, session_id="abc")

    reply = server.client().send("/", [("Cookie", f"{noise}; {session_cookie}")])

    if reply.status == 200:
        assert reply.session_id == "abc"
    else:
        # Refusing a header this large outright is a fine answer too.
        assert reply.status in (400, 413, 431)


def test_duplicate_names_load_the_one_the_store_knows(server: Server) -> None:
    valid = server.seed(SEEDED, session_id="abc")
    stale = server.cookie("stale")

    reply = server.client().get("/", cookie=f"{stale}; {valid}")

    assert reply.session_id == "abc"
    assert reply.data == SEEDED
    assert server.store.ids("get") == ["stale", "abc"]


def test_duplicate_names_skip_unverified_values_without_lookup(
    server: Server,
) -> None:
    valid = server.seed(SEEDED, session_id="abc")

    reply = server.client().get("/", cookie=f"sid=forged.value; {valid}")

    assert reply.session_id == "abc"
    assert server.store.ids("get") == ["abc"]
