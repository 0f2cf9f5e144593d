"""Exponential backoff with jitter, shared by the REST retries and the WebSocket reconnects."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delay before retry number `attempt` (0-based): `initial * factor**attempt`, capped at `maximum`,
    then jittered ("equal jitter": half fixed, half random) so that many clients dropped at the same
    moment do not come back in lockstep, while none retries with no pause at all."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        return ceiling / 2 + random.uniform(0, ceiling / 2)
