"""Hypothesis strategies for testing code built on this library.

Import the module under a short name and draw what your property needs::

    from hypothesis import given
    from sessions.testing import strategies as sst

    @given(config=sst.session_configs(cookie=sst.cookie_options(path="/")))
    def test_my_app_works_with_any_configuration(config): ...

What each strategy promises:

- :func:`cookie_options`, :func:`session_configs`: configurations that
  construct without error, spread over every option.
- :func:`valid_cookie_headers`: ``Cookie`` headers holding exactly one value
  of the session cookie, signed with one of the configuration's secrets:
  it verifies.
- :func:`tampered_cookie_headers`: headers whose session cookie is a signed
  value with one change (or signed with a secret the configuration does not
  have): nothing in them verifies.
- :func:`hostile_cookie_headers`: junk, oversized, non-ASCII, duplicated,
  badly quoted and badly separated headers: nothing in them verifies.
- :func:`request_facts`: the facts an adapter hands the request cycle.
- :func:`session_data`, :func:`json_values`: data a session accepts and
  stores unchanged.

Every strategy that builds a configuration takes keyword arguments that pin
an option: a plain value is used as given, a strategy is drawn from. The
remaining options are drawn so that the combination is valid. Pinned values
the configuration refuses, alone or together, raise its
:class:`~sessions.errors.ConfigError` when the strategy is built; values
drawn from pinned strategies that do not fit the other pinned options are
rejected, and hypothesis draws again.
"""

from __future__ import annotations

import base64
import hashlib
import string
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, TypeVar

import attrs
from hypothesis import reject
from hypothesis import strategies as st

from sessions.config import (
    MAX_LIFETIME,
    PRIORITY_VALUES,
    SAME_SITE_VALUES,
    SECURE_VALUES,
    STORE_OUTAGE_VALUES,
    UNSET_VALUES,
    CookieOptions,
    SessionConfig,
    name_prefix_needs,
    session_lifetime,
)
from sessions.cookies import cookie_values, is_cookie_value, is_token
from sessions.cycle import RequestFacts, path_matches
from sessions.errors import ConfigError
from sessions.ids import check_session_id
from sessions.signing import IdSigner

__all__ = [
    "COOKIE_OCTETS",
    "DEFAULT_MAX_HEADER_SIZE",
    "HUGE",
    "TOKEN_CHARACTERS",
    "CookieHeader",
    "cookie_names",
    "cookie_options",
    "cookie_paths",
    "domains",
    "hostile_cookie_headers",
    "json_values",
    "request_facts",
    "secret_lists",
    "session_configs",
    "session_data",
    "session_ids",
    "signed_cookie_value",
    "tampered_cookie_headers",
    "valid_cookie_headers",
]

_T = TypeVar("_T")

_VISIBLE_ASCII = "".join(map(chr, range(0x21, 0x7F)))

TOKEN_CHARACTERS = "".join(filter(is_token, _VISIBLE_ASCII))
"""The HTTP token characters: what cookie names and session ids are made of."""

COOKIE_OCTETS = "".join(filter(is_cookie_value, _VISIBLE_ASCII))
"""The characters an RFC 6265 cookie value may hold unquoted."""

_BASE64URL = string.ascii_letters + string.digits + "-_"
# Every character an HTTP field value may carry, as a server hands it over
# (bytes as Latin-1): tab, space and visible ASCII, and the bytes 0x80-0xFF.
_ASCII_FIELD_CHARACTERS = "\t " + _VISIBLE_ASCII
_FIELD_CHARACTERS = _ASCII_FIELD_CHARACTERS + "".join(map(chr, range(0x80, 0x100)))
_OWS = " \t"

HUGE = 4097
"""A hostile header is "huge" from this many bytes on: one more than the
4096 bytes browsers allow a cookie."""

DEFAULT_MAX_HEADER_SIZE = 8000
"""The largest hostile header drawn by default, in UTF-8 bytes. aiohttp's
server refuses a header field above 8190 bytes, so every test client can
send a header up to this size."""


# -- pinning options ---------------------------------------------------------------
#
# How a configuration strategy honours its pinned options: the pinned values
# are drawn first, then every other option is drawn from values that fit
# them (a Secure cookie where same_site="none" is pinned, an idle_timeout
# longer than a pinned touch_after, and so on). Plain pinned values that do
# not fit each other are refused when the strategy is built, by building the
# configuration from them and "roomy" values for the rest: values that fit
# anything the configuration accepts on its own. Values drawn from pinned
# strategies that do not fit each other reject the example, so hypothesis
# draws another.

