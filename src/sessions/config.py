"""Immutable, validated configuration: :class:`SessionConfig` and
:class:`CookieOptions`.

Every value is checked when the object is built, so a mistake surfaces at
start-up as a :class:`~sessions.errors.ConfigError` naming the field, never
as a malformed header in production. Durations are whole seconds, given as an
``int`` or a :class:`datetime.timedelta`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Literal, TypeAlias, cast

import attrs

from sessions.cookies import Priority, SameSite, is_token, render_set_cookie
from sessions.errors import ConfigError
from sessions.ids import new_session_id

__all__ = [
    "MAX_LIFETIME",
    "PRIORITY_VALUES",
    "SAME_SITE_VALUES",
    "SECURE_VALUES",
    "STORE_OUTAGE_VALUES",
    "UNSET_VALUES",
    "CookieOptions",
    "SessionConfig",
    "name_prefix_needs",
    "session_lifetime",
]

SecureOption: TypeAlias = bool | Literal["auto"]
SameSiteOption: TypeAlias = Literal["strict", "lax", "none", "auto"] | None
PriorityOption: TypeAlias = Literal["low", "medium", "high"] | None
Duration: TypeAlias = int | timedelta

# The values each option with a fixed set of choices accepts.
SECURE_VALUES: tuple[SecureOption, ...] = (True, False, "auto")
SAME_SITE_VALUES: tuple[SameSiteOption, ...] = ("strict", "lax", "none", "auto", None)
PRIORITY_VALUES: tuple[PriorityOption, ...] = ("low", "medium", "high", None)
UNSET_VALUES: tuple[Literal["keep", "destroy"], ...] = ("keep", "destroy")
STORE_OUTAGE_VALUES: tuple[Literal["fail", "read_only"], ...] = ("fail", "read_only")


def name_prefix_needs(name: str) -> dict[str, object]:
    """The cookie attributes the prefix of the cookie ``name`` requires
    (RFC 6265bis section 4.1.3): ``__Secure-`` needs ``secure=True``, and
    ``__Host-`` also ``path="/"`` and no ``domain``; other names need
    nothing. Browsers drop a cookie whose attributes fall short."""
    lowered = name.lower()
    if lowered.startswith("__host-"):
        return {"secure": True, "path": "/", "domain": None}
    if lowered.startswith("__secure-"):
        return {"secure": True}
    return {}


def session_lifetime(idle_timeout: int, max_age: int | None) -> int:
    """How long a session lasts unused, in seconds: ``idle_timeout``, or
    the cookie's ``max_age`` when that is shorter."""
    return idle_timeout if max_age is None else min(idle_timeout, max_age)


