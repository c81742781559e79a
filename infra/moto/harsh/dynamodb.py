"""The contention model (`contention.py`) inside moto's DynamoDB, answering as DynamoDB does.

Sources (the DynamoDB API model, botocore `dynamodb/2012-08-10/service-2.json`, and the
Developer Guide, "Transaction conflict handling in DynamoDB"):
- a PutItem, UpdateItem or DeleteItem on an item that an ongoing TransactWriteItems includes
  fails with `TransactionConflictException` (HTTP 400);
- a TransactWriteItems that includes an item of another ongoing one fails with
  `TransactionCanceledException`, `CancellationReasons` in request order: `TransactionConflict`
  at the item's index, `None` elsewhere; nothing is written;
- a `TransactWriteItems` with a `ClientRequestToken` is idempotent for 10 minutes (`tokens.py`:
  a resend of an applied one succeeds without writing, another request under the token is
  `IdempotentParameterMismatchException`, one still in flight `TransactionInProgressException`);
  on whenever the spec file exists, as it is DynamoDB's nature;
- a write throttled on an on-demand table's hot key is `ThrottlingException` with
  `throttlingReasons` [{reason: TableWriteKeyRangeThroughputExceeded, resource: table ARN}];
  inside a transaction, the reason code `ThrottlingError` at that item's index.

A transaction's response is held back until its window ends (it is in flight until then), so a
caller never meets its own transaction; the writes themselves are applied at its start, under
moto's DynamoDB lock, and nothing else can write a held item meanwhile.
"""

import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from moto.dynamodb.exceptions import (
    ERROR_TYPE_PREFIX,
    DynamodbException,
    TransactionCanceledException,
)
from moto.core.responses import ActionResult
from moto.dynamodb.responses import DynamoHandler

from . import log
from .capacity import SINGLE, item_size, key_of
from .contention import Contention, write_units
from .spec import Spec
from .spec_file import SpecFile
from .tokens import Tokens, Verdict, fingerprint

# Messages as the API model documents them (TransactionConflictException; the cancellation
# reasons of TransactionCanceledException; ThrottlingError on an on-demand table).
CONFLICT_MESSAGE = "Operation was rejected because there is an ongoing transaction for the item."
CONFLICT_REASON = "Transaction is ongoing for the item."
THROTTLE_MESSAGE = (
    "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically "
    "scaling your table or index so please try again shortly. If exceptions persist, check if "
    "you have a hot key: "
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"
)
THROTTLE_REASON = "TableWriteKeyRangeThroughputExceeded"
IN_PROGRESS_MESSAGE = "A transaction with this ClientRequestToken is still in progress."
MISMATCH_MESSAGE = "This ClientRequestToken was used with different request parameters."

_model = Contention()
_tokens = Tokens()
_respond_at = threading.local()


class TransactionConflict(DynamodbException):
    def __init__(self) -> None:
        super().__init__(ERROR_TYPE_PREFIX + "TransactionConflictException", CONFLICT_MESSAGE)


class Throttled(DynamodbException):
    def __init__(self, table_arn: str) -> None:
        super().__init__(ERROR_TYPE_PREFIX + "ThrottlingException", THROTTLE_MESSAGE)
        reasons = [{"reason": THROTTLE_REASON, "resource": table_arn}]
        self.description = json.dumps(
            {"__type": self.error_type, "message": THROTTLE_MESSAGE, "throttlingReasons": reasons}
        )


class TransactionInProgress(DynamodbException):
    def __init__(self) -> None:
        super().__init__(ERROR_TYPE_PREFIX + "TransactionInProgressException", IN_PROGRESS_MESSAGE)


class IdempotentParameterMismatch(DynamodbException):
    def __init__(self) -> None:
        super().__init__(
            ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException", MISMATCH_MESSAGE
        )


@dataclass
class Target:
    """One item a request writes (or checks): where it is and how large it is, before and after."""

    table: Any
    key: dict[str, Any]
    before: int
    new: int
    writes: bool

    @property
    def item_id(self) -> tuple[str, str]:
        return (self.table.name, self.key_json)

    @property
    def key_json(self) -> str:
        return json.dumps(self.key, sort_keys=True, separators=(",", ":"))

    def units(self, transactional: bool) -> int:
        return write_units(max(self.before, self.new), transactional)

    def after(self, backend: Any) -> int:
        current = backend.get_item(self.table.name, self.key)
        return current.size() if current is not None else 0


def install(spec_file: SpecFile) -> None:
    for method, op in SINGLE.items():
        setattr(DynamoHandler, method, _single_write(getattr(DynamoHandler, method), op, spec_file))
    DynamoHandler.transact_write_items = _transaction(
        DynamoHandler.transact_write_items, spec_file
    )
    DynamoHandler.call_action = _answer_after_window(DynamoHandler.call_action)


def _active(spec_file: SpecFile) -> Optional[Spec]:
    spec = spec_file.current()
    if spec is None or (spec.conflict_ms == 0 and spec.item_wcu == 0):
        return None
    _model.configure(spec.item_wcu, spec.seed)
    return spec