# A Secure cookie on "/" without domain or max_age fits any cookie name and
# any touch_after; 400 days of idle_timeout fit any touch_after.
_ROOMY_COOKIE: dict[str, Any] = {
    "secure": True,
    "path": "/",
    "domain": None,
    "max_age": None,
}
_ROOMY_SESSION: dict[str, Any] = {
    "secret": b"secret",
    "cookie": CookieOptions(**_ROOMY_COOKIE),
    "idle_timeout": MAX_LIFETIME,
}

# The pinned options of each strategy cookie_options() returned, so that
# session_configs() can add what a pinned name or touch_after needs to them.
_COOKIE_PINS: weakref.WeakKeyDictionary[
    st.SearchStrategy[CookieOptions], dict[str, object]
] = weakref.WeakKeyDictionary()


def _check_pinned(pinned: dict[str, object], cls: type, function: str) -> None:
    unknown = sorted(set(pinned) - {field.name for field in attrs.fields(cls)})
    if unknown:
        raise TypeError(
            f"{function}() got options {cls.__name__} does not have: "
            + ", ".join(unknown)
        )


def _plain(pinned: dict[str, object]) -> dict[str, Any]:
    """The pinned options given as values, not strategies."""
    return {
        name: value
        for name, value in pinned.items()
        if not isinstance(value, st.SearchStrategy)
    }


def _refuse_now(function: str, build: Callable[[], object]) -> None:
    """Call ``build``, which builds a configuration from the plain pinned
    values; a :class:`~sessions.errors.ConfigError` it raises is raised
    again, saying the pinned options are to blame."""
    try:
        build()
    except ConfigError as error:
        detail = str(error).removeprefix(f"{error.field}: ")
        raise ConfigError(
            error.field, f"{detail} (options pinned in {function}())"
        ) from None


def _draw_pinned(draw: st.DrawFn, pinned: dict[str, object]) -> dict[str, Any]:
    """The pinned values, with each strategy drawn from."""
    return {
        name: draw(value) if isinstance(value, st.SearchStrategy) else value
        for name, value in pinned.items()
    }


def _fits(make: Callable[..., object], options: dict[str, Any]) -> bool:
    try:
        make(**options)
    except ConfigError:
        return False
    return True


def _finish(
    make: Callable[..., _T],
    options: dict[str, Any],
    pinned: dict[str, Any],
    roomy: dict[str, Any],
) -> _T:
    """``make(**options)``, where ``pinned`` holds the pinned values (drawn)
    and the other options were drawn to fit them.

    When the configuration refuses them, and every pinned value is
    acceptable on its own (beside ``roomy`` values) but not beside the other
    pinned values, the draws of pinned strategies do not fit each other:
    the example is rejected. Any other refusal is raised: a pinned strategy
    drew a value the configuration never accepts.
    """
    try:
        return make(**options)
    except ConfigError:
        alone = all(
            _fits(make, {**roomy, name: value}) for name, value in pinned.items()
        )
        if alone and not _fits(make, {**roomy, **pinned}):
            reject()
        raise


def _draw_free(
    draw: st.DrawFn,
    options: dict[str, Any],
    free: dict[str, Callable[[], st.SearchStrategy[Any]]],
) -> None:
    """Draw, in order, each option of ``free`` that ``options`` lacks."""
    for name, strategy in free.items():
        if name not in options:
            options[name] = draw(strategy())


def _as_seconds(option: str, value: object) -> int | None:
    """A pinned duration of :class:`~sessions.SessionConfig` as the
    configuration reads it: whole seconds, from 1 second to 400 days.
    ``None`` for ``None`` and for a value it refuses (building the
    configuration then raises)."""
    read = getattr(attrs.fields(SessionConfig), option).converter
    try:
        seconds: int | None = read(value)
    except ConfigError:
        return None
    return seconds


def _durations(*, longer_than: int | None = None) -> st.SearchStrategy[int]:
    """Whole seconds up to 400 days, longer than ``longer_than`` where that
    fits."""
    least = 1 if longer_than is None else min(longer_than + 1, MAX_LIFETIME)
    return st.integers(min_value=least, max_value=MAX_LIFETIME)


# -- configurations -----------------------------------------------------------------


def cookie_paths() -> st.SearchStrategy[str]:
    """Valid ``cookie.path`` values: mostly ``"/"``, otherwise one or more
    segments of printable ASCII without ``;``, ``,`` or ``%``."""
    segment = st.text(
        alphabet=[c for c in COOKIE_OCTETS if c not in "/%"],
        min_size=1,
        max_size=8,
    )
    nested = st.lists(segment, min_size=1, max_size=3).map(
        lambda parts: "/" + "/".join(parts)
    )
    return st.one_of(st.just("/"), nested, nested.map(lambda path: path + "/"))