_DOMAIN = re.compile(
    r"\.?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
# A path: "/" then printable ASCII except ";", "," and "%". Servers hand the
# request path over percent-decoded, so an escape could never match.
_PATH = re.compile(r"/[!-$&-+\--:<-~]*")

MAX_LIFETIME = 400 * 86400
"""The longest lifetime, in seconds, a cookie or an idle session may have:
400 days, where browsers cap cookie lifetimes."""


def _seconds(field: str, value: object) -> int:
    """Turn an ``int`` or ``timedelta`` into a positive number of seconds."""
    if isinstance(value, timedelta):
        total = value.total_seconds()
        if total != int(total):
            raise ConfigError(field, "must be a whole number of seconds")
        seconds = int(total)
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        raise ConfigError(field, "must be an int number of seconds or a timedelta")
    if seconds > MAX_LIFETIME:
        raise ConfigError(
            field, "must be at most 400 days, the longest browsers keep a cookie"
        )
    if seconds <= 0:
        raise ConfigError(
            field,
            "must be positive (use None for a cookie that ends with the browser)"
            if field == "cookie.max_age"
            else "must be positive",
        )
    return seconds


def _optional_max_age(value: Duration | None) -> int | None:
    return None if value is None else _seconds("cookie.max_age", value)


def _idle_timeout(value: Duration) -> int:
    return _seconds("idle_timeout", value)


def _absolute_timeout(value: Duration | None) -> int | None:
    return None if value is None else _seconds("absolute_timeout", value)


def _touch_after(value: Duration | None) -> int | None:
    return None if value is None else _seconds("touch_after", value)


def _one_of(field: str, allowed: tuple[object, ...]) -> Callable[[Any, Any, Any], None]:
    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        # Compare by type too, so that 1 is not taken for True.
        if not any(
            type(value) is type(option) and value == option for option in allowed
        ):
            shown = ", ".join(repr(option) for option in allowed)
            raise ConfigError(field, f"must be one of {shown}, not {value!r}")

    return check


def _check_path(_instance: Any, _attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or _PATH.fullmatch(value) is None:
        raise ConfigError(
            "cookie.path",
            "must start with '/' and hold only printable ASCII without ';', ',' or '%'",
        )


def _check_domain(_instance: Any, _attribute: Any, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str) or _DOMAIN.fullmatch(value) is None:
        raise ConfigError(
            "cookie.domain", "must be a host name such as 'example.com', or None"
        )


def _check_bool(field: str) -> Callable[[Any, Any, Any], None]:
    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if not isinstance(value, bool):
            raise ConfigError(field, f"must be True or False, not {value!r}")

    return check


_SAME_SITE_HEADER: dict[str, SameSite] = {
    "strict": "Strict",
    "lax": "Lax",
    "none": "None",
}
_PRIORITY_HEADER: dict[str, Priority] = {
    "low": "Low",
    "medium": "Medium",
    "high": "High",
}


@attrs.frozen(kw_only=True)
class CookieOptions:
    """Attributes of the session cookie.

    Attributes:
        path: The ``Path`` attribute, and also a filter: a request whose path
            does not path-match it (RFC 6265 section 5.1.4) gets no session.
        domain: The ``Domain`` attribute, or ``None`` for a host-only cookie.
        http_only: Emit ``HttpOnly`` so page scripts cannot read the cookie.
        secure: ``True`` emits ``Secure`` (and a request that is not secure
            then gets no cookie and no stored session); ``"auto"`` emits it
            exactly when the request is secure; ``False`` never does.
        same_site: ``"strict"``, ``"lax"``, ``"none"``, ``"auto"``
            (``SameSite=None`` on secure requests, ``Lax`` otherwise) or
            ``None`` to omit the attribute. Browsers reject
            ``SameSite=None`` without ``Secure``, so with ``secure="auto"``
            a plain-HTTP response carries ``Lax`` instead.
        max_age: Lifetime of the cookie in seconds. ``None`` (the default)
            makes a browser-session cookie with no ``Max-Age``/``Expires``;
            the server then keeps the session for
            :attr:`SessionConfig.idle_timeout` after its last use.
        partitioned: Emit ``Partitioned`` (CHIPS). Requires a ``Secure``
            cookie; with ``secure="auto"`` it is emitted only on secure
            requests.
        priority: ``"low"``, ``"medium"`` or ``"high"`` for the ``Priority``
            attribute, or ``None`` to omit it.
    """

    path: str = attrs.field(default="/", validator=_check_path)
    domain: str | None = attrs.field(default=None, validator=_check_domain)
    http_only: bool = attrs.field(
        default=True, validator=_check_bool("cookie.http_only")
    )
    secure: SecureOption = attrs.field(
        default="auto", validator=_one_of("cookie.secure", SECURE_VALUES)
    )
    same_site: SameSiteOption = attrs.field(
        default="lax",
        validator=_one_of("cookie.same_site", SAME_SITE_VALUES),
    )
    max_age: int | None = attrs.field(default=None, converter=_optional_max_age)
    partitioned: bool = attrs.field(
        default=False, validator=_check_bool("cookie.partitioned")
    )
    priority: PriorityOption = attrs.field(
        default=None,
        validator=_one_of("cookie.priority", PRIORITY_VALUES),
    )

    def __attrs_post_init__(self) -> None:
        if self.same_site == "none" and self.secure is False:
            raise ConfigError(
                "cookie.same_site",
                "'none' requires cookie.secure=True or 'auto': browsers reject "
                "SameSite=None without Secure",
            )
        if self.partitioned and self.secure is False:
            raise ConfigError(
                "cookie.partitioned", "requires cookie.secure=True or 'auto'"
            )

    def emits_secure(self, request_is_secure: bool) -> bool:
        """Whether the ``Secure`` attribute is sent on this request."""
        if self.secure == "auto":
            return request_is_secure
        return self.secure

    def render(
        self,
        name: str,
        value: str,
        *,
        request_is_secure: bool,
        max_age: int | None,
        expires: float | None,
    ) -> str:
        """Render the ``Set-Cookie`` value for this request.

        ``max_age`` and ``expires`` (a POSIX timestamp) are per response: the
        remaining lifetime of this particular session.
        """
        secure = self.emits_secure(request_is_secure)
        same_site = self.same_site
        if same_site == "auto":
            same_site = "none" if secure else "lax"
        elif same_site == "none" and not secure:
            same_site = "lax"
        return render_set_cookie(
            name,
            value,
            domain=self.domain,
            path=self.path,
            max_age=max_age,
            expires=expires,
            http_only=self.http_only,
            secure=secure,
            same_site=None if same_site is None else _SAME_SITE_HEADER[same_site],
            priority=None if self.priority is None else _PRIORITY_HEADER[self.priority],
            partitioned=self.partitioned and secure,
        )


def _secrets(
    value: str | bytes | Sequence[str | bytes] | None,
) -> tuple[bytes, ...]:
    items: Sequence[str | bytes]
    if value is None:
        raise ConfigError("secret", "is required: pass a secret or a list of them")
    if isinstance(value, (str, bytes)):
        items = [value]
    elif isinstance(value, Sequence):
        items = list(cast("Sequence[str | bytes]", value))
    else:
        raise ConfigError("secret", "must be a string, bytes or a list of them")
    if not items:
        raise ConfigError("secret", "must hold at least one secret")
    secrets: list[bytes] = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            try:
                item = item.encode("utf-8")
            except UnicodeEncodeError:
                raise ConfigError(
                    f"secret[{index}]",
                    "is a string that UTF-8 cannot encode (a lone surrogate); "
                    "pass bytes or valid text",
                ) from None
        if not isinstance(item, bytes) or not item:
            raise ConfigError(
                f"secret[{index}]", "must be a non-empty string or bytes value"
            )
        secrets.append(item)
    return tuple(secrets)


def _check_name(_instance: Any, _attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not is_token(value):
        raise ConfigError("name", "must be a cookie name made of HTTP token characters")


def _check_genid(_instance: Any, _attribute: Any, value: Any) -> None:
    if not callable(value):
        raise ConfigError("genid", "must be a callable that returns a new id")


def _check_cookie(_instance: Any, _attribute: Any, value: Any) -> None:
    if not isinstance(value, CookieOptions):
        raise ConfigError("cookie", "must be a CookieOptions instance")


@attrs.frozen(kw_only=True)
class SessionConfig:
    """Everything that decides how sessions behave; shared by all requests.

    Attributes:
        secret: Required: one secret or a list of them (leaving it out is
            a :class:`~sessions.errors.ConfigError`). The first signs new
            cookies; every one verifies, so a new secret can be put first
            while the old ones keep existing sessions valid.
        name: The cookie name.
        cookie: The cookie's attributes, see :class:`CookieOptions`.
        trust_proxy: Believe the first ``X-Forwarded-Proto`` token when
            deciding whether a request is secure. Turn on only behind a proxy
            that sets that header itself.
        genid: Returns a new session id; called with no arguments. The
            default draws 256 bits from :mod:`secrets`.
        rolling: Re-send the cookie (with a fresh expiry) on every response
            of an existing session, not only when its data changed.
        resave: Write an unchanged existing session back to the store at the
            end of every request. Only useful for stores that cannot refresh
            an expiry on their own.
        save_uninitialized: Store (and send the cookie for) a new session
            even when the handler put nothing in it.
        unset: What happens when the handler detaches the session with
            ``session.detach()``: ``"keep"`` leaves the stored copy as it
            was; ``"destroy"`` deletes it and clears the cookie.
        idle_timeout: How long the store keeps a session whose cookie has no
            ``max_age`` after its last use, in seconds (default one day).
        absolute_timeout: The longest a session may live, in seconds from
            its creation, however busy it is kept (``rolling`` included);
            ``None`` (the default) sets no such limit. The stored expiry and
            the cookie's never reach past it, and a session older than it
            is not loaded.
        touch_after: Skip the store write that only moves an unchanged
            session's expiry when it would move it by less than this many
            seconds; ``None`` (the default) always writes it. The stored
            expiry then trails the last use by up to this much, and a
            re-sent cookie carries the stored expiry, so the two still agree.
        store_outage: What a request does when the store cannot be reached
            to load its session. ``"fail"`` (the default) lets the store's
            error reach the framework (a 5xx). ``"read_only"`` lets the
            request go on with an empty stand-in session
            (``session.is_available`` is ``False``) that sends no cookie;
            changing it still fails the request when it commits. Either way
            no client is told its session is gone.
    """

    secret: tuple[bytes, ...] = attrs.field(default=None, converter=_secrets)
    name: str = attrs.field(default="sid", validator=_check_name)
    cookie: CookieOptions = attrs.field(factory=CookieOptions, validator=_check_cookie)
    trust_proxy: bool = attrs.field(default=False, validator=_check_bool("trust_proxy"))
    genid: Callable[[], str] = attrs.field(
        default=new_session_id, validator=_check_genid
    )
    rolling: bool = attrs.field(default=False, validator=_check_bool("rolling"))
    resave: bool = attrs.field(default=False, validator=_check_bool("resave"))
    save_uninitialized: bool = attrs.field(
        default=False, validator=_check_bool("save_uninitialized")
    )
    unset: Literal["keep", "destroy"] = attrs.field(
        default="keep", validator=_one_of("unset", UNSET_VALUES)
    )
    idle_timeout: int = attrs.field(default=86400, converter=_idle_timeout)
    absolute_timeout: int | None = attrs.field(
        default=None, converter=_absolute_timeout
    )
    touch_after: int | None = attrs.field(default=None, converter=_touch_after)
    store_outage: Literal["fail", "read_only"] = attrs.field(
        default="fail", validator=_one_of("store_outage", STORE_OUTAGE_VALUES)
    )

    def __attrs_post_init__(self) -> None:
        # Browsers silently drop a cookie whose name prefix promises more
        # than its attributes give (RFC 6265bis section 4.1.3).
        needs = name_prefix_needs(self.name)
        cookie = self.cookie
        if needs and cookie.secure is not True:
            raise ConfigError(
                "name",
                f"a {self.name.split('-', 1)[0]}- cookie needs cookie.secure=True",
            )
        if "path" in needs and (cookie.path != "/" or cookie.domain is not None):
            raise ConfigError(
                "name", "a __Host- cookie needs cookie.path='/' and no cookie.domain"
            )
        # A touch_after as long as a lifetime would skip every touch, so
        # a session in steady read-only use would expire under its user.
        touch_after = self.touch_after
        if touch_after is not None:
            shortest = session_lifetime(self.idle_timeout, cookie.max_age)
            if touch_after >= shortest:
                raise ConfigError(
                    "touch_after",
                    f"must be shorter than the session lifetime ({shortest} "
                    "seconds: idle_timeout, or cookie.max_age when smaller), or "
                    "no touch would ever be due",
                )
