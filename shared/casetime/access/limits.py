"""Per-credential rate limits: a token bucket for each (credential, kind of request)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limit:
    per_second: float
    burst: int


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """``take`` answers 0 when the request may go ahead, else the seconds to wait (the
    ``Retry-After``). Buckets are kept per process: behind several replicas, the limit is per
    replica."""

    limits: dict[str, Limit]
    clock: Callable[[], float]
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)

    def take(self, holder: str, kind: str) -> int:
        limit = self.limits.get(kind)
        if limit is None:
            return 0
        now = self.clock()
        bucket = self._buckets.setdefault((holder, kind), _Bucket(float(limit.burst), now))
        bucket.tokens = min(limit.burst, bucket.tokens + (now - bucket.at) * limit.per_second)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0
        return max(1, math.ceil((1 - bucket.tokens) / limit.per_second))
