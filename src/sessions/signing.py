"""Signing session ids for the cookie, with a rotating list of secrets.

The cookie carries ``<id>.<signature>``, where the signature is an
HMAC-SHA256 (computed by :mod:`itsdangerous`) of the id under a key derived
from the secret. The first secret of the list signs; every secret verifies.
Anything that does not verify, whatever its shape, is simply "no id".
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Sequence

from itsdangerous import Signer

__all__ = ["IdSigner"]

_SALT = b"sessions.cookie-id"

# The canonical unpadded URL-safe base64 text of an HMAC-SHA256 digest: 32
# bytes make 43 characters, and the last one carries only 4 bits of the
# digest, so its 2 low bits must be zero (one of 16 characters). Base64
# decoders ignore those bits; requiring them to be zero means a changed
# character is always a different cookie, never another spelling of the
# same signature.
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")

# URL-safe base64 back to the standard alphabet, which binascii decodes.
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


class IdSigner:
    """Signs and verifies session ids.

    :mod:`itsdangerous` derives each secret's key and computes the HMAC.
    The keys are derived once, here, rather than once per cookie checked.

    Args:
        secrets: The secrets, newest first. The first one signs.
    """

    __slots__ = ("_algorithm", "_keys", "_signer")

    def __init__(self, secrets: Sequence[bytes]) -> None:
        if not secrets:
            raise ValueError("at least one secret is needed")
        # itsdangerous signs with the last key of its list, so it gets the
        # secrets oldest first; the newest one signs. SHA-256 both derives
        # each key from its secret and computes the signature: changing
        # either would invalidate every cookie already issued.
        self._signer = Signer(
            list(reversed(secrets)),
            salt=_SALT,
            key_derivation="hmac",
            digest_method=hashlib.sha256,
        )
        self._algorithm = self._signer.algorithm  # HMAC with that digest
        self._keys = tuple(self._signer.derive_key(secret) for secret in secrets)

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
        session_id, _, signature = cookie_value.rpartition(".")
        return bool(session_id) and _SIGNATURE.fullmatch(signature) is not None

    def unsign(self, cookie_value: str) -> str | None:
        """Return the id inside ``cookie_value``, or ``None`` if it does not
        verify against any secret. Never raises on malformed input."""
        session_id, _, signature = cookie_value.rpartition(".")
        if not session_id or _SIGNATURE.fullmatch(signature) is None:
            return None
        try:
            data = session_id.encode("utf-8")
        except UnicodeError:  # a lone surrogate cannot be what was signed
            return None
        digest = binascii.a2b_base64(
            signature.encode("ascii").translate(_FROM_URLSAFE) + b"="
        )
        verify = self._algorithm.verify_signature
        for key in self._keys:
            if verify(key, data, digest):
                return session_id
        return None
