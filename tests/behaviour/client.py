"""An HTTP client for the behaviour suite, used as a browser would be.

:class:`Client` keeps a real cookie jar (a :class:`requests.Session`), so
cookies come back on later requests exactly as the server set them. Every
answer is a :class:`Reply` that keeps each ``Set-Cookie`` field separately,
as it arrived on the wire, and parses it with the library's own
:func:`~sessions.cookies.parse_set_cookie`.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import attrs
import requests

from sessions.cookies import SetCookie, parse_set_cookie

__all__ = ["Client", "Reply", "expiry"]

TIMEOUT = 10.0


def expiry(cookie: SetCookie) -> datetime:
    """A ``Set-Cookie``'s ``Expires`` date, which it must have."""
    assert cookie.expires is not None, f"{cookie.name} has no Expires"
    return parsedate_to_datetime(cookie.expires)


@attrs.frozen(kw_only=True)
class Reply:
    """One HTTP response.

    Attributes:
        status: The status code.
        headers: Header values by lower-cased name (repeated fields joined
            with ``", "``); use :attr:`set_cookie_fields` for ``Set-Cookie``.
        set_cookie_fields: Every ``Set-Cookie`` field, in order, unjoined.
        body: The JSON body, or ``None`` when the body is not JSON.
        cookie_name: The session cookie's name.
        history: The redirect responses that led here, oldest first.
    """

    status: int
    headers: Mapping[str, str]
    set_cookie_fields: tuple[str, ...]
    body: dict[str, Any] | None
    cookie_name: str
    history: tuple[Reply, ...] = ()

    @property
    def set_cookies(self) -> list[SetCookie]:
        """Every ``Set-Cookie`` field, parsed."""
        return [parse_set_cookie(field) for field in self.set_cookie_fields]

    @property
    def session_cookies(self) -> list[SetCookie]:
        """The ``Set-Cookie`` fields for the session cookie."""
        return [
            cookie for cookie in self.set_cookies if cookie.name == self.cookie_name
        ]

    @property
    def session_cookie(self) -> SetCookie | None:
        """The session's ``Set-Cookie``, or ``None``; more than one fails."""
        cookies = self.session_cookies
        assert len(cookies) <= 1, f"several session cookies: {self.set_cookie_fields}"
        return cookies[0] if cookies else None

    @property
    def sent_cookie(self) -> SetCookie:
        """The session's ``Set-Cookie``, which must be there."""
        cookie = self.session_cookie
        assert cookie is not None, f"no session cookie in {self.set_cookie_fields}"
        return cookie

    @property
    def date(self) -> datetime:
        """The response's ``Date``."""
        return parsedate_to_datetime(self.headers["date"])

    def dated(self, moment: datetime, seconds: int) -> bool:
        """Whether ``moment`` is ``seconds`` after the response's ``Date``,
        as closely as that header can tell: it has whole seconds, and some
        servers (uvicorn) refresh it only about once a second, so ``moment``
        may be up to one second earlier or two seconds later."""
        offset = moment - self.date - timedelta(seconds=seconds)
        return timedelta(seconds=-1) <= offset <= timedelta(seconds=2)

    def _session_body(self) -> dict[str, Any]:
        assert self.body is not None, f"status {self.status}: no JSON body"
        assert self.body.get("session") is True, f"no session: {self.body}"
        return self.body

    @property
    def has_session(self) -> bool:
        """Whether the handler had a session."""
        assert self.body is not None, f"status {self.status}: no JSON body"
        return self.body.get("session") is True

    @property
    def session_id(self) -> str:
        """The session id as the handler last saw it."""
        session_id: str = self._session_body()["id"]
        return session_id

    @property
    def data(self) -> dict[str, Any]:
        """The session data as the handler left it."""
        data: dict[str, Any] = self._session_body()["data"]
        return data

    @property
    def is_new(self) -> bool:
        """Whether the session was new (not from the store) in the handler."""
        is_new: bool = self._session_body()["is_new"]
        return is_new

    @property
    def max_age(self) -> int | None:
        """``session.cookie.max_age`` as the handler read it."""
        max_age: int | None = self._session_body()["max_age"]
        return max_age


def _json_body(content_type: str | None, content: bytes) -> dict[str, Any] | None:
    if content_type is None or not content_type.startswith("application/json"):
        return None
    body = json.loads(content)
    assert isinstance(body, dict)
    return body


class Client:
    """A browser-like client for one test server.

    Args:
        base_url: The server's ``http://127.0.0.1:<port>``.
        cookie_name: The session cookie's name, for :class:`Reply`.
    """

    def __init__(self, base_url: str, cookie_name: str) -> None:
        self.base_url = base_url
        self.cookie_name = cookie_name
        self.http = requests.Session()

    def _reply(self, response: requests.Response) -> Reply:
        return Reply(
            status=response.status_code,
            headers={name.lower(): value for name, value in response.headers.items()},
            set_cookie_fields=tuple(response.raw.headers.getlist("Set-Cookie")),
            body=_json_body(response.headers.get("Content-Type"), response.content),
            cookie_name=self.cookie_name,
            history=tuple(self._reply(earlier) for earlier in response.history),
        )

    def get(
        self,
        path: str = "/",
        *,
        cookie: str | None = None,
        headers: Mapping[str, str] | None = None,
        follow: bool = False,
    ) -> Reply:
        """``GET path`` with the jar's cookies.

        Args:
            path: The path and query string, e.g. ``"/?set=user:ada"``.
            cookie: A literal ``Cookie`` header sent instead of the jar's.
            headers: Extra request headers.
            follow: Follow redirects (the jar is updated at every step).
        """
        sent = dict(headers or {})
        if cookie is not None:
            sent["Cookie"] = cookie
        response = self.http.get(
            self.base_url + path,
            headers=sent,
            allow_redirects=follow,
            timeout=TIMEOUT,
        )
        return self._reply(response)

    def send(self, path: str, fields: Sequence[tuple[str, str | bytes]]) -> Reply:
        """``GET path`` with exactly ``fields`` as headers, bypassing the jar.

        For what :meth:`get` cannot express: a header field sent twice, or
        bytes that are not valid UTF-8.
        """
        address = urlsplit(self.base_url)
        assert address.hostname is not None
        connection = http.client.HTTPConnection(
            address.hostname, address.port, timeout=TIMEOUT
        )
        try:
            connection.putrequest("GET", path, skip_accept_encoding=True)
            for name, value in fields:
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            content = response.read()
            headers: dict[str, str] = {}
            for name, value in response.getheaders():
                key = name.lower()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            return Reply(
                status=response.status,
                headers=headers,
                set_cookie_fields=tuple(response.headers.get_all("Set-Cookie", [])),
                body=_json_body(response.getheader("Content-Type"), content),
                cookie_name=self.cookie_name,
            )
        finally:
            connection.close()

    @property
    def session_cookie(self) -> str | None:
        """The session cookie's value in the jar, or ``None``."""
        value = self.http.cookies.get(self.cookie_name)
        return value if isinstance(value, str) else None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
