"""Server-side HTTP sessions for every Python web framework.

A signed session-id cookie, the data in a server-side store, and the
request/response model of express-session, rebuilt as a sans-IO core
(:mod:`sessions.cycle`) with thin adapters in :mod:`sessions_adapters`.
"""

from sessions.config import CookieOptions, SessionConfig
from sessions.cycle import (
    ChangesDropped,
    ClearCookie,
    CookieWithheld,
    CycleState,
    Decision,
    Destroy,
    Effect,
    HeaderEffect,
    LoadSession,
    NoSession,
    RequestFacts,
    Save,
    SessionCycle,
    SessionReady,
    SetCookie,
    StoreAnswer,
    StoreEffect,
    StoreOperation,
    Touch,
    Update,
)
from sessions.errors import (
    ConfigError,
    InvalidSessionIdError,
    NoSessionError,
    SerializationError,
    SessionCommittedError,
    SessionError,
    SessionNotFoundError,
    StoreError,
    UsageError,
    WriteConflictError,
)
from sessions.records import SessionRecord
from sessions.runner import AsyncRunner, AsyncSession, SyncRunner, SyncSession
from sessions.session import Session, SessionCookie
from sessions.signing import IdSigner
from sessions.stores.base import (
    AsyncEnumerableStore,
    AsyncRenewingStore,
    AsyncStore,
    EnumerableStore,
    RenewingStore,
    Store,
)
from sessions.stores.memory import AsyncMemoryStore, MemoryStore
from sessions.typed import FieldValueError, SessionDataError, TypedView

__all__ = [
    "AsyncEnumerableStore",
    "AsyncMemoryStore",
    "AsyncRenewingStore",
    "AsyncRunner",
    "AsyncSession",
    "AsyncStore",
    "ChangesDropped",
    "ClearCookie",
    "ConfigError",
    "CookieOptions",
    "CookieWithheld",
    "CycleState",
    "Decision",
    "Destroy",
    "Effect",
    "EnumerableStore",
    "FieldValueError",
    "HeaderEffect",
    "IdSigner",
    "InvalidSessionIdError",
    "LoadSession",
    "MemoryStore",
    "NoSession",
    "NoSessionError",
    "RenewingStore",
    "RequestFacts",
    "Save",
    "SerializationError",
    "Session",
    "SessionCommittedError",
    "SessionConfig",
    "SessionCookie",
    "SessionCycle",
    "SessionDataError",
    "SessionError",
    "SessionNotFoundError",
    "SessionReady",
    "SessionRecord",
    "SetCookie",
    "Store",
    "StoreAnswer",
    "StoreEffect",
    "StoreError",
    "StoreOperation",
    "SyncRunner",
    "SyncSession",
    "Touch",
    "TypedView",
    "Update",
    "UsageError",
    "WriteConflictError",
]
