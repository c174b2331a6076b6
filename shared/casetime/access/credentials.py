"""Who may post and who may see: source keys and reader tokens, as pure values.

A credential is ``ct_<kind>_<id>_<secret>``: ``kind`` is ``src`` (a case system's source key)
or ``rd`` (a reader token), ``id`` names the stored row so a check hashes once, not against
every row, and ``secret`` is 256 random bits. Only an argon2id hash of the whole string is
stored; the string itself is shown once, when it is made.

Scopes:

- a **source key** names the source system it stamps on every event and the ingest services
  (referrals, assessments, placements) it may post to;
- a **reader token** sees aggregate figures (``/kpis``, ``/metrics``); with teams, also the
  child-level lists (open clocks, breaches, data quality) of those teams only (``*``: every
  team). A board token is a reader token with no teams.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from hashlib import sha256

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ALL_TEAMS = "*"
_TOKEN = re.compile(r"^ct_(src|rd)_([0-9a-f]{12})_([A-Za-z0-9_\-]{43})$")
# OWASP's second argon2id configuration (19 MiB, 2 passes): about 20 ms a check on this
# machine; a verified credential is remembered by its SHA-256, so it costs that once.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


class Kind(StrEnum):
    SOURCE = "src"
    READER = "rd"


@dataclass(frozen=True)
class Credential:
    """One stored credential (without its secret)."""

    id: str
    kind: Kind
    name: str  # source keys: the source system; tokens: who holds it
    services: frozenset[str] = frozenset()  # source keys: where it may post
    teams: frozenset[str] = frozenset()  # reader tokens: whose child-level rows it may see
    secret_hash: str = field(default="", repr=False)
    created_at: datetime | None = None
    expires_at: datetime | None = None  # set when rotated: valid until the grace ends
    revoked_at: datetime | None = None
    replaces: str | None = None

    def valid_at(self, now: datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or now < self.expires_at

    def may_post_to(self, service: str) -> bool:
        return self.kind is Kind.SOURCE and service in self.services

    @property
    def reads(self) -> bool:
        return self.kind is Kind.READER

    @property
    def sees_lists(self) -> bool:
        return self.reads and bool(self.teams)

    def sees_team(self, team: str) -> bool:
        return self.reads and (ALL_TEAMS in self.teams or team in self.teams)

    @property
    def scope(self) -> str:
        if self.kind is Kind.SOURCE:
            return "post: " + ", ".join(sorted(self.services))
        if not self.teams:
            return "figures only (board)"
        if ALL_TEAMS in self.teams:
            return "figures; lists of every team"
        return "figures; lists of " + ", ".join(sorted(self.teams))


@dataclass(frozen=True)
class Minted:
    credential: Credential
    token: str  # shown once, never stored


def mint(
    kind: Kind,
    name: str,
    *,
    services: frozenset[str] = frozenset(),
    teams: frozenset[str] = frozenset(),
    now: datetime,
    replaces: str | None = None,
) -> Minted:
    """A new credential and the one string that proves it."""
    if not name.strip():
        raise ValueError("a credential needs a name")
    if kind is Kind.SOURCE and len(name.strip()) > 40:
        raise ValueError(
            "a source system's name is at most 40 characters (it is stamped on events)"
        )
    if kind is Kind.SOURCE and not services:
        raise ValueError("a source key needs at least one service to post to")
    if kind is Kind.READER and services:
        raise ValueError("a reader token does not post")
    credential_id = secrets.token_hex(6)
    token = f"ct_{kind.value}_{credential_id}_{secrets.token_urlsafe(32)}"
    return Minted(
        Credential(
            id=credential_id,
            kind=kind,
            name=name.strip(),
            services=services,
            teams=teams,
            secret_hash=_HASHER.hash(token),
            created_at=now,
            replaces=replaces,
        ),
        token,
    )


def credential_id_of(token: str) -> str | None:
    """The stored row a presented string names, or None when it is not one of ours."""
    match = _TOKEN.match(token)
    return match.group(2) if match else None


def proves(token: str, credential: Credential) -> bool:
    try:
        return _HASHER.verify(credential.secret_hash, token)
    except (VerificationError, InvalidHashError):
        return False


def fingerprint(token: str) -> bytes:
    """What a verified string is remembered by in memory (never stored, never logged)."""
    return sha256(token.encode()).digest()


def rotated(old: Credential, now: datetime, grace: timedelta) -> tuple[Credential, Minted]:
    """``old`` valid for ``grace`` more, and its successor with the same scope."""
    successor = mint(
        old.kind, old.name, services=old.services, teams=old.teams, now=now, replaces=old.id
    )
    ends = now + grace
    if old.expires_at is not None:
        ends = min(ends, old.expires_at)
    return Credential(**{**old.__dict__, "expires_at": ends}), successor
