"""The harsh cloud's lines in the moto log.

Every injected event is one line `orderflow-harsh: <kind> <field>=<value> ...` with kind one of
`transaction_conflict`, `throttle`, `eventbridge_duplicate`, `eventbridge_delay`; an `item=`
field (JSON) always comes last, as it may hold spaces. Lines about the spec itself start with
`orderflow-harsh-config:`, so a count of `^orderflow-harsh: (\\w+)` sees only injected events.
"""

import sys

PREFIX = "orderflow-harsh:"
CONFIG_PREFIX = "orderflow-harsh-config:"
KINDS = ("transaction_conflict", "throttle", "eventbridge_duplicate", "eventbridge_delay")


def injected(kind: str, **fields: object) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown injected kind {kind!r}")
    item = fields.pop("item", None)
    parts = [PREFIX, kind] + [f"{k}={v}" for k, v in fields.items()]
    if item is not None:
        parts.append(f"item={item}")
    _write(" ".join(parts))


def config(message: str) -> None:
    _write(f"{CONFIG_PREFIX} {message}")


def _write(line: str) -> None:
    # One write per line: moto serves requests on threads, and print() writes the newline apart.
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