def domains() -> st.SearchStrategy[str]:
    """Valid ``cookie.domain`` values: host names of one to four labels,
    sometimes with a leading dot."""
    label = st.from_regex(
        r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True
    )
    name = st.lists(label, min_size=1, max_size=4).map(".".join)
    return st.one_of(name, name.map(lambda host: "." + host))


def cookie_options(**pinned: object) -> st.SearchStrategy[CookieOptions]:
    """Valid :class:`~sessions.CookieOptions`, over every attribute.

    ``secure`` is ``True``, ``False`` or ``"auto"``; ``same_site`` any of its
    five values (``"none"`` only with a cookie that can be ``Secure``);
    ``max_age`` ``None`` or 1 second to 400 days; ``partitioned`` only with
    a cookie that can be ``Secure``; ``priority`` any of its four values;
    ``domain`` mostly ``None``; ``path`` mostly ``"/"``. The options not
    pinned fit the pinned ones: a pinned ``same_site="none"`` or
    ``partitioned=True`` gets a ``secure`` of ``True`` or ``"auto"``.

    Args:
        **pinned: Options to hold fixed, by name (a value, or a strategy to
            draw it from), for example ``path="/"`` or
            ``secure=st.sampled_from([True, "auto"])``. Draws of pinned
            strategies that do not fit the other pinned options are
            rejected, so hypothesis draws again.

    Raises:
        TypeError: an option that :class:`~sessions.CookieOptions` lacks.
        ConfigError: a pinned value :class:`~sessions.CookieOptions`
            refuses, or pinned values that do not fit each other, such as
            ``same_site="none"`` with ``secure=False``.
    """
    _check_pinned(pinned, CookieOptions, "cookie_options")
    _refuse_now(
        "cookie_options", lambda: CookieOptions(**{**_ROOMY_COOKIE, **_plain(pinned)})
    )
    strategy = _cookie_options(**pinned)
    _COOKIE_PINS[strategy] = dict(pinned)
    return strategy


@st.composite
def _cookie_options(draw: st.DrawFn, /, **pinned: object) -> CookieOptions:
    chosen = _draw_pinned(draw, pinned)
    options = dict(chosen)
    if "secure" not in options:
        needs_secure = options.get("same_site") == "none" or (
            options.get("partitioned") is True
        )
        options["secure"] = draw(
            st.sampled_from(
                [v for v in SECURE_VALUES if v is not False or not needs_secure]
            )
        )
    can_be_secure = options["secure"] is not False
    same_sites = [v for v in SAME_SITE_VALUES if v != "none" or can_be_secure]
    _draw_free(
        draw,
        options,
        {
            "path": cookie_paths,
            "domain": lambda: st.none() | domains(),
            "http_only": st.booleans,
            "same_site": lambda: st.sampled_from(same_sites),
            "max_age": lambda: st.none() | _durations(),
            "partitioned": lambda: st.booleans() if can_be_secure else st.just(False),
            "priority": lambda: st.sampled_from(PRIORITY_VALUES),
        },
    )
    return _finish(CookieOptions, options, chosen, _ROOMY_COOKIE)


def _unprefixed(name: str) -> bool:
    return not name_prefix_needs(name)


def cookie_names(cookie: CookieOptions | None = None) -> st.SearchStrategy[str]:
    """Valid cookie names (HTTP tokens) for a cookie with the attributes
    ``cookie``: the ``__Secure-`` prefix only when ``cookie.secure`` is
    ``True``, ``__Host-`` only when it is also on path ``"/"`` without a
    domain. Without ``cookie``, no prefixed names."""
    plain = st.one_of(
        st.sampled_from(["sid", "session", "connect.sid"]),
        st.text(alphabet=TOKEN_CHARACTERS, min_size=1, max_size=24).filter(_unprefixed),
    )
    if cookie is None or cookie.secure is not True:
        return plain
    prefixes = [
        prefix
        for prefix in ("__Secure-", "__Host-")
        if all(
            getattr(cookie, option) == value
            for option, value in name_prefix_needs(prefix).items()
        )
    ]
    prefixed = st.tuples(st.sampled_from(prefixes), plain).map("".join)
    return st.one_of(plain, prefixed)


def secret_lists() -> st.SearchStrategy[list[str | bytes]]:
    """One to three secrets, each non-empty text or bytes (newest first)."""
    secret = st.one_of(
        st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40),
        st.binary(min_size=1, max_size=40),
    )
    return st.lists(secret, min_size=1, max_size=3)


