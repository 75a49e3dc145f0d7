"""The parts of the behaviour suite that every adapter shares.

* :class:`SpyStore` wraps a :class:`~sessions.MemoryStore`, records every
  call the session machinery makes, and can make an operation fail or take
  longer.
* :class:`Probe` is what an adapter's test application reports to: which
  handlers ran, which exceptions crossed the application, and when each
  request is completely over.
* :class:`AppSpec` is everything an adapter module needs to build and serve
  its test application; :class:`Server` is what a test gets back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Protocol, TypeAlias, TypeVar

import attrs

from sessions import CookieOptions, MemoryStore, SessionConfig, SessionRecord
from sessions.cookies import SetCookie
from sessions.signing import IdSigner
from tests.behaviour.client import Client, expiry

__all__ = [
    "SECRET",
    "AdapterErrors",
    "AppSpec",
    "AsyncSpyStore",
    "MakeServer",
    "Operation",
    "Probe",
    "Serve",
    "Server",
    "SpyStore",
    "StoreCall",
    "adapter_errors_to",
    "parallel",
    "session_config",
]

SECRET = "keyboard cat"

_T = TypeVar("_T")

Operation: TypeAlias = Literal["get", "set", "destroy", "touch"]


def session_config(
    *, cookie: CookieOptions | None = None, **options: Any
) -> SessionConfig:
    """The suite's default configuration (a 60-second persistent cookie),
    with ``options`` replacing any of its fields."""
    options.setdefault("secret", SECRET)
    return SessionConfig(
        cookie=cookie if cookie is not None else CookieOptions(max_age=60), **options
    )


# -- the store spy -------------------------------------------------------------


@attrs.frozen
class StoreCall:
    """One call the session machinery made to the store."""

    operation: Operation
    session_id: str


class SpyStore:
    """A :class:`~sessions.MemoryStore` that records what is asked of it.

    Only calls made through the :class:`~sessions.Store` methods are
    recorded, and a conditional ``update`` is recorded (and scripted) as
    ``"set"``: either is a write of session data, which is what the
    behaviour tests count, delay and break; :meth:`seed` and :meth:`peek`
    reach the records without leaving a trace. The store's clock can be
    moved forward with :meth:`advance`, so expiry is tested without waiting.
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self.memory = MemoryStore(clock=lambda: time.time() + self._offset)
        self._lock = threading.Lock()
        self._calls: list[StoreCall] = []
        self._failures: dict[Operation, BaseException] = {}
        self._delays: dict[Operation, float] = {}
        self._after_get: Callable[[], object] | None = None

    # -- scripting ---------------------------------------------------------------

    def fail(self, operation: Operation, error: BaseException) -> None:
        """Make every later ``operation`` raise ``error`` (after recording)."""
        self._failures[operation] = error

    def delay(self, operation: Operation, seconds: float) -> None:
        """Make every later ``operation`` take ``seconds`` longer."""
        self._delays[operation] = seconds

    def after_get(self, action: Callable[[], object]) -> None:
        """Run ``action`` once, right after the next ``get`` has read its
        record: the moment to let another request change the store."""
        self._after_get = action

    def advance(self, seconds: float) -> None:
        """Move the store's clock forward, as if ``seconds`` had passed."""
        self._offset += seconds

    def seed(
        self,
        session_id: str,
        data: dict[str, Any],
        *,
        max_age: int | None = 60,
        expires_in: float | None = None,
    ) -> None:
        """Store a session directly, as an earlier request would have.

        ``expires_in`` defaults to ``max_age`` (or one day when that is
        ``None``); a smaller value stands for a session last sent a while ago.
        """
        now = datetime.now(timezone.utc)
        if expires_in is None:
            expires_in = max_age if max_age is not None else 86400
        self.memory.set(
            session_id,
            SessionRecord(
                data=data,
                expires=now + timedelta(seconds=expires_in),
                max_age=max_age,
                created=now,
                version=1,
            ),
        )

    def peek(self, session_id: str) -> SessionRecord | None:
        """The stored record, read without being recorded."""
        return self.memory.get(session_id)

    def agrees_with(self, session_id: str, cookie: SetCookie) -> bool:
        """Whether the store keeps ``session_id`` exactly until the cookie's
        ``Expires``. That date has whole seconds, so the stored moment may be
        up to a second later, never earlier."""
        record = self.peek(session_id)
        assert record is not None, "the store has no record for the cookie"
        return timedelta(0) <= record.expires - expiry(cookie) < timedelta(seconds=1)

    # -- what was asked ------------------------------------------------------------

    @property
    def calls(self) -> list[StoreCall]:
        """Every recorded call, in order."""
        with self._lock:
            return list(self._calls)

    def count(self, operation: Operation) -> int:
        """How many times ``operation`` was called."""
        return len(self.ids(operation))

    def ids(self, operation: Operation) -> list[str]:
        """The session ids ``operation`` was called with, in order."""
        return [call.session_id for call in self.calls if call.operation == operation]

    def as_async(self) -> AsyncSpyStore:
        """An :class:`~sessions.AsyncStore` face over the same records and
        the same list of calls, for the asynchronous adapters."""
        return AsyncSpyStore(self)

    def _script(
        self, operation: Operation, session_id: str
    ) -> tuple[float, BaseException | None]:
        """Record a call; return its scripted delay and failure."""
        with self._lock:
            self._calls.append(StoreCall(operation, session_id))
        return self._delays.get(operation, 0.0), self._failures.get(operation)

    def _enter(self, operation: Operation, session_id: str) -> None:
        delay, error = self._script(operation, session_id)
        if delay:
            time.sleep(delay)
        if error is not None:
            raise error

    def _take_after_get(self) -> Callable[[], object] | None:
        with self._lock:
            action, self._after_get = self._after_get, None
        return action

    # -- the Store protocol ------------------------------------------------------------

    def get(self, session_id: str) -> SessionRecord | None:
        self._enter("get", session_id)
        record = self.memory.get(session_id)
        action = self._take_after_get()
        if action is not None:
            action()
        return record

    def set(self, session_id: str, record: SessionRecord) -> None:
        self._enter("set", session_id)
        self.memory.set(session_id, record)

    def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        self._enter("set", session_id)
        return self.memory.update(session_id, record, expected_version)

    def destroy(self, session_id: str) -> None:
        self._enter("destroy", session_id)
        self.memory.destroy(session_id)

    def touch(self, session_id: str, expires: datetime) -> bool:
        self._enter("touch", session_id)
        return self.memory.touch(session_id, expires)


