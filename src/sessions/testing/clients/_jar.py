"""The test clients' cookie jar: what a browser keeps, and what it sends.

It follows the storage model of RFC 6265 section 5.3 (and the parts of its
successor, RFC 6265bis, that browsers enforce today) closely enough for
tests of a session layer: ``Max-Age`` wins over ``Expires``; an attribute
whose value is invalid is ignored, so an earlier valid one of the same name
stands; a cookie whose expiry has passed, or that arrives already expired,
is deleted; ``Domain`` and ``Path`` scope the cookie, with the default path
of the RFC; ``Secure`` cookies travel over ``https`` only, and arrive over
it only, and plain ``http`` cannot overwrite or shadow them; the
``__Secure-`` and ``__Host-`` name prefixes are enforced; lifetimes are
capped at 400 days. Each ``Set-Cookie`` field is read by the library's own
:func:`~sessions.cookies.parse_set_cookie`, and its ``Expires`` date by
:func:`~sessions.cookies.parse_expires`.

Why not :class:`http.cookiejar.CookieJar`: it reads the system clock
itself, so a test that moves a :class:`~sessions.testing.ManualClock` could
not see a cookie expire in it. This jar takes the same clock as the
adapters.

What it leaves out: the public suffix list (a cookie for ``Domain=com`` is
accepted), ``SameSite`` (every request of a test client is same-site) and
``HttpOnly`` (a test client is not a page script; the flag is kept, for
tests to read).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import attrs

from sessions.config import MAX_LIFETIME
from sessions.cookies import SetCookie, parse_expires, parse_set_cookie
from sessions.cycle import path_matches
from sessions.runner import utc_now

__all__ = ["CookieJar", "StoredCookie"]

_LONGEST = timedelta(seconds=MAX_LIFETIME)
_UTC_MIN = datetime.min.replace(tzinfo=timezone.utc)


@attrs.frozen(kw_only=True)
class StoredCookie:
    """One cookie as the jar keeps it.

    Attributes:
        name: The cookie's name.
        value: Its value, exactly as the server sent it.
        domain: The host it was set by (``host_only``), or the domain of its
            ``Domain`` attribute, lower-case, without a leading dot.
        host_only: Sent to ``domain`` alone, not to its subdomains.
        path: Sent only with requests whose path is inside this one.
        expires: When it expires (UTC), or ``None`` for a cookie that ends
            with the browser session.
        secure: Sent over ``https`` only.
        http_only: The server asked that page scripts not see it.
        created: When the jar first stored a cookie of this name, domain and
            path (a replacement keeps the first one's moment, as RFC 6265
            says; it orders cookies of equal path length).
    """

    name: str
    value: str
    domain: str
    host_only: bool
    path: str
    expires: datetime | None
    secure: bool
    http_only: bool
    created: datetime

    def is_expired(self, now: datetime) -> bool:
        """Whether the cookie's lifetime is over at ``now``."""
        return self.expires is not None and self.expires <= now


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def domain_matches(host: str, domain: str) -> bool:
    """RFC 6265 section 5.1.3: ``host`` is ``domain`` or a subdomain of it
    (never for an IP address)."""
    return host == domain or (host.endswith("." + domain) and not _is_ip(host))


def default_path(request_path: str) -> str:
    """RFC 6265 section 5.1.4: the directory of the request path."""
    if not request_path.startswith("/") or request_path.count("/") == 1:
        return "/"
    return request_path[: request_path.rindex("/")]


