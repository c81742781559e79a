"""DynamoDB's contention, as a model with the clock passed in (the moto patch gives it
`time.monotonic()`; the unit tests give it numbers). Not thread-safe: moto's DynamoDB lock
already makes every call one at a time.

- In-flight transactions: a `TransactWriteItems` holds every item it includes from its start
  until its window ends; another request that includes a held item is refused.
- Per-item write rate: a token bucket per item of `item_wcu` write units, refilled at
  `item_wcu` per second. A write of up to 1 KB costs 1 unit, each further KB 1 more; a write
  inside a transaction costs twice that.
"""

import math
import random
from typing import Hashable, Optional, Sequence

WRITE_UNIT_BYTES = 1024
# A window is uniform in [LOW, HIGH] times conflict_ms: transactions do not all take as long.
WINDOW_LOW, WINDOW_HIGH = 0.5, 1.5
# Forget expired holds and refilled buckets every so many calls, so memory stays flat.
PURGE_EVERY = 1024

ItemId = Hashable


def write_units(size_bytes: int, transactional: bool) -> int:
    units = max(1, math.ceil(size_bytes / WRITE_UNIT_BYTES))
    return 2 * units if transactional else units


class Contention:
    def __init__(self) -> None:
        self._holds: dict[ItemId, float] = {}
        self._buckets: dict[ItemId, tuple[float, float]] = {}
        self._rate = 0
        self._seed: Optional[int] = None
        self._rng = random.Random()
        self._calls = 0

    def configure(self, item_wcu: int, seed: int) -> None:
        if item_wcu != self._rate:
            self._rate = item_wcu
            self._buckets.clear()
        if seed != self._seed:
            self._seed = seed
            self._rng = random.Random(f"{seed}:conflict_ms")

    def window(self, conflict_ms: int) -> float:
        """A transaction's in-flight time, in seconds (seeded; the draw order is arrival order)."""
        return conflict_ms * self._rng.uniform(WINDOW_LOW, WINDOW_HIGH) / 1000

    def held(self, items: Sequence[ItemId], now: float) -> list[bool]:
        self._tick(now)
        return [self._holds.get(item, now) > now for item in items]

    def hold(self, items: Sequence[ItemId], until: float) -> None:
        for item in items:
            self._holds[item] = max(until, self._holds.get(item, until))

    def admit(self, charges: Sequence[tuple[ItemId, int]], now: float) -> list[bool]:
        """Whether each item's bucket has its units; they are taken only if every one has."""
        self._tick(now)
        if self._rate <= 0:
            return [True] * len(charges)
        levels = [self._level(item, now) for item, _ in charges]
        # A full bucket lets one oversized write through (DynamoDB does not refuse a 2 KB item
        # to a limit of 1 unit per second; the bucket goes into debt instead).
        ok = [level >= units or level >= self._rate for level, (_, units) in zip(levels, charges)]
        if all(ok):
            for item, units in charges:
                self.charge(item, units, now)
        return ok

    def charge(self, item: ItemId, units: int, now: float) -> None:
        """Takes units whatever the level (a write found larger than admitted, once done)."""
        if self._rate <= 0 or units <= 0:
            return
        self._buckets[item] = (self._level(item, now) - units, now)

    def _level(self, item: ItemId, now: float) -> float:
        tokens, at = self._buckets.get(item, (float(self._rate), now))
        return min(float(self._rate), tokens + (now - at) * self._rate)

    def _tick(self, now: float) -> None:
        self._calls += 1
        if self._calls % PURGE_EVERY:
            return
        self._holds = {k: v for k, v in self._holds.items() if v > now}
        self._buckets = {
            k: v for k, v in self._buckets.items() if self._level(k, now) < self._rate
        }
