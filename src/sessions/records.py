"""What a store keeps for one session, and how it becomes JSON.

A :class:`SessionRecord` holds the session data, when the store must forget
it, the cookie's original max-age and when the session was created. Stores
turn it into JSON text with :func:`record_to_json` and back with
:func:`record_from_json`; the (un)structuring is done by a :mod:`cattrs`
converter, never by pickle, so a store never executes what it reads.

Session data must be exactly representable in JSON: ``dict`` with ``str``
keys, ``list``, ``str``, ``int``, finite ``float``, ``bool`` and ``None``.
:func:`check_json_data` enforces that before anything is written, so that
nothing comes back from a store as a different type than it went in (a
``tuple`` as a ``list``, a ``datetime`` as a ``str``, an ``int`` key as a
``str``).
"""

from __future__ import annotations

import json
import math
import sys
from datetime import datetime, timezone
from typing import Any, NoReturn

import attrs
import cattrs

from sessions.errors import SerializationError

__all__ = [
    "MAX_DEPTH",
    "SessionRecord",
    "canonical_json",
    "check_json_data",
    "record_converter",
    "record_from_json",
    "record_to_json",
]

_FORMAT_VERSION = 1


@attrs.frozen(kw_only=True)
class SessionRecord:
    """One stored session.

    Attributes:
        data: The session's key/value data (JSON-safe).
        expires: When the store must forget the session (timezone-aware).
            For a session with a persistent cookie this equals the cookie's
            expiry; otherwise it is the end of the idle timeout.
        max_age: The cookie's original max-age in seconds, restored by
            ``touch()``; ``None`` for a browser-session cookie.
        created: When the session was first created (timezone-aware).
        version: A counter the store keeps for conditional writes: each
            write of a loaded session names the version it read, and the
            store refuses it when the stored version has moved on since
            (see :meth:`~sessions.stores.base.Store.update`). A new session
            is written with version 1.
    """

    data: dict[str, Any]
    expires: datetime
    max_age: int | None
    created: datetime
    version: int = 0

    def is_expired(self, now: datetime) -> bool:
        """Whether the record's lifetime is over at ``now``."""
        return self.expires <= now


def _structure_datetime(value: object, _type: object) -> datetime:
    if not isinstance(value, str):
        raise TypeError("a timestamp must be an ISO 8601 string")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("a stored timestamp must carry a UTC offset")
    return moment.astimezone(timezone.utc)


def _structure_data(value: object, _type: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("session data must be a JSON object")
    return value


record_converter = cattrs.Converter()
"""The :mod:`cattrs` converter between :class:`SessionRecord` and JSON-safe
primitives. Timestamps become ISO 8601 strings with a UTC offset."""

record_converter.register_unstructure_hook(datetime, datetime.isoformat)
record_converter.register_structure_hook(datetime, _structure_datetime)
record_converter.register_structure_hook_func(
    lambda type_: type_ == dict[str, Any], _structure_data
)


def record_to_json(record: SessionRecord) -> str:
    """Serialise ``record`` as compact JSON text.

    Raises:
        SerializationError: the data holds a value JSON cannot carry exactly.
    """
    check_json_data(record.data)
    document = record_converter.unstructure(record)
    document["v"] = _FORMAT_VERSION
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def record_from_json(text: str | bytes) -> SessionRecord:
    """Parse text written by :func:`record_to_json`.

    Raises:
        ValueError: the text is not a record this library wrote; the
            :mod:`cattrs` error describing each bad field is chained.
    """
    try:
        document = json.loads(text)
        if not isinstance(document, dict):
            raise TypeError("a stored record must be a JSON object")
        version = document.pop("v", None)
        if version != _FORMAT_VERSION:
            raise ValueError(f"unknown record format version {version!r}")
        return record_converter.structure(document, SessionRecord)
    except (ValueError, TypeError, cattrs.BaseValidationError) as error:
        raise ValueError(f"not a valid session record: {error}") from error


def _refuse(value: object) -> NoReturn:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_encode_string = json.encoder.encode_basestring
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
if _c_make_encoder is not None:
    # The C encoder behind json.dumps, set up once with the same settings as
    # _CANONICAL; JSONEncoder.encode would set it up again on every call,
    # which costs more than encoding a small value. Without the reference
    # check (markers=None), data that contains itself ends in RecursionError
    # instead of ValueError.
    _encode_chunks = _c_make_encoder(
        None, _refuse, _encode_string, None, ":", ",", True, False, False
    )

    def _encode_container(data: object) -> str:
        return "".join(_encode_chunks(data, 0))

else:  # an interpreter without the json C accelerator
    _encode_container = _CANONICAL  # type: ignore[assignment]


def canonical_json(data: object) -> str:
    """Return a canonical JSON text of ``data``: equal data, equal text.

    Keys are sorted, so the result does not depend on insertion order. Used
    to detect changes, including in-place changes deep inside the data.

    Raises:
        TypeError, ValueError, RecursionError: the data is not JSON-safe;
            call :func:`check_json_data` for an error that names the key.
    """
    # Most session values are strings and ints: write their text directly,
    # exactly as the encoder would, without going through it.
    if type(data) is str:
        return _encode_string(data)
    if type(data) is int:
        return int.__repr__(data)
    return _encode_container(data)


# Subclasses (an IntEnum, a StrEnum, an OrderedDict, a defaultdict) are
# refused: they would come back as the plain base type.
_EXACT_SCALARS = (type(None), bool)


def _check_encodable(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SerializationError(
            path, "the text holds a lone surrogate, which UTF-8 cannot encode"
        ) from None


MAX_DEPTH = 64
"""How deeply session data may nest dicts and lists."""

# Python's json cannot write an int with more digits than this limit.
_DIGIT_LIMIT = sys.get_int_max_str_digits()
_INT_BOUND = 10**_DIGIT_LIMIT if _DIGIT_LIMIT else None


def check_json_data(data: object, path: str = "") -> None:
    """Raise :class:`SerializationError` naming the first value in ``data``
    that JSON cannot represent exactly, or that nests deeper than
    :data:`MAX_DEPTH` (which also catches a list that contains itself)."""
    _check(data, path, 0)


def _check(data: object, path: str, depth: int) -> None:
    kind = type(data)
    if kind is str and isinstance(data, str):
        if not data.isascii():
            _check_encodable(data, path)
        return
    if kind is int and isinstance(data, int):
        if _INT_BOUND is not None and not -_INT_BOUND < data < _INT_BOUND:
            raise SerializationError(
                path, f"an integer of more than {_DIGIT_LIMIT} digits has no JSON form"
            )
        return
    if kind in _EXACT_SCALARS:
        return
    if kind is float and isinstance(data, float):
        if not math.isfinite(data):
            raise SerializationError(path, f"{data!r} has no JSON form")
        return
    if (kind is dict or kind is list) and depth == MAX_DEPTH:
        raise SerializationError(path, f"the data nests deeper than {MAX_DEPTH} levels")
    if type(data) is dict:
        for key, value in data.items():
            if type(key) is not str:
                raise SerializationError(
                    path,
                    f"key {key!r} is a {type(key).__name__}; JSON keys are "
                    "strings, so it would come back changed",
                )
            if not key.isascii():
                _check_encodable(key, path)
            _check(value, f"{path}.{key}" if path else key, depth + 1)
        return
    if type(data) is list:
        for index, item in enumerate(data):
            _check(item, f"{path}[{index}]", depth + 1)
        return
    raise SerializationError(
        path,
        f"a {type(data).__name__} cannot be stored as JSON without changing "
        "type; convert it to a list, dict, str or number first",
    )
