"""Redis stores: sessions shared by every process and machine of a fleet.

Each session is one Redis string under ``prefix + session_id``, holding the
record as JSON text (:func:`~sessions.records.record_to_json`) and carrying
an absolute expiry equal to the record's ``expires``, so Redis itself
forgets the session on time. No command ever names two sessions' keys, so
the stores work unchanged on Redis Cluster, and on Valkey.

Every session operation is one round trip:

* ``get`` runs a short Lua script that returns the value together with the
  key's absolute expiry (``PEXPIRETIME``); the returned record's
  ``expires`` is rebuilt from it, so it reflects the last ``touch``.
* ``set`` is ``SET key value PXAT <ms>``; a record whose expiry has already
  passed is deleted instead, so no expiry in the past is ever sent.
* ``touch`` is ``PEXPIREAT``: the data is not rewritten, and a missing key
  is not created.
* ``destroy`` is ``DEL``.

Listing and clearing walk the prefix with ``SCAN`` (never ``KEYS``) and
pipeline one single-key command per session.

The client is the caller's: any ``redis.Redis`` (from a URL, a connection
pool or a Sentinel's ``master_for``) or ``redis.cluster.RedisCluster``, and
their :mod:`redis.asyncio` counterparts. The stores never close it.

Requires Redis 7.0 or newer (or Valkey), for ``PEXPIRETIME``.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import TypeAlias

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from redis.exceptions import RedisError

from sessions.errors import StoreError
from sessions.records import SessionRecord, record_from_json, record_to_json

__all__ = ["AsyncRedisStore", "RedisStore"]

SyncClient: TypeAlias = "redis.Redis | redis.cluster.RedisCluster"
AsyncClient: TypeAlias = "redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster"


def _is_async_client(client: object) -> bool:
    """Whether ``client`` is a redis.asyncio client (a store given the wrong
    kind would silently drop its writes or block the event loop)."""
    return isinstance(client, (redis.asyncio.Redis, redis.asyncio.cluster.RedisCluster))


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MILLISECOND = timedelta(milliseconds=1)

# The value and the absolute expiry of one key, read atomically. Replies:
# false (no such key), {type} (the key holds something other than a string),
# or {value, expiry in Unix milliseconds, -1 when the key has none}.
_READ_SCRIPT = """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then return false end
if kind ~= 'string' then return {kind} end
return {redis.call('GET', KEYS[1]), redis.call('PEXPIRETIME', KEYS[1])}
"""


# -- what both stores share: keys, expiries, replies -------------------------------


def _milliseconds(moment: datetime) -> int:
    """``moment`` as whole Unix milliseconds, rounded down, so Redis never
    keeps a record past its ``expires``."""
    return (moment - _EPOCH) // _MILLISECOND


def _now_milliseconds() -> int:
    return time.time_ns() // 1_000_000


def _key_pattern(prefix: str) -> str:
    """A ``SCAN MATCH`` pattern for every key under ``prefix``, with the
    prefix's own glob characters escaped."""
    escaped = "".join("\\" + char if char in "\\*?[]" else char for char in prefix)
    return escaped + "*"


def _key_text(key: bytes | str) -> str:
    return key.decode() if isinstance(key, bytes) else key


