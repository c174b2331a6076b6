"""Credentials and rate limits as pure values (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from casetime.access.credentials import (
    ALL_TEAMS,
    Kind,
    credential_id_of,
    mint,
    proves,
    rotated,
)
from casetime.access.limits import Limit, RateLimiter

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_a_minted_key_is_proven_by_its_own_string_only() -> None:
    minted = mint(Kind.SOURCE, "Mosaic", services=frozenset({"referrals"}), now=NOW)
    other = mint(Kind.SOURCE, "Mosaic", services=frozenset({"referrals"}), now=NOW)
    assert credential_id_of(minted.token) == minted.credential.id
    assert minted.token.startswith(f"ct_src_{minted.credential.id}_")
    assert proves(minted.token, minted.credential)
    assert not proves(other.token, minted.credential)
    tampered = minted.token[:-1] + ("A" if minted.token[-1] != "A" else "B")
    assert not proves(tampered, minted.credential)
    # only a hash is kept: the secret is nowhere in the stored credential
    secret = minted.token.rsplit("_", 1)[1]
    assert secret not in repr(minted.credential)
    assert secret not in minted.credential.secret_hash
    assert minted.credential.secret_hash.startswith("$argon2id$")


@pytest.mark.parametrize(
    "token", ["", "Bearer x", "ct_src_123_abc", "ct_xx_0123456789ab_" + "a" * 43, "ct_rd_" * 9]
)
def test_strings_that_are_not_credentials_name_none(token: str) -> None:
    assert credential_id_of(token) is None


def test_scopes() -> None:
    key = mint(Kind.SOURCE, "LCS", services=frozenset({"referrals", "placements"}), now=NOW)
    assert key.credential.may_post_to("placements")
    assert not key.credential.may_post_to("assessments")
    assert not key.credential.reads
    team = mint(Kind.READER, "TM North", teams=frozenset({"North Assessment"}), now=NOW)
    assert team.credential.sees_team("North Assessment")
    assert not team.credential.sees_team("South Assessment")
    assert not team.credential.may_post_to("referrals")
    everyone = mint(Kind.READER, "HoS", teams=frozenset({ALL_TEAMS}), now=NOW)
    assert everyone.credential.sees_team("South Assessment")
    board = mint(Kind.READER, "board", now=NOW)
    assert board.credential.reads
    assert not board.credential.sees_lists
    assert not board.credential.sees_team("North Assessment")


@pytest.mark.parametrize(
    ("kind", "name", "services", "why"),
    [
        (Kind.SOURCE, "Mosaic", frozenset(), "at least one service"),
        (Kind.SOURCE, " ", frozenset({"referrals"}), "needs a name"),
        (Kind.SOURCE, "x" * 41, frozenset({"referrals"}), "40 characters"),
        (Kind.READER, "someone", frozenset({"referrals"}), "does not post"),
    ],
)
def test_credentials_that_make_no_sense_are_refused(
    kind: Kind, name: str, services: frozenset[str], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        mint(kind, name, services=services, now=NOW)


def test_rotation_keeps_the_old_key_for_the_grace_period_only() -> None:
    old = mint(Kind.SOURCE, "Eclipse", services=frozenset({"assessments"}), now=NOW).credential
    ending, successor = rotated(old, NOW, timedelta(hours=24))
    assert ending.id == old.id
    assert ending.expires_at == NOW + timedelta(hours=24)
    assert successor.credential.id != old.id
    assert successor.credential.replaces == old.id
    assert successor.credential.services == old.services
    assert ending.valid_at(NOW + timedelta(hours=23))
    assert successor.credential.valid_at(NOW)
    assert not ending.valid_at(NOW + timedelta(hours=24))
    # rotating again never lengthens the old key's life
    again, _ = rotated(ending, NOW + timedelta(hours=1), timedelta(hours=48))
    assert again.expires_at == NOW + timedelta(hours=24)


def test_a_revoked_credential_is_not_valid_from_its_revocation() -> None:
    from dataclasses import replace

    credential = mint(Kind.READER, "analyst", now=NOW).credential
    revoked = replace(credential, revoked_at=NOW + timedelta(minutes=5))
    assert revoked.valid_at(NOW + timedelta(minutes=4))
    assert not revoked.valid_at(NOW + timedelta(minutes=5))


def test_the_rate_limiter_allows_a_burst_then_names_the_wait() -> None:
    clock = [100.0]
    limiter = RateLimiter({"post": Limit(per_second=2, burst=3)}, lambda: clock[0])
    assert [limiter.take("k1", "post") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("k1", "post") == 1  # a token comes back in half a second: wait 1 s
    assert limiter.take("k2", "post") == 0  # another key has its own bucket
    assert limiter.take("k1", "other kind") == 0  # no limit set for it
    clock[0] += 0.5
    assert limiter.take("k1", "post") == 0
    assert limiter.take("k1", "post") == 1
    slow = RateLimiter({"expensive": Limit(per_second=0.1, burst=1)}, lambda: clock[0])
    assert slow.take("k1", "expensive") == 0
    assert slow.take("k1", "expensive") == 10