def session_configs(**pinned: object) -> st.SearchStrategy[SessionConfig]:
    """Valid :class:`~sessions.SessionConfig` objects, over every option.

    Drawn: one to three secrets (text or bytes); a cookie name fitting the
    cookie's attributes (see :func:`cookie_names`); the cookie options of
    :func:`cookie_options`; ``trust_proxy``, ``rolling``, ``resave`` and
    ``save_uninitialized`` on or off; ``unset`` and ``store_outage`` either
    way; ``idle_timeout`` from 1 second to 400 days; ``absolute_timeout``
    ``None`` or the same range; ``touch_after`` ``None`` or shorter than
    the session's lifetime. ``genid`` is the library's default unless
    pinned. The options not pinned fit the pinned ones: a pinned
    ``__Host-`` name gets a ``Secure`` cookie on ``"/"`` without a domain,
    a pinned ``touch_after`` a longer ``idle_timeout`` and ``max_age``.

    Args:
        **pinned: Options to hold fixed, by name (a value, or a strategy to
            draw it from). ``cookie`` may be a :class:`~sessions.CookieOptions`
            or a strategy; a strategy made by :func:`cookie_options`, such as
            ``cookie_options(path="/")``, also gets what a pinned ``name``
            or ``touch_after`` needs for the options it leaves free. A fresh
            id factory per example: ``genid=st.builds(SequentialIds)``.
            Draws of pinned strategies that do not fit the other pinned
            options are rejected, so hypothesis draws again.

    Raises:
        TypeError: an option that :class:`~sessions.SessionConfig` lacks.
        ConfigError: a pinned value :class:`~sessions.SessionConfig`
            refuses, or pinned values that do not fit each other, such as
            ``name="__Host-sid"`` with a cookie on another path, or a
            ``touch_after`` not shorter than a pinned ``idle_timeout``.
    """
    _check_pinned(pinned, SessionConfig, "session_configs")
    cookie_pins = _cookie_pins(pinned.get("cookie"))

    def build() -> SessionConfig:
        plain = _plain(pinned)
        if cookie_pins is not None:
            plain["cookie"] = CookieOptions(**{**_ROOMY_COOKIE, **_plain(cookie_pins)})
        return SessionConfig(**{**_ROOMY_SESSION, **plain})

    _refuse_now("session_configs", build)
    return _session_configs(pinned, cookie_pins)


def _cookie_pins(cookie: object) -> dict[str, object] | None:
    """The pinned options of ``cookie``, when it is a strategy made by
    :func:`cookie_options`; otherwise ``None``."""
    if isinstance(cookie, st.SearchStrategy):
        return _COOKIE_PINS.get(cookie)
    return None


def _cookie_needs(name: object, touch_after: int | None) -> dict[str, object]:
    """What the cookie options need to fit a cookie ``name`` and a
    ``touch_after`` (either may be ``None``)."""
    needs = name_prefix_needs(name) if isinstance(name, str) else {}
    if touch_after is not None:
        needs["max_age"] = st.none() | _durations(longer_than=touch_after)
    return needs


@st.composite
def _session_configs(
    draw: st.DrawFn,
    pinned: dict[str, object],
    cookie_pins: dict[str, object] | None,
) -> SessionConfig:
    # A cookie_options() strategy is drawn after the name and touch_after,
    # with what they need added to its own pins (where its own pins win).
    chosen = _draw_pinned(
        draw,
        {
            name: value
            for name, value in pinned.items()
            if not (name == "cookie" and cookie_pins is not None)
        },
    )
    touch_after = _as_seconds("touch_after", chosen.get("touch_after"))
    options = dict(chosen)
    if "cookie" not in options:
        needs = _cookie_needs(chosen.get("name"), touch_after)
        options["cookie"] = draw(_cookie_options(**{**needs, **(cookie_pins or {})}))
        if cookie_pins is not None:  # drawn from a pinned strategy
            chosen["cookie"] = options["cookie"]
    cookie = options["cookie"]

    _draw_free(
        draw,
        options,
        {
            "name": lambda: cookie_names(
                cookie if isinstance(cookie, CookieOptions) else None
            ),
            "secret": secret_lists,
            "trust_proxy": st.booleans,
            "rolling": st.booleans,
            "resave": st.booleans,
            "save_uninitialized": st.booleans,
            "unset": lambda: st.sampled_from(UNSET_VALUES),
            "store_outage": lambda: st.sampled_from(STORE_OUTAGE_VALUES),
            # Longer than a pinned touch_after (one of 400 days is refused
            # anyway, alone: no idle_timeout can be longer).
            "idle_timeout": lambda: _durations(longer_than=touch_after),
            "absolute_timeout": lambda: st.none() | _durations(),
        },
    )
    if "touch_after" not in options:
        options["touch_after"] = draw(_touch_after(options["idle_timeout"], cookie))
    return _finish(SessionConfig, options, chosen, _ROOMY_SESSION)


