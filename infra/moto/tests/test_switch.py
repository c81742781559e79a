"""The switch: a rewritten spec turns the injected faults off while moto runs (the cloud's
nature stays), a missing file turns everything off, and without `ORDERFLOW_HARSH_FILE` moto
behaves as it did before the harsh cloud."""

import threading

from botocore.exceptions import ClientError
from support import Route, create_table, writes_until_refused


def concurrent_transactions(server, count):
    """`count` transactions on one item sent at once; the error codes of those refused."""
    dynamodb = server.client("dynamodb")
    table = create_table(dynamodb)
    start, errors = threading.Barrier(count), []

    def send(n):
        start.wait()
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": {"pk": {"S": "hot"}, "n": {"N": str(n)}}}}
                ]
            )
        except ClientError as e:
            errors.append(e.response["Error"]["Code"])

    threads = [threading.Thread(target=send, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_rewriting_the_spec_switches_the_injected_faults_off_without_a_restart(harsh):
    harsh.set_spec("conflict_ms=0,item_wcu=10,eb_duplicate=1000")
    route = Route(harsh)
    route.put([0, 1, 2])
    assert sorted(route.receive(6, within_s=10)) == [0, 0, 1, 1, 2, 2]
    pid = harsh.process.pid

    harsh.set_spec("conflict_ms=0,item_wcu=10")  # the same cloud, its injected faults dropped
    route.put([3, 4, 5])

    assert sorted(route.receive(3, within_s=10)) == [3, 4, 5]
    assert harsh.process.pid == pid and harsh.process.poll() is None, "moto was not restarted"
    dynamodb = harsh.client("dynamodb")
    table = create_table(dynamodb)
    done, _, error = writes_until_refused(
        lambda n: dynamodb.put_item(TableName=table, Item={"pk": {"S": "hot"}})
    )
    assert error["Error"]["Code"] == "ThrottlingException", "the cloud's nature stays on"


def test_a_missing_spec_file_switches_everything_off(harsh):
    harsh.set_spec("conflict_ms=0,item_wcu=1")
    dynamodb = harsh.client("dynamodb")
    table = create_table(dynamodb)
    harsh.spec_path.unlink()
    try:
        for n in range(50):
            dynamodb.put_item(TableName=table, Item={"pk": {"S": "hot"}, "n": {"N": str(n)}})
    finally:
        harsh.set_spec("conflict_ms=0,item_wcu=0")
    assert harsh.injected("throttle", f"table={table} ") == []


def test_without_the_variable_moto_behaves_as_before(plain, harsh):
    harsh.set_spec("conflict_ms=200")  # with the harsh cloud, concurrent transactions conflict
    assert "TransactionCanceledException" in concurrent_transactions(harsh, 12)

    assert concurrent_transactions(plain, 12) == [], "no conflicts without the variable"
    dynamodb = plain.client("dynamodb")
    table = create_table(dynamodb)
    for n in range(100):  # the harsh cloud at item_wcu=10 refuses these after about 10
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "hot"}, "n": {"N": str(n)}})
    route = Route(plain)
    route.put(range(5))
    assert route.receive(5, within_s=10) == [0, 1, 2, 3, 4], "each event once, in order"
    log = plain.log.read_text()
    assert "orderflow-harsh" not in log
    assert "Error in sitecustomize" not in log, "the patch itself loaded"
