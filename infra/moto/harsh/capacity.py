"""DynamoDB's consumed capacity, returned when a request asks (`ReturnConsumedCapacity` TOTAL or
INDEXES), computed as DynamoDB bills it rather than moto's flat figures (1 per write, none for a
transaction).

Sources (Developer Guide, "DynamoDB read and write operations" and "Amazon DynamoDB
transactions"; pricing page, on-demand):
- a write unit is one write of up to 1 KB; an item's size is the larger of before and after;
  inside `TransactWriteItems` every item, `ConditionCheck` included, costs twice;
- a read unit is one strongly consistent read of up to 4 KB (an eventually consistent one half),
  a missing item still one read; `BatchGetItem` rounds each item up on its own, `Query` and
  `Scan` round the sum of what they read (approximated by what they return, scaled by
  ScannedCount / Count when a filter dropped items).

Installed whenever the harsh cloud is (the spec's contents do not matter: this is how DynamoDB
answers, not a fault); without the ask, answers are as moto gives them.
"""

import math
from typing import Any, Callable

from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.responses import DynamoHandler

from .contention import write_units

READ_UNIT_BYTES = 4096
# The single-item writes, by handler method (the contention model wraps the same ones).
SINGLE = {"put_item": "PutItem", "update_item": "UpdateItem", "delete_item": "DeleteItem"}


def read_units(size_bytes: int, consistent: bool) -> float:
    units = max(1, math.ceil(size_bytes / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def install() -> None:
    for method, op in SINGLE.items():
        setattr(DynamoHandler, method, _single(getattr(DynamoHandler, method), op))
    DynamoHandler.transact_write_items = _transaction(DynamoHandler.transact_write_items)
    DynamoHandler.get_item = _get(DynamoHandler.get_item)
    DynamoHandler.batch_get_item = _batch_get(DynamoHandler.batch_get_item)
    for method in ("query", "scan"):
        setattr(DynamoHandler, method, _range_read(getattr(DynamoHandler, method)))


def _asked(handler: DynamoHandler) -> bool:
    return handler.body.get("ReturnConsumedCapacity", "NONE") in ("TOTAL", "INDEXES")


def _answer(result: Any, table: str, units: float, kind: str, many: bool) -> Any:
    entry = {"TableName": table, "CapacityUnits": units, kind: units}
    result.result["ConsumedCapacity"] = [entry] if many else entry
    return result


def item_size(attrs: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it: every attribute's name and value."""
    return sum(bytesize(name) + DynamoType(value).size() for name, value in attrs.items())


def _stored_size(backend: Any, table: str, key: dict[str, Any]) -> int:
    try:
        item = backend.get_item(table, key)
    except Exception:
        return 0
    return item.size() if item is not None else 0


def key_of(backend: Any, op: str, body: dict[str, Any]) -> dict[str, Any]:
    """The key of the item a write names (a PutItem's from its item)."""
    if op != "PutItem":
        return body["Key"]
    table = backend.get_table(body["TableName"])
    key = {table.hash_key_attr: body["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = body["Item"][table.range_key_attr]
    return key


def _write_sizes(backend: Any, op: str, body: dict[str, Any]) -> tuple[str, dict, int]:
    """(table, key, the larger of the stored item and the new one) before the write."""
    table, key = body["TableName"], key_of(backend, op, body)
    new = item_size(body["Item"]) if op == "PutItem" else 0
    return table, key, max(new, _stored_size(backend, table, key))


def _single(original: Callable, op: str) -> Callable:
    def write(self: DynamoHandler) -> Any:
        if not _asked(self):
            return original(self)
        try:
            table, key, before = _write_sizes(self.dynamodb_backend, op, self.body)
        except Exception:
            return original(self)
        result = original(self)
        size = max(before, _stored_size(self.dynamodb_backend, table, key))
        return _answer(result, table, float(write_units(size, False)), "WriteCapacityUnits", False)

    return write


def _transaction(original: Callable) -> Callable:
    def transact(self: DynamoHandler) -> Any:
        if not _asked(self):
            return original(self)
        backend = self.dynamodb_backend
        try:
            items = []
            for entry in self.body["TransactItems"]:
                kind, body = next(iter(entry.items()))
                op = {"Put": "PutItem", "Update": "UpdateItem"}.get(kind, "DeleteItem")
                items.append(_write_sizes(backend, op, body))
        except Exception:
            return original(self)
        result = original(self)
        per_table: dict[str, float] = {}
        for table, key, before in items:
            size = max(before, _stored_size(backend, table, key))
            per_table[table] = per_table.get(table, 0.0) + write_units(size, True)
        result.result["ConsumedCapacity"] = [
            {"TableName": t, "CapacityUnits": u, "WriteCapacityUnits": u}
            for t, u in per_table.items()
        ]
        return result

    return transact


def _get(original: Callable) -> Callable:
    def get(self: DynamoHandler) -> Any:
        if not _asked(self):
            return original(self)
        table, key = self.body["TableName"], self.body["Key"]
        size = _stored_size(self.dynamodb_backend, table, key)
        result = original(self)
        units = read_units(size, bool(self.body.get("ConsistentRead")))
        return _answer(result, table, units, "ReadCapacityUnits", False)

    return get


def _batch_get(original: Callable) -> Callable:
    def batch_get(self: DynamoHandler) -> Any:
        if not _asked(self):
            return original(self)
        result = original(self)
        answer = []
        for table, request in self.body["RequestItems"].items():
            consistent = bool(request.get("ConsistentRead"))
            units = sum(
                read_units(_stored_size(self.dynamodb_backend, table, key), consistent)
                for key in request["Keys"]
            )
            answer.append({"TableName": table, "CapacityUnits": units, "ReadCapacityUnits": units})
        result.result["ConsumedCapacity"] = answer
        return result

    return batch_get


def _range_read(original: Callable) -> Callable:
    def read(self: DynamoHandler) -> Any:
        if not _asked(self):
            return original(self)
        result = original(self)
        body = result.result
        returned = sum(item_size(item) for item in body.get("Items", []))
        count, scanned = body.get("Count", 0), body.get("ScannedCount", 0)
        size = returned * scanned // count if count else 0
        units = read_units(size, bool(self.body.get("ConsistentRead")))
        return _answer(result, self.body["TableName"], units, "ReadCapacityUnits", False)

    return read