def _touch_after(idle_timeout: object, cookie: object) -> st.SearchStrategy[int | None]:
    """``touch_after`` values shorter than the session's lifetime."""
    seconds = _as_seconds("idle_timeout", idle_timeout)
    if seconds is None or not isinstance(cookie, CookieOptions):
        return st.none()  # pinned to something odd: leave the check to the config
    shortest = session_lifetime(seconds, cookie.max_age)
    if shortest < 2:
        return st.none()
    return st.none() | st.integers(min_value=1, max_value=shortest - 1)


# -- cookie headers -----------------------------------------------------------------


def session_ids() -> st.SearchStrategy[str]:
    """Any id a session cookie can carry: 1 to 256 HTTP token characters,
    often in the shape the default ``genid`` makes (43 URL-safe base64
    characters)."""
    default_shape = st.text(alphabet=_BASE64URL, min_size=43, max_size=43)
    return st.one_of(
        default_shape, st.text(alphabet=TOKEN_CHARACTERS, min_size=1, max_size=256)
    )


def signed_cookie_value(
    config: SessionConfig, session_id: str, *, secret_index: int = 0
) -> str:
    """The session cookie value that carries ``session_id``, as the
    application would send it: signed with ``config.secret[secret_index]``
    (by default the first secret, the one that signs new cookies).

    Raises:
        InvalidSessionIdError: ``session_id`` cannot be a session id.
        IndexError: ``config`` has no secret at ``secret_index``.
    """
    check_session_id(session_id)
    return IdSigner([config.secret[secret_index]]).sign(session_id)


@attrs.frozen(kw_only=True)
class CookieHeader:
    """A ``Cookie`` header drawn by one of the cookie header strategies.

    Send :attr:`header` as the request's ``Cookie`` field (the test clients
    send it instead of their jar's cookies), or plant :attr:`value` in a
    client's cookie jar.

    Attributes:
        kind: ``"valid"``, ``"tampered"`` or ``"hostile"``: the strategy that
            drew it.
        header: The whole ``Cookie`` field value.
        value: The session cookie's value inside it (genuine or tampered);
            ``None`` for a hostile header.
        session_id: The id the genuine value carries (``"valid"``) or carried
            before it was changed (``"tampered"``); ``None`` for a hostile
            header.
    """

    kind: Literal["valid", "tampered", "hostile"]
    header: str
    value: str | None
    session_id: str | None


def _verifies(config: SessionConfig, header: str) -> bool:
    """Whether any value of the session cookie in ``header`` verifies."""
    signer = IdSigner(config.secret)
    return any(
        signer.unsign(value) is not None
        for value in cookie_values([header], config.name)
    )


def _neighbours(name: str) -> st.SearchStrategy[list[str]]:
    """Up to four well-formed ``name=value`` pairs of other cookies."""
    pair = st.tuples(
        st.text(alphabet=TOKEN_CHARACTERS, min_size=1, max_size=12).filter(
            lambda other: other != name
        ),
        st.text(alphabet=COOKIE_OCTETS, max_size=24),
    ).map("=".join)
    return st.lists(pair, max_size=4)


@st.composite
def _header_around(draw: st.DrawFn, name: str, value: str) -> str:
    """A header holding ``name=value`` (sometimes with the value in double
    quotes, which RFC 6265 allows) among other cookies."""
    if draw(st.booleans()):
        value = f'"{value}"'
    pairs = draw(_neighbours(name))
    pairs.insert(
        draw(st.integers(min_value=0, max_value=len(pairs))), f"{name}={value}"
    )
    return draw(st.sampled_from(["; ", ";"])).join(pairs)


@st.composite
def valid_cookie_headers(
    draw: st.DrawFn,
    config: SessionConfig,
    *,
    ids: st.SearchStrategy[str] | None = None,
) -> CookieHeader:
    """``Cookie`` headers whose session cookie verifies under ``config``.

    Each holds exactly one value under ``config.name``, signed with one of
    the configuration's secrets (the first, which signs new cookies, or an
    older one kept for rotation), sometimes in double quotes, among up to
    four other cookies. The application accepts the id as a signed id; it
    finds a session only if its store has one under that id.

    Args:
        config: The application's configuration.
        ids: The session ids to sign; by default :func:`session_ids`.
    """
    session_id = draw(ids if ids is not None else session_ids())
    secret_index = draw(st.integers(min_value=0, max_value=len(config.secret) - 1))
    value = signed_cookie_value(config, session_id, secret_index=secret_index)
    return CookieHeader(
        kind="valid",
        header=draw(_header_around(config.name, value)),
        value=value,
        session_id=session_id,
    )