def _single_write(original: Callable, op: str, spec_file: SpecFile) -> Callable:
    def write(self: DynamoHandler) -> Any:
        spec = _active(spec_file)
        if spec is None:
            return original(self)
        try:
            target = _target(self.dynamodb_backend, op, self.body, writes=True)
        except Exception:  # a malformed request: moto answers it with its own validation error
            return original(self)
        now = time.monotonic()
        if spec.conflict_ms and _model.held([target.item_id], now)[0]:
            log.injected(
                "transaction_conflict", op=op, table=target.table.name, item=target.key_json
            )
            raise TransactionConflict()
        units = target.units(transactional=False)
        if not _model.admit([(target.item_id, units)], now)[0]:
            log.injected(
                "throttle", op=op, table=target.table.name, wcu=units, item=target.key_json
            )
            raise Throttled(target.table.table_arn)
        try:
            return original(self)
        finally:
            _charge_growth(self.dynamodb_backend, target, units, transactional=False)

    return write


def _transaction(original: Callable, spec_file: SpecFile) -> Callable:
    def transact(self: DynamoHandler) -> Any:
        token = self.body.get("ClientRequestToken") if spec_file.current() else None
        if token is None:
            return _contended(self, original, spec_file)
        request, now = fingerprint(self.body), time.monotonic()
        verdict = _tokens.check(token, request, now)
        if verdict is Verdict.IN_PROGRESS:
            raise TransactionInProgress()
        if verdict is Verdict.MISMATCH:
            raise IdempotentParameterMismatch()
        if verdict is Verdict.REPLAY:
            return ActionResult({})
        result = _contended(self, original, spec_file)
        done_at = getattr(_respond_at, "value", None) or time.monotonic()
        _tokens.applied(token, request, done_at)
        return result

    return transact


def _contended(self: DynamoHandler, original: Callable, spec_file: SpecFile) -> Any:
    """The transaction under the contention model (or as moto runs it, when that is off)."""
    spec = _active(spec_file)
    if spec is None:
        return original(self)
    backend = self.dynamodb_backend
    try:
        targets = [_transact_target(backend, entry) for entry in self.body["TransactItems"]]
    except Exception:  # a malformed request: moto answers it with its own validation error
        return original(self)
    now = time.monotonic()
    if spec.conflict_ms:
        held = _model.held([t.item_id for t in targets], now)
        if any(held):
            _refuse(targets, held, "transaction_conflict", "TransactionConflict", CONFLICT_REASON)
    writes = [i for i, t in enumerate(targets) if t.writes]
    charges = [(targets[i].item_id, targets[i].units(transactional=True)) for i in writes]
    admitted = _model.admit(charges, now)
    if not all(admitted):
        throttled = [False] * len(targets)
        for i, ok in zip(writes, admitted):
            throttled[i] = not ok
        _refuse(targets, throttled, "throttle", "ThrottlingError", THROTTLE_MESSAGE)
    until = now + (_model.window(spec.conflict_ms) if spec.conflict_ms else 0.0)
    try:
        result = original(self)
    except TransactionCanceledException:
        # Cancelled by its own conditions, it was in flight all the same.
        _hold(targets, until)
        raise
    _hold(targets, until)
    for i, (_, units) in zip(writes, charges):
        _charge_growth(backend, targets[i], units, transactional=True)
    return result


def _refuse(targets: list[Target], hits: list[bool], kind: str, code: str, message: str) -> None:
    first = targets[hits.index(True)]
    indexes = ",".join(str(i) for i, hit in enumerate(hits) if hit)
    log.injected(
        kind, op="TransactWriteItems", table=first.table.name, index=indexes, item=first.key_json
    )
    raise TransactionCanceledException(
        [(code, message, None) if hit else (None, None, None) for hit in hits]
    )


def _hold(targets: list[Target], until: float) -> None:
    _model.hold([t.item_id for t in targets], until)
    _respond_at.value = until


def _charge_growth(backend: Any, target: Target, charged: int, transactional: bool) -> None:
    # DynamoDB charges the larger of the item's sizes before and after; only now is "after" known.
    if not target.writes:
        return
    try:
        after = target.after(backend)
    except Exception:
        return
    units = write_units(max(target.before, target.new, after), transactional)
    _model.charge(target.item_id, units - charged, time.monotonic())


def _answer_after_window(call_action: Callable) -> Callable:
    def call(self: DynamoHandler) -> Any:
        _respond_at.value = None
        try:
            return call_action(self)
        finally:
            # Outside moto's DynamoDB lock: other requests go on while this one is in flight.
            at = getattr(_respond_at, "value", None)
            _respond_at.value = None
            if at is not None:
                delay = at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    return call


def _transact_target(backend: Any, entry: dict[str, Any]) -> Target:
    op_type, op = next(iter(entry.items()))
    op_name = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}.get(op_type)
    return _target(backend, op_name or "ConditionCheck", op, writes=op_name is not None)


def _target(backend: Any, op: str, body: dict[str, Any], writes: bool) -> Target:
    table = backend.get_table(body["TableName"])
    key = key_of(backend, op, body)
    new = item_size(body["Item"]) if op == "PutItem" else 0
    current = backend.get_item(table.name, key)
    before = current.size() if current is not None else 0
    return Target(table=table, key=key, before=before, new=new, writes=writes)
