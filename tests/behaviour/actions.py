"""What a behaviour-suite handler does, read from the request's query string.

Every adapter's test application runs the same handler logic: the query
string names, in order, what to do to the session, and a few switches shape
the response. Keeping that description here, free of any framework, is what
lets one set of tests drive every adapter.

Session actions, applied in the order they appear::

    set=key:value       session[key] = value (value read as JSON if it parses,
                        else kept as a string: set=n:1 stores 1, set=u:ada "ada")
    append=key:value    session[key].append(value), in place (a missing key
                        starts as an empty list); a dotted key reaches into
                        nested dicts: append=a.b:1 is session["a"]["b"].append(1)
    update={"k": 1}     session.update(<JSON object>)
    merge={"k": 1}      session |= <JSON object>
    setdefault=key:v    session.setdefault(key, value)
    set_object=key:kind session[key] = a value JSON cannot carry: kind is set,
                        tuple, bytes or datetime
    delete=key          del session[key]
    pop=key             session.pop(key)
    clear=1             session.clear()
    regenerate=1        session.regenerate()
    regenerate_keep=1   session.regenerate(keep_data=True)
    destroy=1           session.destroy()
    touch=1             session.touch()
    max_age=5000        session.cookie.max_age = 5000 (max_age=none: None)
    expires_none=1      session.cookie.expires = None
    expires_past=1      session.cookie.expires = a moment in the past
    save=1              session.save()      (awaited by async adapters)
    reload=1            session.reload()    (awaited by async adapters)
    detach=1            the adapter's own way of letting go of the session,
                        like ``req.session = null`` in express

Actions applied after the response has started (the adapter decides where
that is: a WSGI body iterator, an ASGI task after ``http.response.start``):
any action above with ``late_`` in front, for example::

    late_set=key:value  session[key] = value
    late_save=1         session.save()
    late_destroy=1      session.destroy()

Response switches::

    status=404          the response status (default 200)
    redirect=/path      a 302 to /path
    own_cookie=a=b      the handler sends its own ``Set-Cookie: a=b; Path=/``
    ignore=1            the handler never looks at the session
    raise=1             the handler raises after its session actions

The body is JSON: ``{"session": true, "id", "is_new", "data", "max_age"}``,
or ``{"session": false}`` when the request has no session (outside the cookie
path, or detached), or ``{"ignored": true}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any, Literal, TypeAlias
from urllib.parse import parse_qsl

import attrs

from sessions import AsyncSession, Session, SyncSession

__all__ = [
    "IGNORED_BODY",
    "NO_SESSION_BODY",
    "Action",
    "HandlerFailure",
    "Plan",
    "Step",
    "plan_from_query",
    "render_body",
    "run_actions",
    "run_async_actions",
    "run_sync_actions",
]

Step: TypeAlias = Literal["save", "reload", "detach"]
"""An action that needs the adapter: I/O, or its way of detaching."""

Action: TypeAlias = "tuple[str, str]"
"""One action: its name and its argument, as written in the query string."""

_PAST = datetime(2000, 1, 1, tzinfo=timezone.utc)

NO_SESSION_BODY = b'{"session": false}'
IGNORED_BODY = b'{"ignored": true}'


class HandlerFailure(Exception):
    """Raised by a handler told to fail with ``raise=1``."""


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _key_value(argument: str) -> tuple[str, Any]:
    key, sep, value = argument.partition(":")
    if not sep:
        raise ValueError(f"expected key:value, got {argument!r}")
    return key, _value(value)


def _set(session: Session, argument: str) -> None:
    key, value = _key_value(argument)
    session[key] = value


def _append(session: Session, argument: str) -> None:
    path, value = _key_value(argument)
    *parents, key = path.split(".")
    container: dict[str, Any] = session
    for parent in parents:
        container = container.setdefault(parent, {})
    container.setdefault(key, []).append(value)


def _setdefault(session: Session, argument: str) -> None:
    key, value = _key_value(argument)
    session.setdefault(key, value)


def _merge(session: Session, argument: str) -> None:
    session |= json.loads(argument)


_OBJECTS: dict[str, Callable[[], object]] = {
    "set": lambda: {"a", "b"},
    "tuple": lambda: (1, 2),
    "bytes": lambda: b"raw",
    "datetime": lambda: datetime(2030, 1, 1, tzinfo=timezone.utc),
}


def _set_object(session: Session, argument: str) -> None:
    key, sep, kind = argument.partition(":")
    if not sep or kind not in _OBJECTS:
        raise ValueError(f"expected key:{'|'.join(_OBJECTS)}, got {argument!r}")
    session[key] = _OBJECTS[kind]()


def _update(session: Session, argument: str) -> None:
    session.update(json.loads(argument))


def _delete(session: Session, argument: str) -> None:
    del session[argument]


def _pop(session: Session, argument: str) -> None:
    session.pop(argument)


def _max_age(session: Session, argument: str) -> None:
    session.cookie.max_age = None if argument == "none" else int(argument)


def _expires_past(session: Session, _argument: str) -> None:
    session.cookie.expires = _PAST


def _expires_none(session: Session, _argument: str) -> None:
    session.cookie.expires = None


_DIRECT: dict[str, Callable[[Session, str], None]] = {
    "set": _set,
    "append": _append,
    "update": _update,
    "merge": _merge,
    "setdefault": _setdefault,
    "set_object": _set_object,
    "delete": _delete,
    "pop": _pop,
    "clear": lambda session, _: session.clear(),
    "regenerate": lambda session, _: session.regenerate(),
    "regenerate_keep": lambda session, _: session.regenerate(keep_data=True),
    "destroy": lambda session, _: session.destroy(),
    "touch": lambda session, _: session.touch(),
    "max_age": _max_age,
    "expires_none": _expires_none,
    "expires_past": _expires_past,
}
_STEPS: dict[str, Step] = {"save": "save", "reload": "reload", "detach": "detach"}
_LATE = {f"late_{name}": name for name in (*_DIRECT, *_STEPS)}


@attrs.frozen(kw_only=True)
class Plan:
    """What one request asks its handler to do."""

    actions: tuple[Action, ...] = ()
    late_actions: tuple[Action, ...] = ()
    status: int = 200
    redirect: str | None = None
    own_cookie: str | None = None
    ignore: bool = False
    fail: bool = False

    @property
    def status_code(self) -> int:
        """The response status: 302 for a redirect, else ``status``."""
        return 302 if self.redirect is not None else self.status

    @property
    def status_line(self) -> str:
        """The WSGI-style status line, e.g. ``"302 Found"``."""
        code = self.status_code
        return f"{code} {HTTPStatus(code).phrase}"

    def headers(self) -> list[tuple[str, str]]:
        """The handler's own response headers."""
        headers = [("Content-Type", "application/json")]
        if self.redirect is not None:
            headers.append(("Location", self.redirect))
        if self.own_cookie is not None:
            headers.append(("Set-Cookie", f"{self.own_cookie}; Path=/"))
        return headers