class CookieJar:
    """The cookies of one browser, for a test client.

    Args:
        host: The host :meth:`set` plants cookies for by default (the test
            client's own host).
        clock: Returns the current moment (timezone-aware); a cookie is gone
            once its expiry is not after it. Pass the clock the application
            runs on.
    """

    def __init__(
        self, *, host: str = "testserver", clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.host = host.lower()
        self.clock = clock
        # By (name, domain, path): the cookie, after a number that orders
        # cookies created at the same moment (a stopped clock makes many).
        self._cookies: dict[tuple[str, str, str], tuple[int, StoredCookie]] = {}
        self._arrivals = 0

    # -- what the server says --------------------------------------------------

    def receive(self, url: str, set_cookie_fields: Iterable[str]) -> None:
        """Store the ``Set-Cookie`` fields of the response to ``url``, in
        order. A field the RFC says to ignore is ignored."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        secure = parts.scheme in ("https", "wss")
        for field in set_cookie_fields:
            try:
                parsed = parse_set_cookie(field)
            except ValueError:
                continue  # no name=value pair: ignored, as a browser does
            self._store(parsed, field, host, parts.path or "/", secure)

    def _store(
        self, cookie: SetCookie, field: str, host: str, path: str, secure: bool
    ) -> None:
        """The storage model of RFC 6265bis section 5.7, step by step."""
        now = self.clock()
        expires = self._expiry(cookie, field, now)

        domain = (cookie.domain or "").lstrip(".").lower()
        if domain:
            if not domain_matches(host, domain):
                return  # a cookie for another site
            host_only = False
        else:
            domain, host_only = host, True
        cookie_path = cookie.path if cookie.path and cookie.path[0] == "/" else None
        cookie_path = cookie_path or default_path(path)

        if cookie.secure and not secure:
            return  # only a secure origin may set a Secure cookie
        if not secure and self._shadows_secure(cookie.name, domain, cookie_path):
            return  # nor overwrite or shadow one, not even to delete it

        # The name prefixes: __Secure- needs Secure (so a secure origin, as
        # checked above); __Host- also needs a host-only cookie whose Path
        # attribute says "/" outright, so that no default path stands in.
        prefix = cookie.name.lower()
        if prefix.startswith(("__secure-", "__host-")) and not cookie.secure:
            return
        if prefix.startswith("__host-") and (not host_only or cookie.path != "/"):
            return

        key = (cookie.name, domain, cookie_path)
        if expires is not None and expires <= now:
            self._cookies.pop(key, None)  # deletes the one it would replace
            return
        self._keep(
            key,
            StoredCookie(
                name=cookie.name,
                value=cookie.value,
                domain=domain,
                host_only=host_only,
                path=cookie_path,
                expires=expires,
                secure=cookie.secure,
                http_only=cookie.http_only,
                created=now,
            ),
        )

    def _shadows_secure(self, name: str, domain: str, path: str) -> bool:
        """Whether a cookie ``name`` for ``domain`` and ``path``, arriving
        over plain ``http``, would overwrite or shadow a live ``Secure``
        cookie: one of the same name whose domain covers this one's (or the
        reverse), and whose path holds this one's path."""
        return any(
            stored.secure
            and stored.name == name
            and (
                domain_matches(domain, stored.domain)
                or domain_matches(stored.domain, domain)
            )
            and path_matches(path, stored.path)
            for stored in self
        )

    def _keep(self, key: tuple[str, str, str], cookie: StoredCookie) -> None:
        """Store ``cookie``; a replacement keeps its predecessor's place."""
        old = self._cookies.get(key)
        if old is None:
            self._arrivals += 1
            self._cookies[key] = (self._arrivals, cookie)
        else:
            arrival, previous = old
            kept = attrs.evolve(cookie, created=previous.created)
            self._cookies[key] = (arrival, kept)

    @staticmethod
    def _expiry(cookie: SetCookie, field: str, now: datetime) -> datetime | None:
        """When the cookie expires: its ``Max-Age`` first, then the last
        readable ``Expires``, never more than 400 days away; ``None`` for a
        session cookie."""
        if cookie.max_age is not None:
            if cookie.max_age <= 0:
                return _UTC_MIN
            return now + timedelta(seconds=min(cookie.max_age, MAX_LIFETIME))
        if cookie.expires is not None:
            moment = parse_expires(cookie.expires)
            if moment is not None:
                return min(moment, now + _LONGEST)
        return None

    # -- what the browser sends --------------------------------------------------

    def cookies_for(self, url: str) -> list[StoredCookie]:
        """The cookies a request to ``url`` carries, in the order a browser
        sends them: longer paths first, then older cookies first."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        path = parts.path or "/"
        secure = parts.scheme in ("https", "wss")
        chosen = [
            cookie
            for cookie in self
            if (
                cookie.domain == host
                if cookie.host_only
                else domain_matches(host, cookie.domain)
            )
            and path_matches(path, cookie.path)
            and (secure or not cookie.secure)
        ]
        # Stable: equally long paths stay in the order of creation.
        chosen.sort(key=lambda cookie: -len(cookie.path))
        return chosen

    def header_for(self, url: str) -> str | None:
        """The ``Cookie`` header a request to ``url`` carries, or ``None``
        when no cookie applies."""
        cookies = self.cookies_for(url)
        if not cookies:
            return None
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in cookies)

    # -- for tests -------------------------------------------------------------

    def _matching(
        self, name: str, domain: str | None, path: str | None
    ) -> list[StoredCookie]:
        return [
            cookie
            for cookie in self
            if cookie.name == name
            and (domain is None or cookie.domain == domain.lstrip(".").lower())
            and (path is None or cookie.path == path)
        ]

    def get(
        self, name: str, *, domain: str | None = None, path: str | None = None
    ) -> str | None:
        """The value of the live cookie ``name`` (narrowed by ``domain`` and
        ``path`` when given), or ``None`` when there is none.

        Raises:
            LookupError: several cookies match; pass ``domain`` or ``path``.
        """
        found = self._matching(name, domain, path)
        if len(found) > 1:
            raise LookupError(
                f"{len(found)} cookies are named {name!r}; pass domain or path "
                "to choose one"
            )
        return found[0].value if found else None

    def set(
        self,
        name: str,
        value: str,
        *,
        domain: str | None = None,
        path: str = "/",
        expires: datetime | None = None,
        secure: bool = False,
        http_only: bool = False,
    ) -> None:
        """Put a cookie in the jar, replacing any of the same name, domain
        and path: what a user (or an attacker) can do to their own browser.

        ``domain`` ``None`` makes a host-only cookie for the jar's host;
        ``expires`` ``None`` a cookie that ends with the browser session.
        """
        host_only = domain is None
        domain = self.host if domain is None else domain.lstrip(".").lower()
        self._keep(
            (name, domain, path),
            StoredCookie(
                name=name,
                value=value,
                domain=domain,
                host_only=host_only,
                path=path,
                expires=None if expires is None else expires.astimezone(timezone.utc),
                secure=secure,
                http_only=http_only,
                created=self.clock(),
            ),
        )

    def delete(
        self, name: str, *, domain: str | None = None, path: str | None = None
    ) -> int:
        """Remove every cookie ``name`` (narrowed by ``domain`` and ``path``
        when given); return how many were removed."""
        found = self._matching(name, domain, path)
        for cookie in found:
            del self._cookies[(cookie.name, cookie.domain, cookie.path)]
        return len(found)

    def clear(self) -> None:
        """Remove every cookie."""
        self._cookies.clear()

    def end_browser_session(self) -> None:
        """Drop the cookies without an expiry, as a browser does when it is
        closed; persistent cookies stay."""
        for key, (_, cookie) in list(self._cookies.items()):
            if cookie.expires is None:
                del self._cookies[key]

    def __iter__(self) -> Iterator[StoredCookie]:
        """The live cookies, in the order they were first stored; expired
        ones are dropped."""
        now = self.clock()
        for key, (_, cookie) in list(self._cookies.items()):
            if cookie.is_expired(now):
                del self._cookies[key]
        ordered = sorted(self._cookies.values(), key=lambda item: item[0])
        return iter([cookie for _, cookie in ordered])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        """Whether a live cookie is named ``name``."""
        return any(cookie.name == name for cookie in self)

    def __repr__(self) -> str:
        shown = ", ".join(f"{c.name}@{c.domain}{c.path}" for c in self)
        return f"CookieJar([{shown}])"
