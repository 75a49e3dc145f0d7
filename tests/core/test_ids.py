"""Session ids: the default factory and the rule every id must follow."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions import InvalidSessionIdError
from sessions.cookies import is_cookie_value, is_token
from sessions.ids import check_session_id, new_session_id


def test_new_ids_carry_256_bits_as_43_url_safe_characters() -> None:
    session_id = new_session_id()
    assert len(session_id) == 43
    assert check_session_id(session_id) == session_id
    assert is_cookie_value(session_id)


def test_new_ids_differ() -> None:
    assert len({new_session_id() for _ in range(200)}) == 200


@pytest.mark.parametrize("session_id", ["a", "a.b", "x" * 256, "!#$%&'*+-.^_`|~09AZaz"])
def test_ids_of_token_characters_up_to_256_long_are_accepted(session_id: str) -> None:
    assert check_session_id(session_id) == session_id


@pytest.mark.parametrize(
    "value",
    ["", "a;b", "a b", "a,b", "a\r\n", "caf\u00e9", 'a"b', "x" * 257, None, 42, b"abc"],
)
def test_values_that_cannot_travel_in_a_cookie_are_refused(value: object) -> None:
    with pytest.raises(InvalidSessionIdError):
        check_session_id(value)


def test_the_error_names_the_type_but_not_the_value() -> None:
    with pytest.raises(InvalidSessionIdError) as caught:
        check_session_id("secret-looking;value")
    assert "str" in str(caught.value)
    assert "secret-looking" not in str(caught.value)


@settings(deadline=None)
@given(
    st.text(max_size=300)
    | st.from_regex(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{0,300}", fullmatch=True)
)
def test_exactly_the_tokens_of_1_to_256_characters_are_ids(value: str) -> None:
    is_id = 1 <= len(value) <= 256 and is_token(value)
    try:
        accepted = check_session_id(value)
    except InvalidSessionIdError:
        assert not is_id
    else:
        assert is_id
        assert accepted == value
        assert is_cookie_value(accepted)
