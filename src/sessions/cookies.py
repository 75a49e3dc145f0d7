"""Reading ``Cookie`` request headers and writing ``Set-Cookie`` headers.

Both directions are written for hostile input:

* Parsing never raises and runs in time linear in the header's length. A
  malformed pair is skipped on its own; it never hides its neighbours. Every
  value of a repeated name is kept, in header order, because browsers send
  ``sid=old; sid=new`` when two cookies differ only by Domain or Path.
* Rendering refuses, with :class:`ValueError`, any name or attribute that
  could smuggle a ``;``, ``,``, CR, LF or a non-ASCII character into the
  header, so no code path can emit a header-injection.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timezone
from email.utils import formatdate, parsedate_to_datetime
from typing import Literal

import attrs

__all__ = [
    "SetCookie",
    "cookie_values",
    "format_http_date",
    "is_cookie_value",
    "is_token",
    "parse_cookie_header",
    "parse_expires",
    "parse_set_cookie",
    "render_set_cookie",
]

# RFC 9110 token characters: what a cookie name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 6265 cookie-octet: printable ASCII except space, DQUOTE, comma,
# semicolon and backslash.
_COOKIE_OCTETS = re.compile(r"[!#-+\--:<-\[\]-~]*")
# An attribute value (Path, Domain): printable ASCII without ";" and ",",
# and no space at either end, which a parser would strip.
_ATTRIBUTE_VALUE = re.compile(r"[!-+\--:<-~](?:[ -+\--:<-~]*[!-+\--:<-~])?")

SameSite = Literal["Strict", "Lax", "None"]
Priority = Literal["Low", "Medium", "High"]

_OWS = " \t"


def is_token(text: str) -> bool:
    """Return whether ``text`` is a valid cookie name (an HTTP token)."""
    return _TOKEN.fullmatch(text) is not None


def is_cookie_value(text: str) -> bool:
    """Return whether ``text`` can be sent as a cookie value unquoted."""
    return _COOKIE_OCTETS.fullmatch(text) is not None


def parse_cookie_header(header: str) -> list[tuple[str, str]]:
    """Split one ``Cookie`` header value into ``(name, value)`` pairs.

    Pairs are separated by ``;``, and also by ``,``: servers join repeated
    ``Cookie`` fields with commas, and no RFC 6265 cookie value holds one.
    Spaces and tabs around names and values are
    dropped; a value wrapped in double quotes loses the quotes (nothing inside
    is unescaped, so no input can make parsing slower than linear). A pair
    without ``=`` or with an empty name is skipped. Order and duplicates are
    preserved. Values are returned exactly as sent: no percent-decoding.
    """
    pairs: list[tuple[str, str]] = []
    for chunk in header.replace(",", ";").split(";"):
        name, sep, value = chunk.partition("=")
        if not sep:
            continue
        name = name.strip(_OWS)
        if not name:
            continue
        value = value.strip(_OWS)
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        pairs.append((name, value))
    return pairs


def cookie_values(headers: Iterable[str], name: str) -> list[str]:
    """Return every value sent for cookie ``name``, in header order.

    ``headers`` holds every ``Cookie`` field of the request (HTTP/2 clients
    send one per cookie). This is the fast path of :func:`parse_cookie_header`
    for a single name: it skips chunks that cannot be that cookie without
    splitting them.
    """
    values: list[str] = []
    for header in headers:
        if name not in header:
            continue
        for chunk in header.replace(",", ";").split(";"):
            if name not in chunk:
                continue
            key, sep, value = chunk.partition("=")
            if not sep or key.strip(_OWS) != name:
                continue
            value = value.strip(_OWS)
            if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
                value = value[1:-1]
            values.append(value)
    return values


def format_http_date(epoch_seconds: float) -> str:
    """Format a POSIX timestamp as an IMF-fixdate, e.g. for ``Expires``."""
    return formatdate(int(epoch_seconds), usegmt=True)


def _check_attribute(name: str, value: str) -> None:
    if not value or _ATTRIBUTE_VALUE.fullmatch(value) is None:
        raise ValueError(
            f"{name} must be non-empty printable ASCII without ';', ',' or "
            "surrounding spaces"
        )


def render_set_cookie(
    name: str,
    value: str,
    *,
    domain: str | None = None,
    path: str | None = None,
    max_age: int | None = None,
    expires: float | None = None,
    http_only: bool = False,
    secure: bool = False,
    same_site: SameSite | None = None,
    priority: Priority | None = None,
    partitioned: bool = False,
) -> str:
    """Render one ``Set-Cookie`` header value.

    Attributes come in a fixed order: ``Domain``, ``Path``, ``Max-Age``,
    ``Expires`` (``expires`` is a POSIX timestamp), then the flags
    ``HttpOnly``, ``Secure``, ``SameSite``, ``Priority``, ``Partitioned``.

    Raises:
        ValueError: the name is not a token, the value has characters outside
            the cookie-octet set, or an attribute value holds ``;``, ``,``,
            a control character or a non-ASCII character, or starts or ends
            with a space.
    """
    if not is_token(name):
        raise ValueError("cookie name must be an HTTP token")
    if not is_cookie_value(value):
        raise ValueError("cookie value holds characters a cookie cannot carry")
    parts = [f"{name}={value}"]
    if domain is not None:
        _check_attribute("Domain", domain)
        parts.append(f"Domain={domain}")
    if path is not None:
        _check_attribute("Path", path)
        parts.append(f"Path={path}")
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if expires is not None:
        parts.append(f"Expires={format_http_date(expires)}")
    if http_only:
        parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    if same_site is not None:
        if same_site not in ("Strict", "Lax", "None"):
            raise ValueError("SameSite must be Strict, Lax or None")
        parts.append(f"SameSite={same_site}")
    if priority is not None:
        if priority not in ("Low", "Medium", "High"):
            raise ValueError("Priority must be Low, Medium or High")
        parts.append(f"Priority={priority}")
    if partitioned:
        parts.append("Partitioned")
    return "; ".join(parts)


@attrs.frozen(kw_only=True)
class SetCookie:
    """A ``Set-Cookie`` header value taken apart by :func:`parse_set_cookie`.

    ``expires`` is the header's date text as sent; ``attributes`` holds the
    attribute names in the order they appeared, lower-cased.
    """

    name: str
    value: str
    domain: str | None = None
    path: str | None = None
    max_age: int | None = None
    expires: str | None = None
    http_only: bool = False
    secure: bool = False
    same_site: str | None = None
    priority: str | None = None
    partitioned: bool = False
    attributes: tuple[str, ...] = ()


_MAX_AGE = re.compile(r"-?[0-9]+")
_INT64_MAX = 2**63 - 1


def _saturated_int(digits: str) -> int:
    """``digits`` (an optional ``-`` and decimal digits) as an int clamped to
    64 bits, without converting thousands of digits."""
    negative = digits.startswith("-")
    magnitude = digits.lstrip("-").lstrip("0")
    value = (
        _INT64_MAX if len(magnitude) > 19 else min(int(magnitude or "0"), _INT64_MAX)
    )
    return -value if negative else value


_UTC_MIN = datetime.min.replace(tzinfo=timezone.utc)
_UTC_MAX = datetime.max.replace(tzinfo=timezone.utc)


def parse_expires(text: str) -> datetime | None:
    """An ``Expires`` attribute's date, in UTC; ``None`` when it cannot be
    read. A date without a zone counts as UTC; one so near year 1 or 9999
    that its zone moves it out of range is the earliest or latest moment."""
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        return _UTC_MIN if moment.year == 1 else _UTC_MAX


def parse_set_cookie(header: str) -> SetCookie:
    """Parse a ``Set-Cookie`` header value (RFC 6265 section 5.2, leniently).

    Unknown attributes are ignored; when an attribute repeats, the last one
    wins. A ``Max-Age`` that is not an integer, an ``Expires`` that
    :func:`parse_expires` cannot read and a ``Domain`` that is empty are
    ignored, so an earlier valid one stands (``expires`` keeps the text of
    the last readable date). A ``Max-Age`` too
    long for a 64-bit integer counts as the largest (or, negative, the
    smallest) one.

    Raises:
        ValueError: the header has no ``name=value`` pair first.
    """
    first, *rest = header.split(";")
    name, sep, value = first.partition("=")
    name = name.strip(_OWS)
    if not sep or not name:
        raise ValueError("Set-Cookie header does not start with name=value")
    found: dict[str, str | None] = {}
    order: list[str] = []
    max_age: int | None = None
    for chunk in rest:
        key, has_value, attribute_value = chunk.partition("=")
        key = key.strip(_OWS).lower()
        if not key:
            continue
        order.append(key)
        text = attribute_value.strip(_OWS) if has_value else None
        if key == "max-age":
            if text is not None and _MAX_AGE.fullmatch(text):
                max_age = _saturated_int(text)
            continue
        if key == "domain" and not text:
            continue
        if key == "expires" and (text is None or parse_expires(text) is None):
            continue
        found[key] = text
    return SetCookie(
        name=name,
        value=value.strip(_OWS),
        domain=found.get("domain"),
        path=found.get("path"),
        max_age=max_age,
        expires=found.get("expires"),
        http_only="httponly" in found,
        secure="secure" in found,
        same_site=found.get("samesite"),
        priority=found.get("priority"),
        partitioned="partitioned" in found,
        attributes=tuple(order),
    )
