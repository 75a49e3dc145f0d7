"""Signing session ids for the cookie, with a rotating list of secrets.

The cookie carries ``<id>.<signature>``, where the signature is an
HMAC-SHA256 (computed by :mod:`itsdangerous`) of the id under a key derived
from the secret. The first secret of the list signs; every secret verifies.
Anything that does not verify, whatever its shape, is simply "no id".
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from itsdangerous import BadSignature, Signer, want_bytes
from itsdangerous.encoding import base64_decode, base64_encode

__all__ = ["IdSigner"]

_SALT = b"sessions.cookie-id"
# An HMAC-SHA256 digest (32 bytes) in unpadded URL-safe base64.
_SIGNATURE_LENGTH = 43


class _KeyCachingSigner(Signer):
    """An itsdangerous signer that derives each secret's key once, instead
    of once per signature it makes or checks."""

    def __init__(self, secrets: list[bytes], **options: Any) -> None:
        super().__init__(secrets, **options)
        self._derived: dict[bytes, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        derived = self._derived.get(key)
        if derived is None:
            derived = self._derived[key] = super().derive_key(key)
        return derived


class IdSigner:
    """Signs and verifies session ids.

    Args:
        secrets: The secrets, newest first. The first one signs.
    """

    __slots__ = ("_signer",)

    def __init__(self, secrets: Sequence[bytes]) -> None:
        if not secrets:
            raise ValueError("at least one secret is needed")
        # itsdangerous signs with the last key of its list and verifies with
        # every key, so it gets the secrets oldest first.
        self._signer = _KeyCachingSigner(
            list(reversed(secrets)),
            salt=_SALT,
            key_derivation="hmac",
            digest_method=hashlib.sha256,
        )

    def sign(self, session_id: str) -> str:
        """Return the cookie value for ``session_id``."""
        return self._signer.sign(session_id).decode("ascii")

    @staticmethod
    def looks_signed(cookie_value: str) -> bool:
        """Whether ``cookie_value`` has the shape of a signed id: something,
        a ``.``, and the canonical base64 text of an HMAC-SHA256 digest.

        A cheap test, with no cryptography, so a header full of junk costs
        no signature checks.
        """
        session_id, dot, signature = cookie_value.rpartition(".")
        if not (dot and session_id) or len(signature) != _SIGNATURE_LENGTH:
            return False
        if not signature.isascii():
            return False
        # Base64 lets the last character vary in bits that decoding drops,
        # so several texts decode to one signature. Only the canonical text
        # counts: any changed character is a different cookie.
        try:
            return base64_encode(base64_decode(signature)).decode("ascii") == signature
        except Exception:  # itsdangerous raises BadData or binascii errors
            return False

    def unsign(self, cookie_value: str) -> str | None:
        """Return the id inside ``cookie_value``, or ``None`` if it does not
        verify against any secret. Never raises on malformed input."""
        if not self.looks_signed(cookie_value):
            return None
        try:
            session_id = self._signer.unsign(cookie_value)
        except (BadSignature, UnicodeError, ValueError):
            return None
        if not session_id:
            return None
        return session_id.decode("utf-8")