def _short_hash(session_id: str) -> str:
    """Names a session in a message without giving its id away."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:12]


def _not_a_record(prefix: str, session_id: str, why: str) -> StoreError:
    return StoreError(
        f"the Redis key {prefix!r} + <session id, sha256 {_short_hash(session_id)}> "
        f"does not hold a session record written by this library: {why}"
    )


def _record_from_reply(
    prefix: str, session_id: str, reply: object
) -> SessionRecord | None:
    """Turn the read script's reply into a record, or ``None`` when there is
    no live session.

    Raises:
        StoreError: the key holds something this library did not write.
    """
    if reply is None or reply is False:
        return None
    if not isinstance(reply, list) or len(reply) not in (1, 2):
        raise _not_a_record(prefix, session_id, f"unexpected reply {reply!r}")
    if len(reply) == 1:
        kind = _key_text(reply[0])
        raise _not_a_record(prefix, session_id, f"it is a Redis {kind}")
    value, expiry = reply
    if not isinstance(expiry, int) or expiry < 0:
        raise _not_a_record(prefix, session_id, "the key has no expiry")
    if expiry <= _now_milliseconds():
        return None
    try:
        record = record_from_json(value)
    except ValueError as error:
        raise _not_a_record(prefix, session_id, str(error)) from error

    # The record's own expires is the one set last; a touch since then moved
    # only the key's expiry, which then wins.
    if _milliseconds(record.expires) == expiry:
        return record
    return SessionRecord(
        data=record.data,
        expires=_EPOCH + expiry * _MILLISECOND,
        max_age=record.max_age,
        created=record.created,
    )


@contextlib.contextmanager
def _store_errors(operation: str) -> Iterator[None]:
    """Re-raise what redis-py raises (lost connection, timeout, refused
    command) as :class:`~sessions.errors.StoreError`, cause chained."""
    try:
        yield
    except RedisError as error:
        raise StoreError(f"Redis {operation} failed: {error}") from error
    except UnicodeDecodeError as error:
        # Only a client with decode_responses=True meets this: a value or a
        # key under the prefix that is not UTF-8, so not one this store wrote.
        raise StoreError(
            f"Redis {operation} met bytes that are not UTF-8 under the store's "
            f"prefix; they were not written by this library: {error}"
        ) from error


def _chunks(keys: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def _unique_keys(keys: Iterable[bytes | str]) -> list[str]:
    """The keys ``SCAN`` returned, in order, each once (it may repeat one)."""
    return list(dict.fromkeys(map(_key_text, keys)))


def _records_from_replies(
    prefix: str, keys: list[str], replies: list[object]
) -> dict[str, SessionRecord]:
    records: dict[str, SessionRecord] = {}
    for key, reply in zip(keys, replies, strict=True):
        session_id = key[len(prefix) :]
        record = _record_from_reply(prefix, session_id, reply)
        if record is not None:
            records[session_id] = record
    return records


def _check_options(prefix: str, scan_count: int) -> None:
    if not isinstance(prefix, str):
        raise TypeError("prefix must be a str")
    if not prefix:
        raise ValueError("prefix must not be empty: clear() deletes every key under it")
    if isinstance(scan_count, bool) or not isinstance(scan_count, int):
        raise TypeError("scan_count must be an int")
    if scan_count < 1:
        raise ValueError("scan_count must be at least 1")


# -- the stores ------------------------------------------------------------------


class RedisStore:
    """A synchronous session store on Redis.

    It implements :class:`~sessions.stores.base.Store` and
    :class:`~sessions.stores.base.EnumerableStore`.

    Args:
        client: A ``redis.Redis`` or ``redis.cluster.RedisCluster``, however
            it was built. It stays the caller's to close.
        prefix: Put before each session id to make its key; non-empty, and
            different for every application sharing the database.
        scan_count: The ``COUNT`` hint for each ``SCAN`` step, and how many
            commands :meth:`all` and :meth:`clear` pipeline at once.

    Raises:
        StoreError: from every operation, when Redis cannot be reached or
            refuses the command, or when a key under the prefix holds
            something this library did not write.
    """

    def __init__(
        self, client: SyncClient, *, prefix: str = "sess:", scan_count: int = 100
    ) -> None:
        _check_options(prefix, scan_count)
        if _is_async_client(client):
            raise TypeError(
                "RedisStore needs a synchronous client (redis.Redis); use "
                "AsyncRedisStore for a redis.asyncio client"
            )
        self.client = client
        self.prefix = prefix
        self.scan_count = scan_count

    def _key(self, session_id: str) -> str:
        return self.prefix + session_id

    def _scan(self) -> list[str]:
        """Every key under the prefix."""
        pattern = _key_pattern(self.prefix)
        return _unique_keys(self.client.scan_iter(match=pattern, count=self.scan_count))

    # -- the Store protocol -----------------------------------------------------

    def get(self, session_id: str) -> SessionRecord | None:
        """Return the live record for ``session_id``, or ``None``."""
        with _store_errors("get()"):
            reply = self.client.eval(_READ_SCRIPT, 1, self._key(session_id))
        return _record_from_reply(self.prefix, session_id, reply)

    def set(self, session_id: str, record: SessionRecord) -> None:
        """Store ``record`` until its ``expires``; an already expired record
        deletes the session instead.

        Raises:
            SerializationError: the record's data is not JSON-safe.
        """
        text = record_to_json(record)
        expiry = _milliseconds(record.expires)
        with _store_errors("set()"):
            if expiry <= _now_milliseconds():
                self.client.delete(self._key(session_id))
            else:
                self.client.set(self._key(session_id), text, pxat=expiry)

    def destroy(self, session_id: str) -> None:
        """Delete the session; a missing one is not an error."""
        with _store_errors("destroy()"):
            self.client.delete(self._key(session_id))

    def touch(self, session_id: str, expires: datetime) -> None:
        """Move the session's expiry to ``expires`` without rewriting its
        data; a missing session stays missing, and an expiry that has
        already passed deletes the session."""
        expiry = _milliseconds(expires)
        with _store_errors("touch()"):
            if expiry <= _now_milliseconds():
                self.client.delete(self._key(session_id))
            else:
                self.client.pexpireat(self._key(session_id), expiry)

    # -- enumeration --------------------------------------------------------------

    def ids(self) -> list[str]:
        """The ids of every session under the prefix."""
        with _store_errors("ids()"):
            return [key[len(self.prefix) :] for key in self._scan()]

    def all(self) -> dict[str, SessionRecord]:
        """Every live session, by id."""
        replies: list[object] = []
        with _store_errors("all()"):
            keys = self._scan()
            for chunk in _chunks(keys, self.scan_count):
                pipeline = self.client.pipeline(transaction=False)
                for key in chunk:
                    # Not pipeline.eval(): redis-py's cluster pipeline refuses
                    # that method, though it routes an EVAL by its one key.
                    pipeline.execute_command("EVAL", _READ_SCRIPT, 1, key)
                replies.extend(pipeline.execute())
        return _records_from_replies(self.prefix, keys, replies)

    def length(self) -> int:
        """How many sessions there are under the prefix."""
        with _store_errors("length()"):
            return len(self._scan())

    def clear(self) -> None:
        """Delete every session under the prefix, one key at a time."""
        with _store_errors("clear()"):
            for chunk in _chunks(self._scan(), self.scan_count):
                pipeline = self.client.pipeline(transaction=False)
                for key in chunk:
                    pipeline.delete(key)
                pipeline.execute()


class AsyncRedisStore:
    """An asynchronous session store on Redis, for the asyncio adapters.

    It implements :class:`~sessions.stores.base.AsyncStore` and
    :class:`~sessions.stores.base.AsyncEnumerableStore`; everything
    :class:`RedisStore` says holds here too.

    Args:
        client: A ``redis.asyncio.Redis`` or
            ``redis.asyncio.cluster.RedisCluster``; the caller closes it.
        prefix: See :class:`RedisStore`.
        scan_count: See :class:`RedisStore`.
    """

    def __init__(
        self, client: AsyncClient, *, prefix: str = "sess:", scan_count: int = 100
    ) -> None:
        _check_options(prefix, scan_count)
        if not _is_async_client(client):
            raise TypeError(
                "AsyncRedisStore needs a redis.asyncio client; use RedisStore "
                "for a synchronous redis.Redis client"
            )
        self.client = client
        self.prefix = prefix
        self.scan_count = scan_count

    def _key(self, session_id: str) -> str:
        return self.prefix + session_id

    async def _scan(self) -> list[str]:
        """Every key under the prefix."""
        pattern = _key_pattern(self.prefix)
        keys = self.client.scan_iter(match=pattern, count=self.scan_count)
        return _unique_keys([key async for key in keys])

    # -- the AsyncStore protocol ------------------------------------------------

    async def get(self, session_id: str) -> SessionRecord | None:
        """See :meth:`RedisStore.get`."""
        with _store_errors("get()"):
            reply = await self.client.eval(_READ_SCRIPT, 1, self._key(session_id))
        return _record_from_reply(self.prefix, session_id, reply)

    async def set(self, session_id: str, record: SessionRecord) -> None:
        """See :meth:`RedisStore.set`."""
        text = record_to_json(record)
        expiry = _milliseconds(record.expires)
        with _store_errors("set()"):
            if expiry <= _now_milliseconds():
                await self.client.delete(self._key(session_id))
            else:
                await self.client.set(self._key(session_id), text, pxat=expiry)

    async def destroy(self, session_id: str) -> None:
        """See :meth:`RedisStore.destroy`."""
        with _store_errors("destroy()"):
            await self.client.delete(self._key(session_id))

    async def touch(self, session_id: str, expires: datetime) -> None:
        """See :meth:`RedisStore.touch`."""
        expiry = _milliseconds(expires)
        with _store_errors("touch()"):
            if expiry <= _now_milliseconds():
                await self.client.delete(self._key(session_id))
            else:
                await self.client.pexpireat(self._key(session_id), expiry)

    # -- enumeration --------------------------------------------------------------

    async def ids(self) -> list[str]:
        """See :meth:`RedisStore.ids`."""
        with _store_errors("ids()"):
            return [key[len(self.prefix) :] for key in await self._scan()]

    async def all(self) -> dict[str, SessionRecord]:
        """See :meth:`RedisStore.all`."""
        replies: list[object] = []
        with _store_errors("all()"):
            keys = await self._scan()
            for chunk in _chunks(keys, self.scan_count):
                pipeline = self.client.pipeline(transaction=False)
                for key in chunk:
                    pipeline.execute_command("EVAL", _READ_SCRIPT, 1, key)
                replies.extend(await pipeline.execute())
        return _records_from_replies(self.prefix, keys, replies)

    async def length(self) -> int:
        """See :meth:`RedisStore.length`."""
        with _store_errors("length()"):
            return len(await self._scan())

    async def clear(self) -> None:
        """See :meth:`RedisStore.clear`."""
        with _store_errors("clear()"):
            for chunk in _chunks(await self._scan(), self.scan_count):
                pipeline = self.client.pipeline(transaction=False)
                for key in chunk:
                    pipeline.delete(key)
                await pipeline.execute()
