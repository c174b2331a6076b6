"""Pseudonymous ids for what a council's files name by its own ids. A return or the SSD names a
child by the case system's id (LAchildID, CHILD, person id): casetime must never hold it. The
child's id is a keyed hash of it (HMAC-SHA256 with the council's secret), so the same child has
the same id in every return and in the SSD feed, and nobody without the key can go back.

Ids are dotted groups of eight hex digits: never ten digits in a row (an NHS number's shape),
never a name's shape."""

from __future__ import annotations

import hashlib
import hmac


def _grouped(digest: str, groups: int = 2) -> str:
    return ".".join(digest[8 * n : 8 * n + 8] for n in range(groups))


class Pseudonyms:
    def __init__(self, key: str) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonym key must be at least 16 characters (keep it secret)")
        self._key = key.encode()

    def child(self, local_id: str) -> str:
        """The casetime child id of the case system's child id."""
        digest = hmac.new(self._key, b"child\x1f" + local_id.strip().encode(), hashlib.sha256)
        return "ch." + _grouped(digest.hexdigest())

    def token(self, kind: str, local_id: object) -> str:
        """A keyed token for any other id of the case system's (a referral, a plan, a
        worker), the same for the same id: ``kind`` says what it names."""
        text = f"{kind}\x1f{str(local_id).strip()}".encode()
        return f"{kind}." + _grouped(hmac.new(self._key, text, hashlib.sha256).hexdigest())


def stable_id(kind: str, *parts: object) -> str:
    """A deterministic id for an episode or event: ``kind`` and a hash of what identifies it
    (built from pseudonymous ids and dates, so it reveals nothing the parts do not)."""
    text = "\x1f".join(str(p) for p in parts)
    return f"{kind}." + _grouped(hashlib.sha256(text.encode()).hexdigest())
