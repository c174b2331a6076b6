"""The HTTP adapter of access control: who is asking (a bearer credential), whether they may,
how often, and the audit entries their posts and list reads leave.

Every service's routes depend on one ``Gate``. Credentials are read from the access store and
kept for ``refresh_seconds``, so a revoked key stops working within that long; a verified
string is remembered (by its SHA-256) so that argon2 runs once per credential per process.
When the store cannot be read for longer than ``stale_seconds`` the gate refuses everyone
(503): it fails closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers

from casetime.access.credentials import (
    Credential,
    Kind,
    credential_id_of,
    fingerprint,
    proves,
)
from casetime.access.limits import Limit, RateLimiter
from casetime.access.store import AccessStore, AuditEntry
from casetime.errors import RefusedError, error_answer, error_responses
from casetime.settings import ServiceSettings

log = logging.getLogger(__name__)

POST, EXPENSIVE, PROOF = "post", "expensive", "proof"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="casetime"'}
# Declares the scheme in each OpenAPI document; the gate itself reads the header.
_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="credential",
    description="A source key (to post) or a reader token (to read), made by"
    " `casetime access` commands.",
)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
REFUSALS = error_responses(401, 403, 429)


def _unauthenticated(reason: str) -> RefusedError:
    return RefusedError(401, "authorization", reason, "unauthenticated", _CHALLENGE)


def forbidden(reason: str) -> RefusedError:
    return RefusedError(403, "authorization", reason, "forbidden", {})


# an unknown credential id reads the store again, at most this often
MISS_RELOAD_SECONDS = 0.25


@dataclass
class Gate:
    store: AccessStore
    limits: RateLimiter
    refresh_seconds: float = 2.0
    stale_seconds: float = 60.0
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _known: dict[str, Credential] = field(default_factory=dict)
    _loaded_at: float | None = None
    _next_load: float = 0.0
    _verified: dict[bytes, str] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def of(cls, settings: ServiceSettings) -> Gate:
        """The gate a service's settings describe: its store, limits and refresh period."""
        limits = {
            POST: Limit(
                settings.post_rate_per_second, max(1, int(settings.post_rate_per_second * 2))
            ),
            EXPENSIVE: Limit(settings.expensive_rate_per_second, 10),
            PROOF: Limit(5.0, 20),
        }
        return cls(
            AccessStore(settings.state_store_url),
            RateLimiter(limits, time.monotonic),
            settings.access_refresh_seconds,
        )

    async def _credentials(self) -> dict[str, Credential]:
        if time.monotonic() >= self._next_load:
            async with self._lock:
                if time.monotonic() >= self._next_load:
                    await self._load()
        if self._stale():
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "credentials cannot be checked now; retry later",
                headers={"Retry-After": "5"},
            )
        return self._known

    async def _reloaded_for_a_miss(self) -> dict[str, Credential]:
        """The credentials read again, so that one made a moment ago works at once; at most
        once in MISS_RELOAD_SECONDS however many unknown ids are tried."""
        loaded = self._loaded_at
        if loaded is None or time.monotonic() - loaded >= MISS_RELOAD_SECONDS:
            async with self._lock:
                loaded = self._loaded_at
                if loaded is None or time.monotonic() - loaded >= MISS_RELOAD_SECONDS:
                    await self._load()
        return self._known

    def _stale(self) -> bool:
        loaded = self._loaded_at
        return loaded is None or time.monotonic() - loaded > self.stale_seconds

    async def _load(self) -> None:
        # tried at most once a refresh period, whether it works or not
        self._next_load = time.monotonic() + self.refresh_seconds
        try:
            known = {c.id: c for c in await self.store.credentials()}
        except Exception as exc:
            log.warning("credentials unreadable (%s)%s", exc, "; refusing" if self._stale() else "")
            return
        self._known, self._loaded_at = known, time.monotonic()

    async def ready(self) -> bool:
        try:
            await self._credentials()
        except HTTPException:
            return False
        return True

    async def identify(self, headers: Mapping[str, str]) -> Credential:
        """The credential presented as ``Authorization: Bearer …`` (401 when there is none that
        is known, valid and proven)."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthenticated("send a credential: Authorization: Bearer <key or token>")
        token = token.strip()
        credential_id = credential_id_of(token)
        credential = (await self._credentials()).get(credential_id or "")
        if credential is None and credential_id is not None:
            credential = (await self._reloaded_for_a_miss()).get(credential_id)
        if credential is None:
            raise _unauthenticated("the credential is not one casetime knows")
        mark = fingerprint(token)
        if self._verified.get(mark) != credential.id:
            # each unproven string costs an argon2 hash: guessing is limited per credential
            self.limit(credential, PROOF)
            if not await asyncio.to_thread(proves, token, credential):
                raise _unauthenticated("the credential is not one casetime knows")
            self._verified[mark] = credential.id
        if not credential.valid_at(self.now()):
            why = "revoked" if credential.revoked_at is not None else "expired (rotated)"
            raise _unauthenticated(f"the credential was {why}")
        return credential

    def limit(self, credential: Credential, kind: str) -> None:
        wait = self.limits.take(credential.id, kind)
        if wait:
            raise RefusedError(
                429,
                "authorization",
                f"too many {kind} requests for this credential; retry in {wait} s",
                "rate_limited",
                {"Retry-After": str(wait)},
            )

    async def source_for(self, headers: Mapping[str, str], service: str) -> Credential:
        credential = await self.identify(headers)
        if credential.kind is not Kind.SOURCE:
            raise forbidden("a reader token cannot post events; use a source key")
        if not credential.may_post_to(service):
            raise forbidden(
                f"this source key may post to {', '.join(sorted(credential.services))},"
                f" not to {service}"
            )
        self.limit(credential, POST)
        return credential

    async def reader(self, headers: Mapping[str, str]) -> Credential:
        credential = await self.identify(headers)
        if not credential.reads:
            raise forbidden("a source key cannot read figures; use a reader token")
        return credential

    async def audit(self, actor: Credential, action: str, detail: dict[str, Any]) -> None:
        entry = AuditEntry(self.now(), actor.id, action, {"name": actor.name, **detail})
        await self.store.audit([entry])

    async def close(self) -> None:
        await self.store.dispose()


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ReadersOnly:
    """An ASGI app (``/metrics``) behind a reader token: Prometheus scrapes with one."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app, self.gate = app, gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                await self.gate.reader(Headers(scope=scope))
            except RefusedError as refused:
                await refused.answer()(scope, receive, send)
                return
            except HTTPException as unavailable:
                answer = error_answer(503, "authorization", str(unavailable.detail), "unavailable")
                answer.headers.update(unavailable.headers or {})
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
