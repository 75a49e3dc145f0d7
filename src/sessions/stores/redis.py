"""Redis stores: sessions shared by every process and machine of a fleet.

Each session is one Redis hash under ``prefix + session_id`` with three
fields: ``record``, the record as JSON text
(:func:`~sessions.records.record_to_json`); ``version``, the record's
version as decimal digits; and ``browser_session``, ``1`` when the record's
``max_age`` is null (its cookie ends with the browser) and ``0`` otherwise,
so that a script can tell without decoding the JSON. The key carries an
absolute expiry equal to the record's ``expires``, so Redis itself forgets
the session on time. No command ever names two sessions' keys, so the
stores work unchanged on Redis Cluster, and on Valkey.

Every session operation is one round trip, and every write is atomic:

* ``get`` runs a short Lua script that returns ``record`` and ``version``
  with the key's absolute expiry (``PEXPIRETIME``); the returned record's
  ``expires`` is rebuilt from that expiry, so it reflects the last
  ``touch``, and its ``version`` is the ``version`` field's.
  ``get_and_renew`` is the same script, which also moves the expiry of a
  session whose cookie ends with the browser (``browser_session`` is ``1``)
  later, as ``touch`` would: reading a session and restarting its idle
  timeout take one round trip.
* ``set`` runs a script that replaces the key whole: ``DEL``, ``HSET`` of
  the three fields, ``PEXPIREAT <ms>``. A script runs without interruption, so
  no client ever sees the key without its expiry.
* ``update`` runs a script that compares the ``version`` field with the
  expected version and, only when they are equal, writes the three fields
  and the expiry; it replies 1 when it wrote and 0 otherwise. A missing key is
  never created.
* A record whose expiry has already passed is never written: ``set`` sends
  ``DEL`` instead, and ``update`` a script that deletes the key only when
  its version matches. No expiry in the past is ever sent.
* ``touch`` is a script that runs ``PEXPIREAT ... GT`` on a key that
  exists, so the expiry only ever moves later: neither field is rewritten,
  a missing key is not created, and the reply (0 or 1) says whether the
  session was there.
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
import re
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import TypeAlias

import attrs
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
# A version field as this store writes it: a 64-bit integer in decimal digits.
_INTEGER = re.compile(r"-?[0-9]{1,19}")

# The scripts name the three fields of a session's hash: 'record', 'version'
# and 'browser_session'.

# The record, its version and the key's absolute expiry, read atomically.
# Replies: false (no such key), {type} (the key is not a hash), or
# {record, version, expiry in Unix milliseconds (-1 when the key has none)},
# where a missing field is nil.
_READ_SCRIPT = """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then return false end
if kind ~= 'hash' then return {kind} end
local fields = redis.call('HMGET', KEYS[1], 'record', 'version')
return {fields[1], fields[2], redis.call('PEXPIRETIME', KEYS[1])}
"""

# The read script, which also restarts the idle timeout of a session whose
# cookie ends with the browser (its browser_session field is '1'): the
# expiry moves to ARGV[1] (Unix milliseconds, in the future) unless it is
# later already. Same replies as the read script, with the expiry after the
# move. The flag is a field of its own so that the script never decodes
# the record's JSON, whose cost grows with the session's size.
_READ_AND_RENEW_SCRIPT = """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then return false end
if kind ~= 'hash' then return {kind} end
local fields = redis.call('HMGET', KEYS[1], 'record', 'version', 'browser_session')
if fields[1] and fields[3] == '1' then
  redis.call('PEXPIREAT', KEYS[1], ARGV[1], 'GT')
end
return {fields[1], fields[2], redis.call('PEXPIRETIME', KEYS[1])}
"""

# Replaces the key whole, whatever it held. ARGV: record, version, expiry in
# Unix milliseconds (always in the future), browser_session flag.
_SET_SCRIPT = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'record', ARGV[1], 'version', ARGV[2],
  'browser_session', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
"""

# The start of both conditional scripts: stop unless the key is a session
# whose version field equals ARGV[1]. Replies 0 for a missing key or another
# version, {type} for a key that is not a hash. Redis treats a key whose
# expiry has passed as missing, so only a live session can match.
_VERSION_GUARD = """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then return 0 end
if kind ~= 'hash' then return {kind} end
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
"""