def _changed(draw: st.DrawFn, text: str, alphabet: str) -> str:
    """``text`` with one character replaced by another one of ``alphabet``."""
    at = draw(st.integers(min_value=0, max_value=len(text) - 1))
    other = draw(st.sampled_from([c for c in alphabet if c != text[at]]))
    return f"{text[:at]}{other}{text[at + 1 :]}"


def _shortened(draw: st.DrawFn, text: str) -> str:
    """``text`` cut short by one character or more."""
    return text[: draw(st.integers(min_value=0, max_value=len(text) - 1))]


def _tamper(draw: st.DrawFn, config: SessionConfig, session_id: str, value: str) -> str:
    """``value`` (the genuine signed value of ``session_id``) with one change."""
    signature = value.rpartition(".")[2]
    how = draw(
        st.sampled_from(
            [
                "unsigned",
                "id character changed",
                "id shortened",
                "id extended",
                "signature character changed",
                "signature truncated",
                "signature extended",
                "signature case swapped",
                "signature of another id",
                "signed with another secret",
                "separator changed",
                "value repeated",
                "empty",
            ]
        )
    )
    alphabet = _BASE64URL + "+/=.%"
    if how == "unsigned":
        return session_id
    if how == "id character changed":
        return f"{_changed(draw, session_id, TOKEN_CHARACTERS)}.{signature}"
    if how == "id shortened":
        return f"{_shortened(draw, session_id)}.{signature}"
    if how == "id extended":
        more = draw(st.text(alphabet=TOKEN_CHARACTERS, min_size=1, max_size=4))
        return f"{session_id}{more}.{signature}"
    if how == "signature character changed":
        return f"{session_id}.{_changed(draw, signature, alphabet)}"
    if how == "signature truncated":
        return f"{session_id}.{_shortened(draw, signature)}"
    if how == "signature extended":
        return value + draw(st.text(alphabet=alphabet, min_size=1, max_size=4))
    if how == "signature case swapped" and signature.swapcase() != signature:
        return f"{session_id}.{signature.swapcase()}"
    if how == "signature of another id":
        other = draw(session_ids().filter(lambda other: other != session_id))
        return f"{session_id}.{signed_cookie_value(config, other).rpartition('.')[2]}"
    if how == "signed with another secret":
        secret = draw(
            st.binary(min_size=1, max_size=40).filter(
                lambda key: key not in config.secret
            )
        )
        return IdSigner([secret]).sign(session_id)
    if how == "separator changed":
        separator = draw(st.sampled_from(["", ":", "-", "%2E", "..", ","]))
        return f"{session_id}{separator}{signature}"
    if how == "value repeated":
        return value + value
    return ""  # "empty", and a case swap that would change nothing


@st.composite
def tampered_cookie_headers(
    draw: st.DrawFn,
    config: SessionConfig,
    *,
    ids: st.SearchStrategy[str] | None = None,
) -> CookieHeader:
    """``Cookie`` headers whose session cookie is a genuine signed value with
    one change, so that it never verifies under ``config``.

    The changes: the signature dropped; a character of the id or of the
    signature changed; the id shortened or extended; the signature
    truncated, extended or its case swapped; another id's signature; a
    secret the configuration does not have; the ``.`` separator replaced;
    the value repeated; an empty value. The header holds that one value
    under ``config.name``, sometimes in double quotes, among up to four
    other cookies. No value of ``config.name`` in it verifies (checked on
    every draw).

    Args:
        config: The application's configuration.
        ids: The session ids whose signed values are tampered with; by
            default :func:`session_ids`. Pass ``st.just(session.id)`` to
            tamper with a real session's cookie.
    """
    session_id = draw(ids if ids is not None else session_ids())
    value = signed_cookie_value(config, session_id)
    tampered = _tamper(draw, config, session_id, value)
    header = draw(_header_around(config.name, tampered))
    if _verifies(config, header):  # pragma: no cover - a forged HMAC
        raise AssertionError("a tampered cookie verified; the signing is broken")
    return CookieHeader(
        kind="tampered", header=header, value=tampered, session_id=session_id
    )


@st.composite
def _lookalikes(draw: st.DrawFn) -> str:
    """Text in the shape of a signed id: an id, a ``.`` and the base64 text of
    an HMAC-SHA256 digest nobody computed."""
    session_id = draw(st.text(alphabet=TOKEN_CHARACTERS, min_size=1, max_size=16))
    size = hashlib.sha256().digest_size
    digest = draw(st.binary(min_size=size, max_size=size))
    signature = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return f"{session_id}.{signature}"


def _field_text(
    min_size: int = 0, max_size: int = 40, *, ascii_only: bool = False
) -> st.SearchStrategy[str]:
    alphabet = _ASCII_FIELD_CHARACTERS if ascii_only else _FIELD_CHARACTERS
    return st.text(alphabet=alphabet, min_size=min_size, max_size=max_size)


