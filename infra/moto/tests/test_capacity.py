"""Consumed capacity as DynamoDB bills it, returned when asked (`ReturnConsumedCapacity`)."""

from support import create_table

TOTAL = {"ReturnConsumedCapacity": "TOTAL"}


def item(pk, size=0):
    return {"pk": {"S": pk}, "v": {"S": "x" * size}}


def test_writes_cost_a_unit_per_started_kb_and_twice_inside_a_transaction(harsh):
    harsh.set_spec("conflict_ms=0,item_wcu=0")
    dynamodb = harsh.client("dynamodb")
    table = create_table(dynamodb)
    small = dynamodb.put_item(TableName=table, Item=item("a"), **TOTAL)
    assert small["ConsumedCapacity"]["CapacityUnits"] == 1.0
    big = dynamodb.put_item(TableName=table, Item=item("b", 2500), **TOTAL)
    assert big["ConsumedCapacity"]["CapacityUnits"] == 3.0
    # The item before the write counts when it is the larger.
    shrink = dynamodb.put_item(TableName=table, Item=item("b"), **TOTAL)
    assert shrink["ConsumedCapacity"]["CapacityUnits"] == 3.0
    transaction = dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": item("c")}},
            {"Put": {"TableName": table, "Item": item("d", 1500)}},
        ],
        **TOTAL,
    )
    assert transaction["ConsumedCapacity"] == [
        {"TableName": table, "CapacityUnits": 6.0, "WriteCapacityUnits": 6.0}
    ]
    assert "ConsumedCapacity" not in dynamodb.put_item(TableName=table, Item=item("e"))


def test_reads_cost_a_unit_per_started_4_kb_and_half_when_eventually_consistent(harsh):
    harsh.set_spec("conflict_ms=0,item_wcu=0")
    dynamodb = harsh.client("dynamodb")
    table = create_table(dynamodb)
    dynamodb.put_item(TableName=table, Item=item("a", 5000))
    dynamodb.put_item(TableName=table, Item=item("b"))
    key = {"pk": {"S": "a"}}
    strong = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True, **TOTAL)
    assert strong["ConsumedCapacity"]["CapacityUnits"] == 2.0
    eventual = dynamodb.get_item(TableName=table, Key=key, **TOTAL)
    assert eventual["ConsumedCapacity"]["CapacityUnits"] == 1.0
    batch = dynamodb.batch_get_item(
        RequestItems={table: {"Keys": [key, {"pk": {"S": "b"}}], "ConsistentRead": True}},
        **TOTAL,
    )
    assert batch["ConsumedCapacity"][0]["CapacityUnits"] == 3.0
