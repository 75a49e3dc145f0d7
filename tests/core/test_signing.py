"""IdSigner: every change to a signed value is a miss, never an exception,
and a list of secrets rotates: the first signs, every one verifies."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from itsdangerous import Signer

from sessions.signing import IdSigner

relaxed = settings(deadline=None)

session_ids = st.from_regex(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}", fullmatch=True)
secrets = st.binary(min_size=1, max_size=40)
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Any character a client could send: the base64 alphabet, the separator,
# "=" padding, other ASCII and text beyond it.
any_character = (
    st.sampled_from(BASE64URL + ".= ")
    | st.characters(max_codepoint=0x7F)
    | st.characters()
)


def signer(*keys: bytes) -> IdSigner:
    return IdSigner(list(keys))


@st.composite
def tampered(draw: st.DrawFn, signed: str) -> str:
    """``signed`` with one character flipped, inserted or deleted, or cut."""
    position = draw(st.integers(min_value=0, max_value=len(signed) - 1))
    change = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
    if change == "flip":
        replacement = draw(any_character.filter(lambda c: c != signed[position]))
        return signed[:position] + replacement + signed[position + 1 :]
    if change == "insert":
        at = draw(st.integers(min_value=0, max_value=len(signed)))
        return signed[:at] + draw(any_character) + signed[at:]
    if change == "delete":
        return signed[:position] + signed[position + 1 :]
    return signed[:position]


@relaxed
@given(secrets, session_ids)
def test_a_signed_id_verifies_to_itself(secret: bytes, session_id: str) -> None:
    ids = signer(secret)
    assert ids.unsign(ids.sign(session_id)) == session_id


@relaxed
@given(secrets, session_ids, st.data())
def test_any_single_change_to_a_signed_value_fails_to_verify(
    secret: bytes, session_id: str, data: st.DataObject
) -> None:
    ids = signer(secret)
    signed = ids.sign(session_id)
    changed = data.draw(tampered(signed))
    assume(changed != signed)
    assert ids.unsign(changed) is None


def test_appending_base64_padding_fails_to_verify() -> None:
    ids = signer(b"k")
    signed = ids.sign("abc")
    assert ids.unsign(signed + "=") is None
    assert ids.unsign(signed + "==") is None


def test_changing_only_the_unused_bits_of_the_last_character_fails_to_verify() -> None:
    ids = signer(b"k")
    signed = ids.sign("abc")
    last = BASE64URL.index(signed[-1])
    # The final character of 32 bytes in base64 carries two spare bits.
    siblings = [BASE64URL[(last & ~3) | low] for low in range(4)]
    for character in siblings:
        if character != signed[-1]:
            assert ids.unsign(signed[:-1] + character) is None


def test_characters_outside_base64_inside_the_signature_fail_to_verify() -> None:
    ids = signer(b"k")
    signed = ids.sign("abc")
    for extra in ["!", " ", "\u00e9", "\u2603", "\x00"]:
        assert ids.unsign(signed[:-3] + extra + signed[-3:]) is None


@relaxed
@given(secrets, session_ids, st.text(max_size=60))
def test_a_signature_in_wrong_base64_fails_to_verify(
    secret: bytes, session_id: str, signature: str
) -> None:
    ids = signer(secret)
    signed = ids.sign(session_id)
    forged = f"{session_id}.{signature}"
    assume(forged != signed)
    assert ids.unsign(forged) is None


@relaxed
@given(secrets, secrets, session_ids)
def test_a_value_signed_with_another_secret_fails_to_verify(
    secret: bytes, other: bytes, session_id: str
) -> None:
    # HMAC pads short keys with zero bytes, so keys that differ only by
    # trailing NULs are one and the same key.
    assume(secret.rstrip(b"\0") != other.rstrip(b"\0"))
    assert signer(secret).unsign(signer(other).sign(session_id)) is None


@relaxed
@example("")
@example(".")
@example("abc")
@example("abc.")
@example(".abc")
@example("abc.\ud800")
@example("\ud800.abc")
@given(st.text(max_size=120))
def test_unsign_never_raises_on_any_text(value: str) -> None:
    assert signer(b"k").unsign(value) is None


@pytest.mark.parametrize("value", ["", ".", "abc", "abc.", "abc..", "abc.!!!!"])
def test_malformed_shapes_are_a_miss(value: str) -> None:
    assert signer(b"k").unsign(value) is None


def test_an_empty_id_with_a_valid_signature_is_a_miss() -> None:
    ids = signer(b"k")
    assert ids.unsign(ids.sign("")) is None


def test_ids_may_contain_dots() -> None:
    ids = signer(b"k")
    assert ids.unsign(ids.sign("a.b.c")) == "a.b.c"


# -- rotation ------------------------------------------------------------------


@relaxed
@given(secrets, secrets, session_ids)
def test_rotation_verifies_values_signed_by_an_old_secret(
    new: bytes, old: bytes, session_id: str
) -> None:
    assert signer(new, old).unsign(signer(old).sign(session_id)) == session_id


@relaxed
@given(secrets, secrets, session_ids)
def test_rotation_signs_with_the_first_secret(
    new: bytes, old: bytes, session_id: str
) -> None:
    assume(new.rstrip(b"\0") != old.rstrip(b"\0"))
    signed = signer(new, old).sign(session_id)
    assert signer(new).unsign(signed) == session_id
    assert signer(old).unsign(signed) is None


def test_a_secret_dropped_from_the_list_no_longer_verifies() -> None:
    signed = signer(b"retired").sign("abc")
    assert signer(b"new", b"current").unsign(signed) is None


def test_no_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        IdSigner([])


# The cookie format is a promise to every browser holding a cookie: the same
# secret must keep producing, and accepting, the same value across releases.
# It is itsdangerous's HMAC key derivation and HMAC-SHA256 signature, both
# with SHA-256, under this salt.
_REFERENCE_SALT = b"sessions.cookie-id"


def reference_signer(secret: bytes) -> Signer:
    return Signer(
        secret,
        salt=_REFERENCE_SALT,
        key_derivation="hmac",
        digest_method=hashlib.sha256,
    )


@relaxed
@given(secrets, session_ids)
def test_the_cookie_format_is_itsdangerous_hmac_sha256(
    secret: bytes, session_id: str
) -> None:
    ours = signer(secret)
    reference = reference_signer(secret)
    assert ours.sign(session_id) == reference.sign(session_id).decode("ascii")
    assert ours.unsign(reference.sign(session_id).decode("ascii")) == session_id
    assert reference.unsign(ours.sign(session_id)) == session_id.encode("ascii")


def test_a_cookie_issued_earlier_still_verifies() -> None:
    # Computed once and pinned here, so a change of format cannot slip by
    # unnoticed even if the reference above were changed with it.
    issued = "sid-123.5MNy3wt2KGq38fOxqvZsU22cZRo2atkw0ZxzCTvHx3I"
    assert signer(b"pinned secret").sign("sid-123") == issued
    assert signer(b"pinned secret").unsign(issued) == "sid-123"
