"""What every test client shares: building requests, the cookie jar,
redirects and the response. Each adapter's module adds only the transport.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import re
from collections.abc import Callable, Coroutine, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, TypeAlias, TypeVar
from urllib.parse import quote, urlencode, urljoin, urlsplit

import attrs
from typing_extensions import Self

from sessions.cookies import SetCookie, is_token, parse_set_cookie
from sessions.runner import utc_now
from sessions.testing.clients._jar import CookieJar

__all__ = [
    "METHODS_WITH_BODY",
    "Client",
    "Headers",
    "LoopClient",
    "Request",
    "Response",
]

_T = TypeVar("_T")

Headers: TypeAlias = "Mapping[str, str] | Iterable[tuple[str, str]]"
"""Request headers: a mapping, or ``(name, value)`` pairs to send a name
more than once."""

# A field value: tab, visible ASCII, space and the bytes 0x80-0xFF.
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_REDIRECTS = (301, 302, 303, 307, 308)
# The methods whose requests carry a body (and its length) even when it is
# empty, as a browser sends them.
METHODS_WITH_BODY = ("POST", "PUT", "PATCH")
# What may stay as it is in a path or a query; everything else is escaped.
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"


@attrs.frozen(kw_only=True)
class Request:
    """One request as a client sends it.

    Attributes:
        method: The method, upper-case.
        url: The absolute URL, escaped.
        headers: Every header field, in order, including the ``Cookie``
            field from the jar.
        body: The body (empty for none).
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def target(self) -> str:
        """The request target: the path, and the query if there is one."""
        parts = urlsplit(self.url)
        path = parts.path or "/"
        return f"{path}?{parts.query}" if parts.query else path


