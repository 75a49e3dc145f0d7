"""Test kits for code built on this library; they need pytest and hypothesis
(``pip install 'sessions[testing]'``).

:class:`StoreConformance` and :class:`AsyncStoreConformance` check that a
session store keeps the store contract; see :mod:`sessions.testing.stores`.
"""

import pytest

# The checks live in a library module, where pytest would otherwise report a
# failed assertion without the values involved.
pytest.register_assert_rewrite("sessions.testing._checks")

from sessions.testing.stores import (  # noqa: E402
    AsyncStoreConformance,
    AsyncStoreFactory,
    StoreConformance,
)

__all__ = ["AsyncStoreConformance", "AsyncStoreFactory", "StoreConformance"]
