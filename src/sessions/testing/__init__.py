"""Test kits for code built on this library; they need pytest and hypothesis
(``pip install 'sessions[testing]'``).

:class:`StoreConformance` and :class:`AsyncStoreConformance` check that a
session store keeps the store contract; see :mod:`sessions.testing.stores`.

For testing an application: :class:`ManualClock` and :class:`SequentialIds`
make time and session ids predictable, :mod:`sessions.testing.strategies`
holds hypothesis strategies, and :mod:`sessions.testing.clients` a test
client with a cookie jar for each framework.
"""

import pytest

# The checks live in a library module, where pytest would otherwise report a
# failed assertion without the values involved.
pytest.register_assert_rewrite("sessions.testing._checks")

from sessions.testing.clock import ManualClock  # noqa: E402
from sessions.testing.ids import SequentialIds  # noqa: E402
from sessions.testing.stores import (  # noqa: E402
    AsyncStoreConformance,
    AsyncStoreFactory,
    StoreConformance,
)

__all__ = [
    "AsyncStoreConformance",
    "AsyncStoreFactory",
    "ManualClock",
    "SequentialIds",
    "StoreConformance",
]
