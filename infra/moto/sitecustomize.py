"""Loaded (through PYTHONPATH) by every moto server this project starts: the adapter tests'
harness and `orderflow local up` (which embeds this file). Real DynamoDB needs none of this.

1. Makes each DynamoDB API call atomic, as DynamoDB's own are. moto serves requests on
   threads and neither checks a condition and writes under a lock, nor applies a transaction
   atomically (it snapshots the tables and restores the snapshot on failure, undoing writes
   made by other threads meanwhile). Seen without this: two reservations of the last unit
   both succeeding, and stock set back after a concurrent reservation.
2. Writes each call's operation (X-Amz-Target) to the log, which otherwise shows "POST /".
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


_patch()
