"""Damaged session cookie values, for the tests that send what no honest
browser would."""

from __future__ import annotations

from tests.behaviour.harness import Server

__all__ = ["TAMPERINGS", "tampered"]

TAMPERINGS = [
    "unsigned",
    "id shortened",
    "id changed",
    "signature truncated",
    "signature missing a middle character",
    "signature character flipped",
    "last character flipped",
    "signature padded",
    "signature in standard base64",
    "invalid base64",
    "trailing dot",
    "lone dot",
    "two dots",
    "empty",
    "signature alone",
    "signature of an empty id",
    "dot percent-encoded",
    "signed with another secret",
]
"""Every way :func:`tampered` can damage a cookie value."""


def _other(character: str) -> str:
    return "B" if character == "A" else "A"


def tampered(server: Server, how: str, session_id: str = "abc") -> str:
    """The session cookie value for ``session_id``, damaged as ``how`` says
    (one of :data:`TAMPERINGS`)."""
    good = server.sign(session_id)
    _, _, signature = good.rpartition(".")
    middle = len(signature) // 2
    shorter = session_id[:-1]
    changed = shorter + _other(session_id[-1])
    return {
        "unsigned": session_id,
        "id shortened": f"{shorter}.{signature}",
        "id changed": f"{changed}.{signature}",
        "signature truncated": good[:-1],
        "signature missing a middle character": (
            f"{session_id}.{signature[:middle]}{signature[middle + 1 :]}"
        ),
        "signature character flipped": (
            f"{session_id}.{signature[:middle]}{_other(signature[middle])}"
            f"{signature[middle + 1 :]}"
        ),
        "last character flipped": good[:-1] + _other(good[-1]),
        "signature padded": good + "=",
        "signature in standard base64": (
            f"{session_id}.{signature.replace('-', '+').replace('_', '/')}"
            if "-" in signature or "_" in signature
            else f"{session_id}.+{signature[1:]}"
        ),
        "invalid base64": f"{session_id}." + "!" * len(signature),
        "trailing dot": f"{session_id}.",
        "lone dot": ".",
        "two dots": f"{session_id}..{signature}",
        "empty": "",
        "signature alone": "." + signature,
        "signature of an empty id": server.sign(""),
        "dot percent-encoded": f"{session_id}%2E{signature}",
        "signed with another secret": server.sign(session_id, secret="another secret"),
    }[how]