class AsyncSpyStore:
    """The asynchronous face of a :class:`SpyStore`.

    Delays are awaited, and an :meth:`SpyStore.after_get` action runs in a
    worker thread, so that it may itself make a request to a server whose
    event loop is the one waiting here.
    """

    def __init__(self, spy: SpyStore) -> None:
        self.spy = spy

    async def _enter(self, operation: Operation, session_id: str) -> None:
        delay, error = self.spy._script(operation, session_id)
        if delay:
            await asyncio.sleep(delay)
        if error is not None:
            raise error

    async def get(self, session_id: str) -> SessionRecord | None:
        await self._enter("get", session_id)
        record = self.spy.memory.get(session_id)
        action = self.spy._take_after_get()
        if action is not None:
            await asyncio.to_thread(action)
        return record

    async def set(self, session_id: str, record: SessionRecord) -> None:
        await self._enter("set", session_id)
        self.spy.memory.set(session_id, record)

    async def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        await self._enter("set", session_id)
        return self.spy.memory.update(session_id, record, expected_version)

    async def destroy(self, session_id: str) -> None:
        await self._enter("destroy", session_id)
        self.spy.memory.destroy(session_id)

    async def touch(self, session_id: str, expires: datetime) -> bool:
        await self._enter("touch", session_id)
        return self.spy.memory.touch(session_id, expires)


# -- what a test application reports -----------------------------------------------


