"""DynamoDB's `ClientRequestToken` on `TransactWriteItems`, as a model with the clock passed in
(the moto patch gives it `time.monotonic()`; the unit tests give it numbers). Not thread-safe:
moto's DynamoDB lock already makes every call one at a time.

Rules (API reference, TransactWriteItems `ClientRequestToken`, and the errors
`IdempotentParameterMismatchException`, `TransactionInProgressException`):
- a token is remembered from the transaction that applied it until 10 minutes after that
  transaction completed; past that, the same token is a new request;
- the same token with the same request in that time: success, nothing written again;
- the same token with another request (any other parameter) in that time:
  `IdempotentParameterMismatchException`;
- the same token while its transaction is still in flight: `TransactionInProgressException`;
- a transaction that was cancelled (a condition, a conflict, a throttle) wrote nothing and its
  token is not remembered: the same request again runs anew.
"""

import enum
import json
from typing import Any

# How long after its transaction completed a token is remembered (the API reference's figure).
TOKEN_TTL_S = 600.0
# Forget expired tokens every so many calls, so memory stays flat.
PURGE_EVERY = 1024


class Verdict(enum.Enum):
    NEW = "new"
    REPLAY = "replay"
    MISMATCH = "mismatch"
    IN_PROGRESS = "in_progress"


def fingerprint(body: dict[str, Any]) -> str:
    """What "the same request" means: every parameter but the token itself."""
    rest = {k: v for k, v in body.items() if k != "ClientRequestToken"}
    return json.dumps(rest, sort_keys=True, separators=(",", ":"))


class Tokens:
    def __init__(self, ttl_s: float = TOKEN_TTL_S) -> None:
        self._ttl_s = ttl_s
        # token -> (fingerprint of its request, when its transaction completes)
        self._applied: dict[str, tuple[str, float]] = {}
        self._calls = 0

    def check(self, token: str, request: str, now: float) -> Verdict:
        self._tick(now)
        entry = self._applied.get(token)
        if entry is None:
            return Verdict.NEW
        applied_request, done_at = entry
        if now >= done_at + self._ttl_s:
            del self._applied[token]
            return Verdict.NEW
        if applied_request != request:
            return Verdict.MISMATCH
        if now < done_at:
            return Verdict.IN_PROGRESS
        return Verdict.REPLAY

    def applied(self, token: str, request: str, done_at: float) -> None:
        """The transaction under `token` was applied; it completes (answers) at `done_at`."""
        self._applied[token] = (request, done_at)

    def _tick(self, now: float) -> None:
        self._calls += 1
        if self._calls % PURGE_EVERY:
            return
        self._applied = {
            k: v for k, v in self._applied.items() if now < v[1] + self._ttl_s
        }
