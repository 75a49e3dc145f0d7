"""Session ids: the default factory and the rule every id must follow."""

from __future__ import annotations

import re
import secrets

from sessions.errors import InvalidSessionIdError

__all__ = ["check_session_id", "new_session_id"]

# HTTP token characters: safe in a cookie value without quoting, and free of
# the "." that separates an id from its signature only by convention (the
# signature is split off at the last ".", so ids may contain dots too).
_ID = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}")


def new_session_id() -> str:
    """Return a fresh id carrying 256 random bits (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def check_session_id(value: object) -> str:
    """Return ``value`` if it can serve as a session id, else raise.

    Raises:
        InvalidSessionIdError: ``value`` is not a string of 1 to 256 HTTP
            token characters.
    """
    if not isinstance(value, str) or _ID.fullmatch(value) is None:
        raise InvalidSessionIdError(
            "genid must return a non-empty string of at most 256 HTTP token "
            f"characters; it returned a {type(value).__name__}"
        )
    return value