@attrs.frozen(kw_only=True)
class Response:
    """One response, read to the end.

    Attributes:
        status: The status code.
        headers: Every header field, in order, names as sent; values are
            the bytes as sent, read as Latin-1.
        body: The body (empty for a ``HEAD`` request).
        url: The URL that answered.
        history: The redirect responses followed to get here, oldest first.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    url: str
    history: tuple[Response, ...] = ()

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case), in order."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def header(self, name: str, default: str | None = None) -> str | None:
        """The values of header ``name`` joined with ``", "`` as HTTP does,
        or ``default`` without one. Use :attr:`set_cookies` for
        ``Set-Cookie``, whose values must not be joined."""
        values = self.header_values(name)
        return ", ".join(values) if values else default

    @property
    def text(self) -> str:
        """The body decoded with the ``charset`` of ``Content-Type``, or
        UTF-8.

        Raises:
            UnicodeDecodeError: the body is not text in that encoding.
        """
        content_type = self.header("content-type") or ""
        found = re.search(r"charset=\"?([\w.:-]+)", content_type, re.I)
        return self.body.decode(found.group(1) if found else "utf-8")

    def json(self) -> Any:
        """The body parsed as JSON.

        Raises:
            ValueError: the body is not JSON.
        """
        return jsonlib.loads(self.body)

    @property
    def set_cookies(self) -> list[SetCookie]:
        """Every ``Set-Cookie`` field, parsed; one without a ``name=value``
        pair is left out."""
        cookies = []
        for field in self.header_values("set-cookie"):
            try:
                cookies.append(parse_set_cookie(field))
            except ValueError:
                continue
        return cookies

    def set_cookie(self, name: str) -> SetCookie | None:
        """The last ``Set-Cookie`` for cookie ``name``, or ``None``."""
        found = [cookie for cookie in self.set_cookies if cookie.name == name]
        return found[-1] if found else None


_UNSET: Any = object()


def _header_pairs(headers: Headers | None) -> list[tuple[str, str]]:
    """``headers`` as checked ``(name, value)`` pairs.

    Raises:
        ValueError: a name that is not an HTTP token, or a value holding a
            character no header can carry (CR, LF, NUL, other controls, or
            anything beyond Latin-1).
    """
    if headers is None:
        return []
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers)
    for name, value in pairs:
        if not isinstance(name, str) or not is_token(name):
            raise ValueError(f"header name {name!r} is not an HTTP token")
        if not isinstance(value, str) or _FIELD_VALUE.fullmatch(value) is None:
            raise ValueError(
                f"the value of header {name!r} holds a character a header cannot "
                "carry (CR, LF, NUL or another control, or beyond Latin-1)"
            )
    return pairs


def _has(pairs: list[tuple[str, str]], name: str) -> bool:
    return any(key.lower() == name for key, _ in pairs)


class Client:
    """A browser for one application: it sends requests, keeps the cookies
    the application sets in :attr:`cookies`, and sends them back.

    The adapter modules provide the concrete clients; this class holds what
    they share. Every request method returns a :class:`Response` read to the
    end. Use a client as a context manager, or call :meth:`close`.

    Args:
        base_url: ``scheme://host[:port]`` of the application.
        clock: Returns the current moment (timezone-aware), for the jar to
            expire cookies; pass the application's clock.
        max_redirects: How many redirects one request follows at most.

    Raises:
        ValueError: ``base_url`` is not ``http`` or ``https`` with a host
            and nothing after it.
    """

    def __init__(
        self,
        *,
        base_url: str,
        clock: Callable[[], datetime] | None = None,
        max_redirects: int = 20,
    ) -> None:
        parts = urlsplit(base_url)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ValueError(
                f"base_url must be http://host[:port] or https://host[:port], "
                f"not {base_url!r}"
            )
        self.base_url = f"{parts.scheme}://{parts.netloc}"
        self.cookies = CookieJar(host=parts.hostname, clock=clock or utc_now)
        """The browser's cookies; read them, or plant and delete some."""
        self.max_redirects = max_redirects

    # -- requests --------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Headers | None = None,
        body: bytes | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = _UNSET,
        follow_redirects: bool = False,
    ) -> Response:
        """Send one request and return the response.

        The jar's cookies for ``url`` go in a ``Cookie`` field, unless
        ``headers`` hold a ``Cookie`` field of their own: then that one is
        sent instead (on this request only; redirects use the jar). Every
        ``Set-Cookie`` of the response, and of each redirect, reaches the
        jar.

        Args:
            method: The method, for example ``"GET"``.
            url: A path (``"/login?next=/"``), or an absolute URL on this
                client's application. Characters that cannot appear in a URL
                are escaped; escapes already there are kept.
            headers: Header fields to send (see :data:`Headers`).
            body: The raw body.
            data: A form, sent URL-encoded.
            json: A value, sent as JSON.
            follow_redirects: Follow ``3xx`` responses that carry a
                ``Location`` on this application, as a browser does (a
                ``303``, and a ``301``/``302`` after a ``POST``, become a
                ``GET`` without a body).

        Raises:
            ValueError: more than one of ``body``, ``data`` and ``json``;
                a header that cannot be sent; a URL on another site.
            RuntimeError: more than :attr:`max_redirects` redirects.
        """
        if sum(part is not None for part in (body, data)) + (json is not _UNSET) > 1:
            raise ValueError("pass at most one of body, data and json")
        pairs = _header_pairs(headers)
        content = b"" if body is None else bytes(body)
        if data is not None:
            content = urlencode(data).encode("ascii")
            if not _has(pairs, "content-type"):
                pairs.append(("Content-Type", "application/x-www-form-urlencoded"))
        elif json is not _UNSET:
            content = jsonlib.dumps(json).encode("utf-8")
            if not _has(pairs, "content-type"):
                pairs.append(("Content-Type", "application/json"))
        history: list[Response] = []
        method = method.upper()
        target = self._absolute(url)
        explicit_cookie = _has(pairs, "cookie")
        while True:
            sent = list(pairs)
            if not explicit_cookie:
                cookie = self.cookies.header_for(target)
                if cookie is not None:
                    sent.append(("Cookie", cookie))
            request = Request(
                method=method, url=target, headers=tuple(sent), body=content
            )
            status, response_headers, response_body = self._exchange(request)
            response = Response(
                status=status,
                headers=tuple(response_headers),
                body=b"" if method == "HEAD" else response_body,
                url=target,
                history=tuple(history),
            )
            self.cookies.receive(target, response.header_values("set-cookie"))
            location = response.header("location")
            if not follow_redirects or status not in _REDIRECTS or location is None:
                return response
            following = self._same_origin(urljoin(target, location))
            if following is None:
                return response  # another site: a test client cannot go there
            if len(history) == self.max_redirects:
                raise RuntimeError(f"more than {self.max_redirects} redirects")
            history.append(response)
            target = following
            explicit_cookie = False
            pairs = [(key, value) for key, value in pairs if key.lower() != "cookie"]
            if status == 303 or (status in (301, 302) and method == "POST"):
                if method != "HEAD":
                    method = "GET"
                content = b""
                pairs = [
                    (key, value)
                    for key, value in pairs
                    if key.lower() not in ("content-type", "content-length")
                ]

    def get(
        self,
        url: str,
        *,
        headers: Headers | None = None,
        follow_redirects: bool = False,
    ) -> Response:
        """Send a ``GET``; see :meth:`request`."""
        return self.request(
            "GET", url, headers=headers, follow_redirects=follow_redirects
        )

    def head(self, url: str, *, headers: Headers | None = None) -> Response:
        """Send a ``HEAD``; see :meth:`request`."""
        return self.request("HEAD", url, headers=headers)

    def post(
        self,
        url: str,
        *,
        headers: Headers | None = None,
        body: bytes | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = _UNSET,
        follow_redirects: bool = False,
    ) -> Response:
        """Send a ``POST``; see :meth:`request`."""
        return self.request(
            "POST",
            url,
            headers=headers,
            body=body,
            data=data,
            json=json,
            follow_redirects=follow_redirects,
        )

    def put(
        self,
        url: str,
        *,
        headers: Headers | None = None,
        body: bytes | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = _UNSET,
    ) -> Response:
        """Send a ``PUT``; see :meth:`request`."""
        return self.request(
            "PUT", url, headers=headers, body=body, data=data, json=json
        )

    def patch(
        self,
        url: str,
        *,
        headers: Headers | None = None,
        body: bytes | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = _UNSET,
    ) -> Response:
        """Send a ``PATCH``; see :meth:`request`."""
        return self.request(
            "PATCH", url, headers=headers, body=body, data=data, json=json
        )

    def delete(self, url: str, *, headers: Headers | None = None) -> Response:
        """Send a ``DELETE``; see :meth:`request`."""
        return self.request("DELETE", url, headers=headers)

    # -- URLs ------------------------------------------------------------------

    def _same_origin(self, url: str) -> str | None:
        """``url`` escaped, if it is on this client's application."""
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}".lower() != self.base_url.lower():
            return None
        path = quote(parts.path or "/", safe=_SAFE_PATH)
        query = quote(parts.query, safe=_SAFE_QUERY)
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")

    def _absolute(self, url: str) -> str:
        if url.startswith("/") and not url.startswith("//"):
            url = self.base_url + url
        absolute = self._same_origin(url)
        if absolute is None:
            raise ValueError(
                f"{url!r} is not a path or a URL on {self.base_url}; a test client "
                "reaches its own application only"
            )
        return absolute

    # -- the transport, per adapter ----------------------------------------------

    def _exchange(self, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send ``request`` to the application; return the status, the
        header fields and the whole body."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the client holds (servers, event loops)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class LoopClient(Client):
    """A client for an asynchronous application: it owns an event loop and
    runs each request on it to the end, so tests call it like any other
    client. The loop lives as long as the client, so whatever the
    application keeps between requests (connections of an asynchronous
    store, background tasks) stays on one loop.

    It cannot be used from inside a running event loop (an ``async def``
    test); there, use the framework's own asynchronous test client.

    A subclass creates :attr:`_loop` before anything runs on it, and
    implements :meth:`_exchange_async` and :meth:`_shutdown`.
    """

    _loop: asyncio.AbstractEventLoop

    def _run(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Run ``work`` on the client's loop to the end."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._loop.run_until_complete(work)
        work.close()
        raise RuntimeError(
            f"{type(self).__name__} runs its own event loop and cannot be called "
            "from a running one (an async test); use the framework's "
            "asynchronous test client there"
        )

    def _exchange(self, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        return self._run(self._exchange_async(request))

    async def _exchange_async(
        self, request: Request
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        raise NotImplementedError

    async def _shutdown(self) -> None:
        """Stop what the client started on its loop."""

    def close(self) -> None:
        """Stop the application's server, if any, cancel what is left on the
        loop and close it. Closing twice does nothing."""
        loop = self._loop
        if loop.is_closed():
            return
        try:
            self._run(self._shutdown())
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(
                    asyncio.gather(*pending, return_exceptions=True)
                )
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()
