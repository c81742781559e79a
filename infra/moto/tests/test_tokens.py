"""`ClientRequestToken` on TransactWriteItems, one test per rule: a resend of an applied
transaction succeeds without writing again, another request under the token is a mismatch, a
resend while the first is in flight is in progress, a cancelled one's token is not remembered,
and (model, clock passed in) a token is forgotten 10 minutes after its transaction completed.
Without the harsh cloud, moto ignores the token."""

import threading
import time

import pytest
from botocore.exceptions import ClientError
from harsh.tokens import TOKEN_TTL_S, Tokens, Verdict
from support import create_table, unique


def increment(table, pk):
    """A write that is not idempotent by itself: each run adds one."""
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": pk}},
            "UpdateExpression": "SET n = if_not_exists(n, :zero) + :one",
            "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"}},
        }
    }


def count(dynamodb, table, pk):
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": pk}}, ConsistentRead=True)
    return int(item.get("Item", {}).get("n", {}).get("N", "0"))


def test_a_resent_transaction_under_its_token_succeeds_without_writing_again(harsh):
    harsh.set_spec("conflict_ms=0,item_wcu=0")
    dynamodb = harsh.client("dynamodb")
    table, token = create_table(dynamodb), unique("tok")
    for _ in range(3):
        answer = dynamodb.transact_write_items(
            TransactItems=[increment(table, "a")], ClientRequestToken=token
        )
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert count(dynamodb, table, "a") == 1
    # Without a token, or under another, the same request runs again.
    dynamodb.transact_write_items(TransactItems=[increment(table, "a")])
    dynamodb.transact_write_items(
        TransactItems=[increment(table, "a")], ClientRequestToken=unique("tok")
    )
    assert count(dynamodb, table, "a") == 3


def test_another_request_under_a_used_token_is_an_idempotent_parameter_mismatch(harsh):
    harsh.set_spec("conflict_ms=0,item_wcu=0")
    dynamodb = harsh.client("dynamodb")
    table, token = create_table(dynamodb), unique("tok")
    dynamodb.transact_write_items(TransactItems=[increment(table, "a")], ClientRequestToken=token)
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            TransactItems=[increment(table, "b")], ClientRequestToken=token
        )
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert (count(dynamodb, table, "a"), count(dynamodb, table, "b")) == (1, 0)


def test_a_resend_while_the_first_is_in_flight_is_a_transaction_in_progress(harsh):
    harsh.set_spec("conflict_ms=2000,item_wcu=0")
    dynamodb = harsh.client("dynamodb")
    table, token = create_table(dynamodb), unique("tok")
    first = threading.Thread(
        target=dynamodb.transact_write_items,
        kwargs={"TransactItems": [increment(table, "a")], "ClientRequestToken": token},
    )
    first.start()
    deadline = time.monotonic() + 10
    while count(dynamodb, table, "a") == 0:
        assert time.monotonic() < deadline, "the first transaction never started"
        time.sleep(0.005)
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            TransactItems=[increment(table, "a")], ClientRequestToken=token
        )
    assert refused.value.response["Error"]["Code"] == "TransactionInProgressException"
    first.join()
    # Once it answered, the resend is a replay.
    dynamodb.transact_write_items(TransactItems=[increment(table, "a")], ClientRequestToken=token)
    assert count(dynamodb, table, "a") == 1
    assert harsh.injected("transaction_conflict", f"table={table} ") == []


def test_a_cancelled_transactions_token_is_not_remembered(harsh):
    harsh.set_spec("conflict_ms=0,item_wcu=0")
    dynamodb = harsh.client("dynamodb")
    table, token = create_table(dynamodb), unique("tok")
    guarded = increment(table, "a")
    guarded["Update"]["ConditionExpression"] = "attribute_exists(pk)"
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=[guarded], ClientRequestToken=token)
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}})
    dynamodb.transact_write_items(TransactItems=[guarded], ClientRequestToken=token)
    assert count(dynamodb, table, "a") == 1


def test_without_the_harsh_cloud_moto_ignores_the_token(plain):
    dynamodb = plain.client("dynamodb")
    table, token = create_table(dynamodb), unique("tok")
    for _ in range(2):
        dynamodb.transact_write_items(
            TransactItems=[increment(table, "a")], ClientRequestToken=token
        )
    assert count(dynamodb, table, "a") == 2


def test_a_token_is_remembered_for_ten_minutes_after_its_transaction_completed():
    assert TOKEN_TTL_S == 600
    tokens = Tokens()
    assert tokens.check("t", "req", 0.0) is Verdict.NEW
    tokens.applied("t", "req", done_at=0.5)
    assert tokens.check("t", "req", 0.2) is Verdict.IN_PROGRESS
    assert tokens.check("t", "other", 0.2) is Verdict.MISMATCH
    assert tokens.check("t", "req", 0.5) is Verdict.REPLAY
    assert tokens.check("t", "other", 300.0) is Verdict.MISMATCH
    assert tokens.check("t", "req", 600.4) is Verdict.REPLAY
    assert tokens.check("t", "other", 600.5) is Verdict.NEW
    assert tokens.check("t", "req", 600.6) is Verdict.NEW, "forgotten: a new request"
    assert tokens.check("u", "req", 1.0) is Verdict.NEW