def plan_from_query(query: str) -> Plan:
    """Read a :class:`Plan` from a raw query string.

    Raises:
        ValueError: a name is not one of the actions or switches above, so a
            typo in a test fails loudly instead of doing nothing.
    """
    actions: list[Action] = []
    late: list[Action] = []
    switches: dict[str, Any] = {}
    for name, argument in parse_qsl(query, keep_blank_values=True):
        if name in _DIRECT or name in _STEPS:
            actions.append((name, argument))
        elif name in _LATE:
            late.append((_LATE[name], argument))
        elif name == "status":
            switches["status"] = int(argument)
        elif name in ("redirect", "own_cookie"):
            switches[name] = argument
        elif name == "ignore":
            switches["ignore"] = True
        elif name == "raise":
            switches["fail"] = True
        else:
            raise ValueError(f"unknown handler action {name!r}")
    return Plan(actions=tuple(actions), late_actions=tuple(late), **switches)


def run_actions(session: Session, actions: tuple[Action, ...]) -> Iterator[Step]:
    """Apply ``actions`` to ``session`` in order.

    Actions that need the adapter (``save``, ``reload``, ``detach``) are
    yielded instead, and the caller carries each one out before asking for
    the next: a synchronous adapter calls ``session.save()``, an
    asynchronous one awaits it.
    """
    for name, argument in actions:
        step = _STEPS.get(name)
        if step is not None:
            yield step
        else:
            _DIRECT[name](session, argument)


def run_sync_actions(
    session: SyncSession, actions: tuple[Action, ...], detach: Callable[[], None]
) -> None:
    """Apply ``actions``, calling ``save`` and ``reload``; ``detach`` is the
    caller's way of letting go of the session."""
    for step in run_actions(session, actions):
        if step == "save":
            session.save()
        elif step == "reload":
            session.reload()
        else:
            detach()


async def run_async_actions(
    session: AsyncSession, actions: tuple[Action, ...], detach: Callable[[], None]
) -> None:
    """Apply ``actions``, awaiting ``save`` and ``reload``; ``detach`` is the
    caller's way of letting go of the session."""
    for step in run_actions(session, actions):
        if step == "save":
            await session.save()
        elif step == "reload":
            await session.reload()
        else:
            detach()


def render_body(session: Session | None) -> bytes:
    """The JSON response body describing ``session`` as the handler left it."""
    if session is None:
        return NO_SESSION_BODY
    return json.dumps(
        {
            "session": True,
            "id": session.id,
            "is_new": session.is_new,
            "data": dict(session),
            "max_age": session.cookie.max_age,
        },
        # A value JSON cannot carry is the commit's to refuse, not the body's.
        default=repr,
    ).encode()
