"""Loaded (through PYTHONPATH) by every moto server this project starts: the adapter tests'
harness and `orderflow local up` (which embeds this file). Real DynamoDB needs none of this.

1. Makes each DynamoDB API call atomic, as DynamoDB's own are. moto serves requests on
   threads and neither checks a condition and writes under a lock, nor applies a transaction
   atomically (it snapshots the tables and restores the snapshot on failure, undoing writes
   made by other threads meanwhile). Seen without this: two reservations of the last unit
   both succeeding, and stock set back after a concurrent reservation.
2. Writes each call's operation (X-Amz-Target) to the log, which otherwise shows "POST /".
3. Makes TransactWriteItems cost what it touches. moto deep-copies every table a transaction
   names (once per item) so that it can roll back, which grows with the table: a 1,000-order
   run spent most of moto's time copying the orders table. Under the lock of (1) nothing else
   writes meanwhile, so checking every condition first and then applying the writes is the
   same all-or-nothing transaction; the items about to change are copied in case a write
   fails half-way, and put back if one does.
4. With `ORDERFLOW_HARSH_FILE` set, installs the harsh cloud (the `harsh` package beside this
   file): DynamoDB's transaction conflicts and per-item write rate, EventBridge's duplicate and
   late deliveries. Unset, nothing of it is installed.
5. Publishes SQS's `ApproximateAgeOfOldestMessage` to moto's CloudWatch, as SQS does on AWS
   (`sqs_metrics.py`; `ORDERFLOW_SQS_METRICS_SECONDS=0` turns it off).
"""

import sys
import threading

_dynamodb_lock = threading.RLock()


def _patch():
    from moto.core.responses import BaseResponse
    from moto.dynamodb.responses import DynamoHandler

    base_call = BaseResponse.call_action

    def logged_call(self):
        target = getattr(self, "headers", {}).get("X-Amz-Target")
        if target:
            print(f"call {target}", file=sys.stderr, flush=True)
        return base_call(self)

    BaseResponse.call_action = logged_call

    dynamodb_call = DynamoHandler.call_action

    def atomic_call(self):
        with _dynamodb_lock:
            return dynamodb_call(self)

    DynamoHandler.call_action = atomic_call

    _patch_transactions()


def _patch_transactions():
    import copy

    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import DynamoDBBackend

    def key_of(backend, op_type, op):
        if op_type != "Put":
            return op["Key"]
        attrs = op["Item"]
        table = backend.get_table(op["TableName"])
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return key

    def transact_write_items(self, transact_items):
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        ops, seen = [], set()
        for item in transact_items:
            if len(item) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            key = key_of(self, op_type, op)
            unique = (str(op["TableName"]), str(dict(sorted(key.items()))))
            if unique in seen:
                raise MultipleTransactionsException()
            seen.add(unique)
            ops.append((op_type, op, key))

        # Every condition first, against the items as they are: nothing is written yet.
        errors, before = [], []
        for op_type, op, key in ops:
            current = self.get_item(op["TableName"], key)
            before.append(copy.deepcopy(current) if current is not None else None)
            condition = op.get("ConditionExpression")
            if condition is not None:
                check = get_filter_expression(
                    condition,
                    op.get("ExpressionAttributeNames"),
                    op.get("ExpressionAttributeValues"),
                )
                if not check.expr(current):
                    old = None
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old = current.to_json()["Attributes"]
                    failed = ConditionalCheckFailed(item=old)
                    errors.append(("ConditionalCheckFailed", str(failed.message), old))
                    continue
            errors.append((None, None, None))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)

        # Then every write; undo the ones done if a later one fails.
        done = []
        try:
            for op_type, op, key in ops:
                names = op.get("ExpressionAttributeNames")
                values = op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(op["TableName"], op["Item"],
                                  expression_attribute_names=names,
                                  expression_attribute_values=values)
                elif op_type == "Delete":
                    self.delete_item(op["TableName"], key,
                                     expression_attribute_names=names,
                                     expression_attribute_values=values)
                elif op_type == "Update":
                    self.update_item(op["TableName"], key,
                                     update_expression=op["UpdateExpression"],
                                     expression_attribute_names=names,
                                     expression_attribute_values=values)
                done.append(len(done))
        except Exception:
            for index in reversed(done):
                _, op, key = ops[index]
                original = before[index]
                if original is None:
                    self.delete_item(op["TableName"], key)
                else:
                    self.put_item(op["TableName"], original.to_json()["Attributes"])
            raise

    DynamoDBBackend.transact_write_items = transact_write_items


_patch()

import harsh  # noqa: E402  (after the patches above, which the harsh cloud wraps)

harsh.install()

import sqs_metrics  # noqa: E402

sqs_metrics.install()
