"""The harsh cloud's spec: `kind=value` pairs, comma- or whitespace-separated, in the style of
`ORDERFLOW_FAULTS`, e.g. `conflict_ms=25,item_wcu=1000,eb_duplicate=50,eb_delay=100,seed=7`.

Two parts. The cloud's nature (`conflict_ms`, `item_wcu`) is on with AWS's figures unless the
spec sets it to 0: DynamoDB always behaves so. The injected faults (`eb_duplicate`, `eb_delay`)
are off unless the spec gives a rate: a run switches them off by rewriting the spec.
"""

from dataclasses import dataclass, fields

# Keys that describe how AWS behaves; a run leaves them on.
NATURE = ("conflict_ms", "item_wcu", "seed")
# Keys of the faults a run injects and may switch off mid-run.
INJECTED = ("eb_duplicate", "eb_delay", "eb_delay_ms")
PER_MILLE = ("eb_duplicate", "eb_delay")


class SpecError(ValueError):
    pass


@dataclass(frozen=True)
class Spec:
    # Mean in-flight time of a TransactWriteItems, in ms (0: transactions never overlap).
    conflict_ms: int = 25
    # Write units per second one item accepts (0: no limit). DynamoDB's per-partition limit.
    item_wcu: int = 1000
    # Per mille of EventBridge deliveries to an SQS target made twice.
    eb_duplicate: int = 0
    # Per mille of EventBridge deliveries held back by a random 0..eb_delay_ms.
    eb_delay: int = 0
    eb_delay_ms: int = 2000
    seed: int = 0

    def injects_eventbridge_faults(self) -> bool:
        return self.eb_duplicate > 0 or self.eb_delay > 0


def parse(text: str) -> Spec:
    known = {f.name for f in fields(Spec)}
    values: dict[str, int] = {}
    for part in text.replace(",", " ").split():
        key, sep, value = part.partition("=")
        if not sep:
            raise SpecError(f"{part!r} is not kind=value")
        if key not in known:
            raise SpecError(f"unknown kind {key!r} (known: {', '.join(sorted(known))})")
        try:
            number = int(value)
        except ValueError:
            raise SpecError(f"{key}: {value!r} is not a whole number") from None
        if number < 0:
            raise SpecError(f"{key}: {number} is negative")
        if key in PER_MILLE and number > 1000:
            raise SpecError(f"{key}: {number} is not a per-mille (0..=1000)")
        values[key] = number
    return Spec(**values)
