"""Handler code as a user writes it with :class:`sessions.TypedView`.

This module is never run; it is type-checked, by the project's ``mypy``
run and by ``test_typed_types.py``. Each ``assert_type`` states what a type
checker must see, and fails if the type is wrong or has decayed to ``Any``.
Each line marked ``# type: ignore[code]`` is a mistake the checker must
catch with that error code: ``test_typed_types.py`` removes the marks and
checks that every one of those lines is reported, and the strict
configuration (``warn_unused_ignores``) reports a mark that stopped being
needed.
"""

from __future__ import annotations

import dataclasses

import attrs
from typing_extensions import assert_type

from sessions import AsyncSession, Session, SyncSession, TypedView


@attrs.define
class Visit:
    user_id: int | None = None
    cart: list[str] = attrs.Factory(list)


@dataclasses.dataclass
class Preferences:
    theme: str = "light"
    page_size: int = 20


def wsgi_handler(session: SyncSession) -> None:
    with TypedView(session, Visit) as visit:
        assert_type(visit, Visit)
        assert_type(visit.user_id, int | None)
        assert_type(visit.cart, list[str])
        visit.cart.append("book")
        visit.user_id = 7

        # A list of str takes no int, and the id is no str.
        visit.cart.append(3)  # type: ignore[arg-type]
        visit.user_id = "ada"  # type: ignore[assignment]
        # Fields are declared, not made up.
        visit.basket = []  # type: ignore[attr-defined]
    session.save()


async def async_handler(session: AsyncSession) -> None:
    view = TypedView(session, Preferences)
    assert_type(view, TypedView[Preferences])
    preferences = view.read()
    assert_type(preferences, Preferences)
    assert_type(preferences.theme, str)
    assert_type(preferences.page_size, int)

    preferences.page_size = 50
    changed = view.write(preferences)
    assert_type(changed, frozenset[str])
    await session.save()

    # A view of one class stores only that class.
    view.write(Visit())  # type: ignore[arg-type]

    # The same view over an async session, as over a sync one.
    with TypedView(session, Visit) as visit:
        assert_type(visit.cart, list[str])
        assert_type(visit.cart.pop(), str)


def any_mapping(data: dict[str, object]) -> int:
    # Any mutable mapping of str keys will do, such as a framework's own
    # dict session.
    with TypedView(data, Preferences) as preferences:
        assert_type(preferences.page_size, int)
        return preferences.page_size


def plain_handler(session: Session) -> str:
    # The data class is the source of truth: a wrong return type is caught.
    with TypedView(session, Visit) as visit:
        return visit.user_id  # type: ignore[return-value]