def _as_received(text: str) -> str:
    """Non-ASCII text as a server hands it over: its UTF-8 bytes as Latin-1."""
    return text.encode("utf-8").decode("latin-1")


@st.composite
def _hostile_chunk(draw: st.DrawFn, name: str) -> str:
    """One piece of a hostile header."""
    how = draw(
        st.sampled_from(
            [
                "junk",
                "junk for the session cookie",
                "lookalike for the session cookie",
                "non-ASCII",
                "quoting",
                "separators",
                "no value",
            ]
        )
    )
    if how == "junk":
        return draw(_field_text())
    if how == "junk for the session cookie":
        return f"{name}={draw(_field_text())}"
    if how == "lookalike for the session cookie":
        return f"{name}={draw(_lookalikes())}"
    if how == "non-ASCII":
        # Beyond ASCII and the C1 controls: letters, symbols, emoji.
        beyond = st.characters(codec="utf-8", min_codepoint=0xA0)
        text = _as_received(draw(st.text(alphabet=beyond, min_size=1, max_size=20)))
        return draw(st.sampled_from([f"{name}={text}", f"{text}={text}", text]))
    if how == "quoting":
        inner = draw(st.text(alphabet=COOKIE_OCTETS, max_size=12))
        return draw(
            st.sampled_from(
                [
                    f'{name}="{inner}',
                    f'{name}={inner}"',
                    f'{name}=""',
                    f'{name}="{inner}"{inner}"',
                    f'"{name}"={inner}',
                    f'{name}=\\"{inner}\\"',
                    f'{name}="\\"',
                ]
            )
        )
    if how == "separators":
        return draw(
            st.sampled_from(
                [";", ";;", ",", ", ,", "=", "==", f"{name}==", f"={name}", "\t;\t"]
            )
        )
    return name  # "no value": the name alone, without "="


def _fit(header: str, max_size: int) -> str:
    """``header`` cut to ``max_size`` UTF-8 bytes, without surrounding
    spaces or tabs (a server strips them), and never empty."""
    encoded = header.encode("utf-8")
    if len(encoded) > max_size:
        # A character cut in two at the end is dropped.
        header = encoded[:max_size].decode("utf-8", "ignore")
    return header.strip(_OWS) or ";"


def hostile_cookie_headers(
    config: SessionConfig, *, max_size: int = DEFAULT_MAX_HEADER_SIZE
) -> st.SearchStrategy[CookieHeader]:
    """``Cookie`` headers no honest browser sends; nothing in them verifies.

    One of:

    - a mix of hostile pieces: random text, random values for
      ``config.name``, values shaped like signed ids with made-up
      signatures, non-ASCII names and values, broken quoting (unbalanced,
      empty, escaped, a quoted name), stray separators (``;;``, ``,``,
      ``=``, ``==``), and names without ``=``;
    - a huge header, of at least :data:`HUGE` bytes: one piece repeated;
    - many duplicates: ``config.name`` up to hundreds of times, with junk
      or lookalike values, as a client probing the server's limits would.

    Every character is one an HTTP field value may carry (tab, visible
    ASCII, space and the bytes 0x80-0xFF; non-ASCII text arrives as its
    UTF-8 bytes read as Latin-1, as servers hand it over). No CR, LF or
    NUL: no transport would deliver them. Never empty, never with spaces
    at either end.

    Args:
        config: The application's configuration.
        max_size: The largest header, in UTF-8 bytes. The default stays
            under aiohttp's limit for one header field; the WSGI and ASGI
            test clients take any size.

    Raises:
        ValueError: ``max_size`` is too small to hold a huge header.
    """
    if max_size < HUGE:
        raise ValueError(f"max_size must be at least {HUGE} bytes")
    return _hostile_cookie_headers(config, max_size)


