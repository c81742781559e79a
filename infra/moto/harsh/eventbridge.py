"""EventBridge as AWS documents it: at-least-once and unordered, for rules with SQS targets.

moto delivers each matched event to its queue once, at once, in order. Here a seeded share of
deliveries is made twice (`eb_duplicate`, per mille) and a seeded share of copies is held back
by a random 0..`eb_delay_ms` on a timer thread (`eb_delay`, per mille), so events reach their
queue late and out of order. Sources: EventBridge User Guide, "How EventBridge retries
delivering events" (retries for up to 24 hours with exponential backoff and jitter, so a target
can get an event again and late); AWS re:Post, "EventBridge does not guarantee the order of the
events".
"""

import copy
import random
import threading
from typing import Any, Callable, Optional

from moto.events.models import Rule

from . import log
from .spec_file import SpecFile

_rng_lock = threading.Lock()
_rng: dict[str, Any] = {"seed": None, "random": random.Random()}


def install(spec_file: SpecFile) -> None:
    Rule._send_to_sqs_queue = _at_least_once(Rule._send_to_sqs_queue, spec_file)


def _at_least_once(deliver: Callable, spec_file: SpecFile) -> Callable:
    def send(self: Rule, resource_id: str, event: dict[str, Any], group_id: Optional[str] = None):
        spec = spec_file.current()
        if spec is None or not spec.injects_eventbridge_faults():
            return deliver(self, resource_id, event, group_id)
        where = {"rule": self.name, "target": resource_id, "event": event.get("id", "?")}
        copies = 1
        if _draw(spec.seed) * 1000 < spec.eb_duplicate:
            copies = 2
            log.injected("eventbridge_duplicate", **where)
        for n in range(copies):
            # moto rewrites the event's time as it sends: each copy gets its own.
            body = copy.deepcopy(event)
            delay_ms = 0
            if _draw(spec.seed) * 1000 < spec.eb_delay:
                delay_ms = int(_draw(spec.seed) * spec.eb_delay_ms)
            if delay_ms == 0:
                deliver(self, resource_id, body, group_id)
                continue
            log.injected("eventbridge_delay", **where, copy=n, delay_ms=delay_ms)
            late = (deliver, self, resource_id, body, group_id)
            timer = threading.Timer(delay_ms / 1000, _late, late)
            timer.daemon = True
            timer.start()

    return send


def _late(deliver: Callable, rule: Rule, resource_id: str, event: dict[str, Any], group_id) -> None:
    try:
        deliver(rule, resource_id, event, group_id)
    except Exception as e:  # the queue may be gone by now; AWS would retry, then drop it
        log.config(f"late delivery to {resource_id} failed: {e!r}")


def _draw(seed: int) -> float:
    """A seeded draw in [0, 1); which delivery gets which draw depends on arrival order."""
    with _rng_lock:
        if _rng["seed"] != seed:
            _rng["seed"] = seed
            _rng["random"] = random.Random(f"{seed}:eventbridge")
        return _rng["random"].random()