# A conditional write. ARGV: expected version, record, new version, expiry in
# Unix milliseconds (always in the future), browser_session flag. Replies 1
# when it wrote.
_UPDATE_SCRIPT = (
    _VERSION_GUARD
    + """
redis.call('HSET', KEYS[1], 'record', ARGV[2], 'version', ARGV[3],
  'browser_session', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
"""
)

# A conditional write of a record that has already expired: the session is
# deleted if its version is ARGV[1]. Replies 1 when it deleted.
_DELETE_IF_VERSION_SCRIPT = (
    _VERSION_GUARD
    + """
redis.call('DEL', KEYS[1])
return 1
"""
)

# Moves the expiry to ARGV[1] (Unix milliseconds, in the future) unless the
# key's is later already (GT), so a touch never brings the end closer.
# Replies 1 when the key exists, 0 when it does not.
_TOUCH_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('PEXPIREAT', KEYS[1], ARGV[1], 'GT')
return 1
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


def _not_a_type_error(prefix: str, session_id: str, kind: object) -> StoreError:
    """The error for a key of another Redis type than a session's hash."""
    text = _key_text(kind) if isinstance(kind, (bytes, str)) else repr(kind)
    return _not_a_record(prefix, session_id, f"it is a Redis {text}")


def _version_from_field(prefix: str, session_id: str, value: object) -> int:
    """The ``version`` field's value as an int.

    Raises:
        StoreError: the field is missing or not an integer in decimal digits.
    """
    if value is None:
        raise _not_a_record(prefix, session_id, "the hash has no version field")
    if isinstance(value, bytes):
        value = value.decode("latin-1")  # any byte maps; only digits pass
    if not isinstance(value, str) or not _INTEGER.fullmatch(value):
        raise _not_a_record(prefix, session_id, "its version field is not an integer")
    return int(value)


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
    if not isinstance(reply, list) or len(reply) not in (1, 3):
        raise _not_a_record(prefix, session_id, f"unexpected reply {reply!r}")
    if len(reply) == 1:
        raise _not_a_type_error(prefix, session_id, reply[0])
    value, version_field, expiry = reply
    if not isinstance(expiry, int) or expiry < 0:
        raise _not_a_record(prefix, session_id, "the key has no expiry")
    if expiry <= _now_milliseconds():
        return None
    if value is None:
        raise _not_a_record(prefix, session_id, "the hash has no record field")
    version = _version_from_field(prefix, session_id, version_field)
    try:
        record = record_from_json(value)
    except ValueError as error:
        raise _not_a_record(prefix, session_id, str(error)) from error

    # The record's own expires is the one written last; a touch since then
    # moved only the key's expiry, which then wins. The version field is the
    # one conditional writes compare, so it wins too.
    if _milliseconds(record.expires) == expiry and record.version == version:
        return record
    return attrs.evolve(record, expires=_EPOCH + expiry * _MILLISECOND, version=version)


def _written_from_reply(prefix: str, session_id: str, reply: object) -> bool:
    """Turn a conditional script's reply into whether it wrote.

    Raises:
        StoreError: the key is not a session's hash.
    """
    if isinstance(reply, list) and len(reply) == 1:
        raise _not_a_type_error(prefix, session_id, reply[0])
    if reply not in (0, 1):
        raise _not_a_record(prefix, session_id, f"unexpected reply {reply!r}")
    return reply == 1


def _browser_session(record: SessionRecord) -> str:
    """The ``browser_session`` field for ``record``: whether its cookie ends
    with the browser, so that ``get_and_renew`` restarts its idle timeout."""
    return "1" if record.max_age is None else "0"


def _set_arguments(key: str, record: SessionRecord) -> list[str] | None:
    """The key and arguments of the set script for ``record``, or ``None``
    when the record has already expired and the key is to be deleted.

    Raises:
        SerializationError: the record's data is not JSON-safe.
    """
    text = record_to_json(record)
    expiry = _milliseconds(record.expires)
    if expiry <= _now_milliseconds():
        return None
    return [key, text, str(record.version), str(expiry), _browser_session(record)]