@st.composite
def _hostile_cookie_headers(
    draw: st.DrawFn, config: SessionConfig, max_size: int
) -> CookieHeader:
    name = config.name
    shape = draw(st.sampled_from(["mix", "huge", "duplicates"]))
    separator = draw(st.sampled_from(["; ", ";", ",", ", ", " ; "]))
    if shape == "mix":
        chunks = draw(st.lists(_hostile_chunk(name), min_size=1, max_size=12))
        header = separator.join(chunks)
    elif shape == "huge":
        # No spaces or tabs, so that nothing is stripped off the ends.
        piece = draw(st.text(alphabet=_VISIBLE_ASCII, min_size=1, max_size=64))
        size = draw(st.integers(min_value=HUGE, max_value=max_size))
        header = (piece * (size // len(piece) + 1))[:size]
    else:
        values = st.one_of(_field_text(0, 12, ascii_only=True), _lookalikes())
        count = draw(st.integers(min_value=2, max_value=400))
        chosen = draw(st.lists(values, min_size=1, max_size=4))
        header = separator.join(
            f"{name}={chosen[index % len(chosen)]}" for index in range(count)
        )
    header = _fit(header, max_size)
    if _verifies(config, header):  # pragma: no cover - a forged HMAC
        raise AssertionError("a hostile cookie verified; the signing is broken")
    return CookieHeader(kind="hostile", header=header, value=None, session_id=None)


# -- request facts ------------------------------------------------------------------


def _request_paths(cookie_path: str | None) -> st.SearchStrategy[str]:
    segment = st.text(
        alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@%",
        min_size=1,
        max_size=8,
    )
    anywhere = st.lists(segment, max_size=4).map(lambda parts: "/" + "/".join(parts))
    if cookie_path is None:
        return anywhere
    base = cookie_path.rstrip("/")
    inside = st.lists(segment, max_size=3).map(
        lambda parts: (base + "/" + "/".join(parts)) if parts else cookie_path
    )
    return st.one_of(
        inside.filter(lambda path: path_matches(path, cookie_path)), anywhere
    )


def _moments() -> st.SearchStrategy[datetime]:
    offsets = st.sampled_from(
        [
            timezone.utc,
            timezone(timedelta(hours=5, minutes=30)),
            timezone(-timedelta(hours=8)),
        ]
    )
    return st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=offsets,
    )


@st.composite
def request_facts(
    draw: st.DrawFn,
    config: SessionConfig | None = None,
    *,
    now: datetime | st.SearchStrategy[datetime] | None = None,
) -> RequestFacts:
    """The :class:`~sessions.RequestFacts` an adapter hands the request
    cycle.

    With ``config``: up to three ``Cookie`` fields, each drawn from
    :func:`valid_cookie_headers`, :func:`tampered_cookie_headers` or
    :func:`hostile_cookie_headers` (at most 1,000 bytes); paths inside and
    outside ``config.cookie.path``. Without: ``Cookie`` fields of arbitrary
    field text and any path. Either way: TLS or not; up to two
    ``X-Forwarded-Proto`` fields, honest (``https``, ``http``, lists) or
    not; ``now`` timezone-aware, between the years 2000 and 2200, in UTC or
    another offset, unless given.

    Args:
        config: The application's configuration, to draw cookies and paths
            that mean something to it.
        now: The moment to use, or a strategy for it.
    """
    if config is None:
        cookie = _field_text(1, 200)
    else:
        cookie = st.one_of(
            valid_cookie_headers(config),
            tampered_cookie_headers(config),
            hostile_cookie_headers(config, max_size=HUGE),
        ).map(lambda drawn: _fit(drawn.header, 1000))
    forwarded = st.one_of(
        st.sampled_from(
            ["https", "http", "HTTPS", " https ", "https, http", "http, https", ""]
        ),
        _field_text(0, 20, ascii_only=True),
    )
    if now is None:
        moment = draw(_moments())
    elif isinstance(now, st.SearchStrategy):
        moment = draw(now)
    else:
        moment = now
    return RequestFacts(
        cookie_headers=tuple(draw(st.lists(cookie, max_size=3))),
        path=draw(_request_paths(None if config is None else config.cookie.path)),
        is_tls=draw(st.booleans()),
        forwarded_proto=tuple(draw(st.lists(forwarded, max_size=2))),
        now=moment,
    )


# -- session data -------------------------------------------------------------------


def json_values(*, max_leaves: int = 25) -> st.SearchStrategy[Any]:
    """Values a session stores and gives back unchanged: ``None``, booleans,
    integers (beyond 64 bits too), finite floats (``-0.0`` included), any
    text a store can encode, and lists and string-keyed dicts of these,
    nested."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(2**256), max_value=2**256),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(alphabet=st.characters(codec="utf-8")),
    )
    keys = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(keys, children, max_size=5),
        ),
        max_leaves=max_leaves,
    )


def session_data(
    *,
    keys: st.SearchStrategy[str] | None = None,
    values: st.SearchStrategy[Any] | None = None,
    max_size: int = 8,
) -> st.SearchStrategy[dict[str, Any]]:
    """Session data: a dict of up to ``max_size`` keys (any text, by
    default) to :func:`json_values` (by default). Every draw passes the
    session's JSON check and comes back from any store as it went in."""
    return st.dictionaries(
        keys if keys is not None else st.text(alphabet=st.characters(codec="utf-8")),
        values if values is not None else json_values(),
        max_size=max_size,
    )
