"""DynamoDB contention in moto, one test per rule: overlapping transactions, a single write on a
held item, a transaction after the window, the per-item write rate and a transaction's cost."""

import math
import threading
import time

import pytest
from botocore.exceptions import ClientError
from support import create_table, writes_until_refused

# Long windows, so that the second request surely lands inside the first one's.
WINDOW_SPEC = "conflict_ms=2000,item_wcu=0"
MIN_WINDOW_S = 1.0  # conflict_ms x 0.5
CONFLICT_REASON = "Transaction is ongoing for the item."


def put(table, pk, value):
    return {"Put": {"TableName": table, "Item": {"pk": {"S": pk}, "v": {"S": value}}}}


def value_of(dynamodb, table, pk):
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": pk}}, ConsistentRead=True)
    return item.get("Item", {}).get("v", {}).get("S")


class InFlight:
    """A transaction sent on a thread; `started()` returns once its write is visible."""

    def __init__(self, dynamodb, table, items):
        self.error = None
        self.took = None
        self._thread = threading.Thread(target=self._run, args=(dynamodb, items))
        self._thread.start()
        self._dynamodb, self._table = dynamodb, table

    def _run(self, dynamodb, items):
        began = time.monotonic()
        try:
            dynamodb.transact_write_items(TransactItems=items)
        except ClientError as e:
            self.error = e
        self.took = time.monotonic() - began

    def started(self, pk, value):
        deadline = time.monotonic() + 10
        while value_of(self._dynamodb, self._table, pk) != value:
            assert time.monotonic() < deadline, "the first transaction never started"
            time.sleep(0.005)
        return self

    def join(self):
        self._thread.join()
        assert self.error is None, self.error
        return self


def test_a_transaction_overlapping_another_on_one_item_is_cancelled_at_its_index_and_writes_nothing(
    harsh,
):
    harsh.set_spec(WINDOW_SPEC)
    dynamodb = harsh.client("dynamodb")
    table = create_table(dynamodb)
    first = InFlight(dynamodb, table, [put(table, "hot", "first")]).started("hot", "first")

    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            TransactItems=[put(table, "cold", "second"), put(table, "hot", "second")]
        )

    error = refused.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert error["CancellationReasons"] == [
        {"Code": "None"},
        {"Code": "TransactionConflict", "Message": CONFLICT_REASON},
    ]
    assert value_of(dynamodb, table, "cold") is None, "nothing of the cancelled one is written"
    assert value_of(dynamodb, table, "hot") == "first"
    assert len(harsh.injected("transaction_conflict", f"table={table} index=1 ")) == 1
    assert first.join().took >= MIN_WINDOW_S, "a transaction answers when its window ends"


@pytest.mark.parametrize(
    "write",
    [
        lambda d, t: d.put_item(TableName=t, Item={"pk": {"S": "hot"}, "v": {"S": "single"}}),
        lambda d, t: d.update_item(
            TableName=t,
            Key={"pk": {"S": "hot"}},
            UpdateExpression="SET v = :v",
            ExpressionAttributeValues={":v": {"S": "single"}},
        ),
        lambda d, t: d.delete_item(TableName=t, Key={"pk": {"S": "hot"}}),
    ],
    ids=["PutItem", "UpdateItem", "DeleteItem"],
)
def test_a_single_write_on_an_item_held_by_a_transaction_fails_with_transaction_conflict_exception(
    harsh, write
):
    harsh.set_spec(WINDOW_SPEC)
    dynamodb = harsh.client("dynamodb")
    table = create_table(dynamodb)
    first = InFlight(dynamodb, table, [put(table, "hot", "first")]).started("hot", "first")

    with pytest.raises(ClientError) as refused:
        write(dynamodb, table)

    error = refused.value.response
    assert error["Error"]["Code"] == "TransactionConflictException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "ongoing transaction for the item" in error["Error"]["Message"]
    assert value_of(dynamodb, table, "hot") == "first"
    assert len(harsh.injected("transaction_conflict", f"table={table} item=")) == 1
    first.join()


def test_a_transaction_after_the_window_succeeds(harsh):
    harsh.set_spec(WINDOW_SPEC)
    dynamodb = harsh.client("dynamodb")
    table = create_table(dynamodb)
    InFlight(dynamodb, table, [put(table, "hot", "first")]).started("hot", "first").join()

    dynamodb.transact_write_items(TransactItems=[put(table, "hot", "second")])
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "hot"}, "v": {"S": "third"}})

    assert value_of(dynamodb, table, "hot") == "third"
    assert harsh.injected("transaction_conflict", f"table={table} ") == []


def test_writes_past_item_wcu_per_second_are_throttled_until_the_bucket_refills(harsh):
    harsh.set_spec("conflict_ms=0,item_wcu=10")
    dynamodb = harsh.client("dynamodb")
    table = create_table(dynamodb)

    def write(n):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "hot"}, "n": {"N": str(n)}})

    done, took, error = writes_until_refused(write)

    # 10 units at once, and 10 more for each second the loop ran.
    assert 10 <= done <= 10 + math.ceil(10 * took) + 1, (done, took)
    assert error["Error"]["Code"] == "ThrottlingException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["throttlingReasons"] == [
        {
            "reason": "TableWriteKeyRangeThroughputExceeded",
            "resource": f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}",
        }
    ]
    assert "check if you have a hot key" in error["Error"]["Message"]
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "cold"}})  # another item has its own
    time.sleep(1.1)
    write(-1)
    assert len(harsh.injected("throttle", f"op=PutItem table={table} wcu=1 ")) == 1


def test_a_transactional_write_costs_twice_a_standard_one_and_a_throttled_one_writes_nothing(harsh):
    harsh.set_spec("conflict_ms=0,item_wcu=10")
    dynamodb = harsh.client("dynamodb")
    table = create_table(dynamodb)

    def write(n):
        dynamodb.transact_write_items(
            TransactItems=[put(table, f"cold-{n}", "x"), put(table, "hot", str(n))]
        )

    done, took, error = writes_until_refused(write)

    # 2 units a write: 5 at once, and 5 more for each second the loop ran.
    assert 5 <= done <= 5 + math.ceil(5 * took) + 1, (done, took)
    assert error["Error"]["Code"] == "TransactionCanceledException"
    reasons = error["CancellationReasons"]
    assert reasons[0] == {"Code": "None"}
    assert reasons[1]["Code"] == "ThrottlingError"
    assert "DynamoDB is automatically scaling your table" in reasons[1]["Message"]
    assert value_of(dynamodb, table, f"cold-{done}") is None, "nothing of it is written"
    assert len(harsh.injected("throttle", f"op=TransactWriteItems table={table} index=1 ")) == 1


def test_a_larger_item_costs_a_unit_per_started_kilobyte(harsh):
    harsh.set_spec("conflict_ms=0,item_wcu=10")
    dynamodb = harsh.client("dynamodb")
    table = create_table(dynamodb)
    filler = "x" * 1500  # with the key and names: between 1 and 2 KB, so 2 units a write

    def write(n):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "hot"}, "f": {"S": filler}})

    done, took, _ = writes_until_refused(write)

    assert 5 <= done <= 5 + math.ceil(5 * took) + 1, (done, took)
    assert harsh.injected("throttle", f"table={table} wcu=2 ") != []
