"""Typed session data: an attrs class or a dataclass laid over a session.

Theory of operation. Each field of the declared class is one top-level key
of the session, holding the field's JSON form. A :class:`TypedView` reads
those keys into an instance with a :mod:`cattrs` converter and later writes
back the fields whose JSON form changed since it read them, so only those
keys of the session change and the session's per-key merge of concurrent
writes keeps working. Keys that are not fields are never read or written.

Both directions are checked against the JSON that is really stored:

- Reading: a field missing from the session takes its default (no
  default: :class:`SessionDataError`); a key the class does not know is
  ignored; a stored value loads only if the converter accepts it *and*
  turning the result back into JSON gives the stored value again, so a
  lenient conversion (``"12"`` into an ``int``, ``"abc"`` into a
  ``list[str]``) is refused instead of silently changing the data.
- Writing: every field must have a JSON form (else
  :class:`~sessions.errors.SerializationError`) that loads back into a value
  equal to the one written (else :class:`FieldValueError`). Nothing is
  written unless every field passes, so a refused write leaves the session
  as it was.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import typing
import weakref
from collections.abc import Callable, MutableMapping, MutableSet
from collections.abc import Set as AbstractSet
from types import TracebackType
from typing import Any, Generic, TypeVar

import attrs
import cattrs
from cattrs.preconf.json import make_converter as make_json_converter
from cattrs.v import format_exception

from sessions.errors import SerializationError, SessionError, UsageError
from sessions.records import canonical_json, check_json_data
from sessions.session import encode_values

__all__ = [
    "FieldValueError",
    "SessionDataError",
    "TypedView",
    "make_converter",
]

T = TypeVar("T")


class SessionDataError(SessionError, ValueError):
    """What the session holds cannot be loaded as the declared class.

    Raised by :meth:`TypedView.read` when a field without a default is
    missing from the session, or when a stored value does not have the shape
    its field declares. Reading never changes the session.

    Attributes:
        field: The session key (the field's name) that could not be loaded.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"session[{field}]: {message}")
        self.field = field


class FieldValueError(SerializationError):
    """A field holds a value that its declared type does not allow.

    Raised by :meth:`TypedView.write` when a field's value, stored as JSON
    and loaded again, would fail to load or come back different (a ``str``
    in an ``int`` field, a ``set`` in a ``list[str]`` field). Nothing was
    written. It is a :class:`~sessions.errors.SerializationError` (and so a
    ``TypeError``), like a value that has no JSON form at all.

    Attributes:
        field: The offending field (also in ``path``).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)
        self.field = field


# -- the converter --------------------------------------------------------------


def make_converter() -> cattrs.Converter:
    """A new converter with the rules :class:`TypedView` uses by default.

    It is :mod:`cattrs`' JSON converter (``datetime`` and ``date`` as ISO
    8601 text, ``bytes`` as base85 text, enums by value), with sets and
    frozensets stored as lists in a fixed order, so that equal sets are
    stored as equal JSON, and tuples (of a fixed length or not) stored as
    lists. Register hooks for your own types on it and pass it to
    :class:`TypedView` as ``converter``.
    """
    converter = make_json_converter()

    def unstructure_set(value: AbstractSet[Any]) -> list[Any]:
        return sorted(map(converter.unstructure, value), key=canonical_json)

    def unstructure_tuple(type_: Any) -> Callable[[tuple[Any, ...]], list[Any]]:
        if _is_named_tuple(type_):
            items = _named_tuple_items(type_)
        else:
            items = typing.get_args(type_)
        if not items or (len(items) == 2 and items[1] is Ellipsis):
            item = items[0] if items else Any
            return lambda value: [converter.unstructure(v, item) for v in value]
        # A fixed length: each position by its own type. A tuple of another
        # length is cut or padded here, and then refused by the write check,
        # which loads what would be stored and compares.
        return lambda value: [
            converter.unstructure(v, t) for v, t in zip(value, items, strict=False)
        ]

    def structure_named_tuple(type_: Any) -> Callable[[Any, Any], Any]:
        items = _named_tuple_items(type_)

        def structure(value: Any, _: Any) -> Any:
            if not isinstance(value, (list, tuple)) or len(value) != len(items):
                raise ValueError(f"expected a list of {len(items)} items")
            return type_(*map(converter.structure, value, items))

        return structure

    converter.register_unstructure_hook_func(_is_set_type, unstructure_set)
    converter.register_structure_hook_factory(_is_named_tuple, structure_named_tuple)
    converter.register_unstructure_hook_factory(_is_tuple_type, unstructure_tuple)
    return converter


_SET_TYPES = (set, frozenset, AbstractSet, MutableSet)


def _is_set_type(type_: Any) -> bool:
    return type_ in _SET_TYPES or typing.get_origin(type_) in _SET_TYPES


def _is_tuple_type(type_: Any) -> bool:
    return type_ is tuple or typing.get_origin(type_) is tuple or _is_named_tuple(type_)


def _is_named_tuple(type_: Any) -> bool:
    return (
        isinstance(type_, type)
        and issubclass(type_, tuple)
        and hasattr(type_, "_fields")
    )


def _named_tuple_items(type_: Any) -> tuple[Any, ...]:
    """The type of each field of a named tuple, in order, from the resolved
    hints, so that a module with postponed annotations
    (``from __future__ import annotations``) works too."""
    hints = typing.get_type_hints(type_)
    return tuple(hints[name] for name in type_._fields)


_DEFAULT_CONVERTER = make_converter()


# -- comparing JSON ---------------------------------------------------------------


def _same_json(stored: Any, produced: Any) -> bool:
    """Whether ``produced`` (a converter's JSON form of a loaded value) says
    the same as ``stored`` (the JSON it was loaded from).

    Numbers compare by value (``1`` and ``1.0`` agree, ``true`` and ``1``
    do not); a list may come back in another order, as a set does; inside
    objects only the keys both sides hold are compared, which is the
    evolution rule of the top level applied to nested classes.
    """
    if isinstance(stored, bool) or isinstance(produced, bool):
        return stored is produced
    if isinstance(stored, (int, float)) and isinstance(produced, (int, float)):
        return stored == produced
    if type(stored) is dict and type(produced) is dict:
        shared = stored.keys() & produced.keys()
        return all(_same_json(stored[key], produced[key]) for key in shared)
    if type(stored) is list and type(produced) is list:
        if len(stored) != len(produced):
            return False
        if all(map(_same_json, stored, produced)):
            return True
        try:
            return all(
                map(
                    _same_json,
                    sorted(stored, key=canonical_json),
                    sorted(produced, key=canonical_json),
                )
            )
        except (TypeError, ValueError, RecursionError):
            return False
    return type(stored) is type(produced) and bool(stored == produced)


# -- describing the declared class ---------------------------------------------


@attrs.frozen
class _Field:
    name: str
    type_: Any

    @property
    def type_name(self) -> str:
        return _type_name(self.type_)


_FIELDS: weakref.WeakKeyDictionary[type[Any], tuple[_Field, ...]] = (
    weakref.WeakKeyDictionary()
)


def _fields_of(cls: type[Any]) -> tuple[_Field, ...]:
    """The fields of ``cls`` that are stored: those set through ``__init__``
    (a field with ``init=False`` is derived state, not session data).

    Raises:
        TypeError: ``cls`` is neither an attrs class nor a dataclass.
    """
    if not (
        isinstance(cls, type) and (attrs.has(cls) or dataclasses.is_dataclass(cls))
    ):
        raise TypeError(
            f"{cls!r} is not an attrs class or a dataclass; declare the "
            "session's data with @attrs.define or @dataclasses.dataclass"
        )
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = _describe(cls)
    return fields


def _describe(cls: type[Any]) -> tuple[_Field, ...]:
    if attrs.has(cls):
        attrs.resolve_types(cls)
        return tuple(
            _Field(field.name, field.type) for field in attrs.fields(cls) if field.init
        )
    hints = typing.get_type_hints(cls)
    return tuple(
        _Field(field.name, hints[field.name])
        for field in dataclasses.fields(cls)
        if field.init
    )


_QUALIFIER = re.compile(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])")
"""A module path in front of a name, as in ``typing.Optional``."""


def _type_name(type_: object) -> str:
    """``type_`` as a reader would write it: ``list[Item] | None``."""
    if isinstance(type_, type) and not typing.get_args(type_):
        return type_.__name__
    return _QUALIFIER.sub("", repr(type_))


def _cattrs_failure(error: BaseException, cls: type[Any]) -> tuple[str, str]:
    """The field a converter's error is about (``""`` when it does not
    say) and a description of what went wrong."""
    field = ""
    if isinstance(error, cattrs.ClassValidationError):
        with_notes, _others = error.group_exceptions()
        if with_notes:
            inner, note = with_notes[0]
            field = note.name
            if isinstance(inner, KeyError):  # how cattrs reports a missing key
                return field, "the field is missing and has no default"
    try:
        lines = cattrs.transform_error(
            error, path=cls.__name__, format_exception=_describe_failure
        )
    except Exception:  # a converter error of a shape cattrs cannot describe
        lines = [f"the converter failed ({type(error).__name__})"]
    return field, "; ".join(lines)


def _describe_failure(error: BaseException, type_: type | None) -> str:
    """cattrs' description of one failure, without the exception's own text,
    which may quote the stored value (session data belongs in no log)."""
    described = format_exception(error, type_)
    text = str(error)
    if text and text in described:
        described = described.replace(text, type(error).__name__)
    return described


# -- the view --------------------------------------------------------------------


class TypedView(Generic[T]):
    """A typed view of a session's data, declared as an attrs class or a
    dataclass whose fields are top-level keys of the session.

    Use it as a context manager: the block gets an instance loaded from the
    session, and when the block ends without an exception the fields it
    changed (in place or by assignment) are written back::

        with TypedView(session, Visit) as visit:
            visit.cart.append("book")

    or call :meth:`read` and :meth:`write` yourself (for frozen classes,
    or to write at a moment of your choosing). ``session`` is any mutable
    mapping: the :class:`~sessions.Session` an adapter hands out (sync or
    async alike; the view does no I/O) or a plain ``dict``.

    Args:
        session: The session to read from and write to.
        cls: The declared class (attrs or dataclass).
        converter: The :mod:`cattrs` converter to use; by default the one
            :func:`make_converter` returns.

    Raises:
        TypeError: ``cls`` is neither an attrs class nor a dataclass, or
            has a field of a type the converter cannot load.
    """

    __slots__ = ("_cls", "_converter", "_fields", "_open", "_session", "_written")

    def __init__(
        self,
        session: MutableMapping[str, Any],
        cls: type[T],
        *,
        converter: cattrs.Converter | None = None,
    ) -> None:
        self._fields = _fields_of(cls)
        self._session = session
        self._cls = cls
        self._converter = _DEFAULT_CONVERTER if converter is None else converter
        try:
            # Built once per class and converter, then cached by cattrs.
            self._converter.get_structure_hook(cls)
        except cattrs.errors.StructureHandlerNotFoundError as error:
            raise TypeError(
                f"{cls.__name__} cannot be loaded: the converter has no "
                f"structure hook for {_type_name(error.type_)}; register one "
                "on a converter from sessions.typed.make_converter()"
            ) from error
        self._written: dict[str, str] | None = None
        """The JSON text of each field as last read or written by this view;
        ``None`` before the first read or write."""
        self._open: T | None = None
        """The instance handed to the ``with`` block that is running."""

    @property
    def keys(self) -> tuple[str, ...]:
        """The session keys this view reads and writes, one per field."""
        return tuple(field.name for field in self._fields)

    def read(self) -> T:
        """Load the declared class from the session.

        A field missing from the session takes its default, and a key that
        is not a field is ignored. The instance shares nothing with the
        session: changing it changes the session only through
        :meth:`write`.

        Raises:
            SessionDataError: a field without a default is missing, or a
                stored value does not fit its field's type.
            SerializationError: a field's value (stored or default) has no
                JSON form with this converter, for example a type the
                converter has no hook for; the class can never be stored.
        """
        session = self._session
        stored = {
            field.name: copy.deepcopy(session[field.name])
            for field in self._fields
            if field.name in session
        }
        try:
            value = self._converter.structure(stored, self._cls)
        except Exception as error:
            key, reason = _cattrs_failure(error, self._cls)
            raise SessionDataError(
                key, f"cannot load {self._cls.__name__}: {reason}"
            ) from error
        if len(stored) < len(self._fields):
            # Missing fields hold their defaults, which may be one object
            # shared by every instance (a class-level ``[]``): a copy keeps
            # one session's changes out of the next one's.
            value = copy.deepcopy(value)

        document = self._unstructure(value)
        encoded = self._encode(document)
        for field in self._fields:
            if field.name in stored and not _same_json(
                stored[field.name], document[field.name]
            ):
                raise SessionDataError(
                    field.name,
                    f"cannot load {self._cls.__name__}: the stored value does not "
                    f"fit the field's type, {field.type_name} (loading it would "
                    "change it)",
                )
        self._written = encoded
        return value

    def write(self, value: T) -> frozenset[str]:
        """Store the fields of ``value`` that changed since this view last
        read or wrote; before any read, those that differ from the session.

        Only the keys of changed fields are set, so the rest of the session,
        and any change another request makes to them meanwhile, is left
        alone.

        Returns:
            The keys that were set.

        Raises:
            SerializationError: a field has no exact JSON form (its
                ``path`` says where).
            FieldValueError: a field's value does not fit its declared type.
            TypeError: ``value`` is not an instance of the declared class.
        """
        if not isinstance(value, self._cls):
            raise TypeError(
                f"this view stores {self._cls.__name__}, not {type(value).__name__}"
            )
        document = self._unstructure(value)
        encoded = self._encode(document)
        self._check_round_trip(value, document)

        baseline = self._written if self._written is not None else self._current()
        changed = frozenset(
            field.name
            for field in self._fields
            if encoded[field.name] != baseline.get(field.name)
        )
        for key in changed:
            # A copy, so that later changes to the instance do not reach
            # the session behind this view's back.
            self._session[key] = copy.deepcopy(document[key])
        self._written = encoded
        return changed

    def __enter__(self) -> T:
        if self._open is not None:
            raise UsageError("this TypedView is already open in a `with` block")
        value = self.read()
        self._open = value
        return value

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        value, self._open = self._open, None
        if exc_type is None and value is not None:
            self.write(value)

    # -- helpers ------------------------------------------------------------------

    def _unstructure(self, value: T) -> dict[str, Any]:
        """The JSON form of each stored field of ``value``."""
        try:
            document: object = self._converter.unstructure(value)
        except Exception as error:
            raise self._unstructure_error(value) from error
        if isinstance(document, dict) and all(
            field.name in document for field in self._fields
        ):
            return document
        raise UsageError(
            f"the converter does not store {self._cls.__name__} as an object "
            "with every field under its own name, which a TypedView needs "
            "(a converter that renames or omits fields cannot be used)"
        )

    def _unstructure_error(self, value: T) -> FieldValueError:
        """The error for a value the converter cannot unstructure, naming the
        first field it fails on on its own."""
        for field in self._fields:
            try:
                self._converter.unstructure(
                    getattr(value, field.name), unstructure_as=field.type_
                )
            except Exception:
                return FieldValueError(
                    field.name, f"the value cannot be stored as a {field.type_name}"
                )
        return FieldValueError("", f"{self._cls.__name__} cannot be stored")

    def _encode(self, document: dict[str, Any]) -> dict[str, str]:
        """The canonical JSON text of each field, checked as the session's
        commit checks its data.

        Raises:
            SerializationError: a field has no exact JSON form.
        """
        fields = {field.name: document[field.name] for field in self._fields}
        check_json_data(fields)
        return encode_values(fields)

    def _current(self) -> dict[str, str]:
        """The canonical JSON text of each field's key the session holds now."""
        current = {}
        for field in self._fields:
            if field.name in self._session:
                try:
                    current[field.name] = canonical_json(self._session[field.name])
                except (TypeError, ValueError, RecursionError):
                    continue  # not JSON: whatever is written replaces it
        return current

    def _check_round_trip(self, value: T, document: dict[str, Any]) -> None:
        """Raise :class:`FieldValueError` unless ``document`` (the JSON form
        of ``value``) loads back into an instance equal to ``value``."""
        name = self._cls.__name__
        try:
            restored = self._converter.structure(copy.deepcopy(document), self._cls)
        except Exception as error:
            key, reason = _cattrs_failure(error, self._cls)
            raise FieldValueError(
                key, f"{name}.{key} would not load back: {reason}"
            ) from error
        again = self._unstructure(restored)
        for field in self._fields:
            key = field.name
            if not _same_json(document[key], again[key]) or not _equal(
                getattr(value, key), getattr(restored, key)
            ):
                raise FieldValueError(
                    key,
                    f"{name}.{key} holds a value that does not fit its type, "
                    f"{field.type_name}: stored as JSON and loaded again "
                    "it would come back different",
                )


def _equal(written: object, loaded: object) -> bool:
    try:
        return bool(written == loaded)
    except Exception:  # an __eq__ that refuses the comparison
        return False