class Probe:
    """Told by the test application what happened inside it.

    An adapter module calls :meth:`request_started` when a request enters
    the application (outside the session middleware), :meth:`handler_ran`
    from the handler, :meth:`error` for any exception that crosses the
    application, and :meth:`request_finished` once the response is
    completely over (after any body close or background work).
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._in_flight = 0
        self._handled: list[str] = []
        self._errors: list[BaseException] = []

    def request_started(self) -> None:
        with self._condition:
            self._in_flight += 1

    def request_finished(self) -> None:
        with self._condition:
            self._in_flight -= 1
            self._condition.notify_all()

    def handler_ran(self, path: str) -> None:
        with self._condition:
            self._handled.append(path)

    def error(self, error: BaseException) -> None:
        with self._condition:
            self._errors.append(error)

    @property
    def handled(self) -> list[str]:
        """The paths whose handler ran, in order."""
        with self._condition:
            return list(self._handled)

    def take_errors(self) -> list[BaseException]:
        """The exceptions recorded so far, which are then forgotten: a test
        that expects an error takes it, and any left over fail the test."""
        self.wait_idle()
        with self._condition:
            errors, self._errors = self._errors, []
        return errors

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no request is in flight."""
        with self._condition:
            idle = self._condition.wait_for(lambda: self._in_flight == 0, timeout)
        assert idle, f"requests still running after {timeout} s"


class AdapterErrors(logging.Handler):
    """Hands every error an adapter logs to a probe, as an exception."""

    def __init__(self, probe: Probe) -> None:
        super().__init__(logging.ERROR)
        self.probe = probe

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is not None and record.exc_info[1] is not None:
            self.probe.error(record.exc_info[1])
        else:
            self.probe.error(RuntimeError(record.getMessage()))


@contextlib.contextmanager
def adapter_errors_to(probe: Probe) -> Iterator[None]:
    """Report what the adapters log as errors (a session change lost after
    the response started) to ``probe`` while the block runs."""
    handler = AdapterErrors(probe)
    logger = logging.getLogger("sessions_adapters")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


# -- building and serving ----------------------------------------------------------


@attrs.frozen(kw_only=True)
class AppSpec:
    """What an adapter module needs to build its test application.

    Attributes:
        config: The session configuration.
        store: The store the session middleware uses.
        probe: Where the application reports what happened.
        mount: A prefix the application is mounted under (WSGI
            ``SCRIPT_NAME``, ASGI ``root_path``); ``""`` for none. Requests
            outside it get a 404 from the mount itself.
    """

    config: SessionConfig
    store: SpyStore
    probe: Probe
    mount: str = ""


Serve: TypeAlias = Callable[[AppSpec], AbstractContextManager[str]]
"""An adapter module's ``serve``: runs the test application behind a real
server on 127.0.0.1 with an ephemeral port, yields its base URL, and stops
it (joining every thread) on exit."""


@attrs.define(kw_only=True)
class Server:
    """A running test application, as a test sees it."""

    url: str
    config: SessionConfig
    store: SpyStore
    probe: Probe
    _clients: list[Client] = attrs.field(factory=list)

    def client(self) -> Client:
        """A new client with an empty cookie jar, closed with the server."""
        client = Client(self.url, self.config.name)
        self._clients.append(client)
        return client

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()

    def sign(self, session_id: str, secret: str | None = None) -> str:
        """The cookie value for ``session_id``, signed with the configured
        signing secret or with ``secret``."""
        secrets = self.config.secret if secret is None else (secret.encode(),)
        return IdSigner(secrets).sign(session_id)

    def verify(self, cookie_value: str) -> str | None:
        """The id a cookie value carries if it verifies, else ``None``."""
        return IdSigner(self.config.secret).unsign(cookie_value)

    def cookie(self, session_id: str) -> str:
        """A ``Cookie`` pair presenting ``session_id``, correctly signed."""
        return f"{self.config.name}={self.sign(session_id)}"

    def seed(
        self,
        data: dict[str, Any],
        *,
        session_id: str = "seeded-session",
        max_age: int | None = 60,
        expires_in: float | None = None,
    ) -> str:
        """Store a session as if an earlier response had created it, and
        return the ``Cookie`` pair that presents it."""
        self.store.seed(session_id, data, max_age=max_age, expires_in=expires_in)
        return self.cookie(session_id)


class MakeServer(Protocol):
    """The ``make_server`` fixture: starts the test application of the
    current adapter with the given configuration and store."""

    def __call__(
        self,
        *,
        config: SessionConfig | None = None,
        store: SpyStore | None = None,
        mount: str = "",
    ) -> Server: ...


def parallel(calls: list[Callable[[], _T]]) -> list[_T]:
    """Run ``calls`` at the same time on threads and return their results
    in order; an exception in any of them is re-raised here."""
    results: dict[int, _T] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(calls))

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = calls[index]()
        except BaseException as error:  # handed to the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [results[index] for index in range(len(calls))]