def _update_call(
    key: str, record: SessionRecord, expected_version: int
) -> tuple[str, list[str]]:
    """The script and its key and arguments for a conditional write.

    Raises:
        SerializationError: the record's data is not JSON-safe.
    """
    expected = str(expected_version)
    text = record_to_json(record)
    expiry = _milliseconds(record.expires)
    if expiry <= _now_milliseconds():
        return _DELETE_IF_VERSION_SCRIPT, [key, expected]
    return _UPDATE_SCRIPT, [
        key,
        expected,
        text,
        str(record.version),
        str(expiry),
        _browser_session(record),
    ]


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

    def get_and_renew(
        self, session_id: str, renew_to: datetime
    ) -> SessionRecord | None:
        """Return the live record for ``session_id``, or ``None``, and move
        the expiry of one whose ``max_age`` is ``None`` to ``renew_to``
        unless it is later already; one script call (see
        :meth:`~sessions.stores.base.RenewingStore.get_and_renew`)."""
        key, expiry = self._key(session_id), _milliseconds(renew_to)
        with _store_errors("get()"):
            reply = self.client.eval(_READ_AND_RENEW_SCRIPT, 1, key, expiry)
        return _record_from_reply(self.prefix, session_id, reply)

    def set(self, session_id: str, record: SessionRecord) -> None:
        """Store ``record`` until its ``expires``, replacing whatever the key
        held; an already expired record deletes the session instead.

        Raises:
            SerializationError: the record's data is not JSON-safe.
        """
        key = self._key(session_id)
        arguments = _set_arguments(key, record)
        with _store_errors("set()"):
            if arguments is None:
                self.client.delete(key)
            else:
                self.client.eval(_SET_SCRIPT, 1, *arguments)

    def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        """Replace the session only if its stored version is
        ``expected_version``, in one script call; return whether it was
        replaced. An already expired ``record`` deletes the matching session
        instead.

        Raises:
            SerializationError: the record's data is not JSON-safe.
        """
        script, arguments = _update_call(
            self._key(session_id), record, expected_version
        )
        with _store_errors("update()"):
            reply = self.client.eval(script, 1, *arguments)
        return _written_from_reply(self.prefix, session_id, reply)

    def destroy(self, session_id: str) -> None:
        """Delete the session; a missing one is not an error."""
        with _store_errors("destroy()"):
            self.client.delete(self._key(session_id))

    def touch(self, session_id: str, expires: datetime) -> bool:
        """Move the session's expiry to ``expires`` unless it is already
        later, without rewriting its data or version; a missing session
        stays missing, and an expiry that has already passed deletes the
        session. Return whether the session was there. One script call."""
        key = self._key(session_id)
        expiry = _milliseconds(expires)
        with _store_errors("touch()"):
            if expiry <= _now_milliseconds():
                return bool(self.client.delete(key))
            return bool(self.client.eval(_TOUCH_SCRIPT, 1, key, expiry))

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

    async def get_and_renew(
        self, session_id: str, renew_to: datetime
    ) -> SessionRecord | None:
        """See :meth:`RedisStore.get_and_renew`."""
        key, expiry = self._key(session_id), _milliseconds(renew_to)
        with _store_errors("get()"):
            reply = await self.client.eval(_READ_AND_RENEW_SCRIPT, 1, key, expiry)
        return _record_from_reply(self.prefix, session_id, reply)

    async def set(self, session_id: str, record: SessionRecord) -> None:
        """See :meth:`RedisStore.set`."""
        key = self._key(session_id)
        arguments = _set_arguments(key, record)
        with _store_errors("set()"):
            if arguments is None:
                await self.client.delete(key)
            else:
                await self.client.eval(_SET_SCRIPT, 1, *arguments)

    async def update(
        self, session_id: str, record: SessionRecord, expected_version: int
    ) -> bool:
        """See :meth:`RedisStore.update`."""
        script, arguments = _update_call(
            self._key(session_id), record, expected_version
        )
        with _store_errors("update()"):
            reply = await self.client.eval(script, 1, *arguments)
        return _written_from_reply(self.prefix, session_id, reply)

    async def destroy(self, session_id: str) -> None:
        """See :meth:`RedisStore.destroy`."""
        with _store_errors("destroy()"):
            await self.client.delete(self._key(session_id))

    async def touch(self, session_id: str, expires: datetime) -> bool:
        """See :meth:`RedisStore.touch`."""
        key = self._key(session_id)
        expiry = _milliseconds(expires)
        with _store_errors("touch()"):
            if expiry <= _now_milliseconds():
                return bool(await self.client.delete(key))
            return bool(await self.client.eval(_TOUCH_SCRIPT, 1, key, expiry))

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
