"""SQS's `ApproximateAgeOfOldestMessage` in moto's CloudWatch, as SQS publishes it on AWS."""

import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from support import MotoServer, unique

import sqs_metrics


def message(sent_ms, delayed=False):
    return SimpleNamespace(sent_timestamp=sent_ms, delayed=delayed)


def test_the_oldest_message_that_is_not_delayed_gives_the_age():
    now = 100_000
    messages = [message(95_000), message(60_500), message(10_000, delayed=True), message(None)]
    assert sqs_metrics.oldest_age_seconds(messages, now) == 39


def test_an_empty_queue_is_zero_seconds_old():
    assert sqs_metrics.oldest_age_seconds([], 100_000) == 0
    assert sqs_metrics.oldest_age_seconds([message(1, delayed=True)], 100_000) == 0


@pytest.fixture(scope="module")
def publishing(tmp_path_factory):
    server = MotoServer(
        tmp_path_factory.mktemp("sqs-metrics"),
        spec=None,
        env={sqs_metrics.VARIABLE: "0.5"},
    )
    yield server
    server.stop()


def latest_age(server, queue_name):
    now = datetime.now(timezone.utc)
    answer = server.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "age",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SQS",
                        "MetricName": "ApproximateAgeOfOldestMessage",
                        "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
                    },
                    "Period": 1,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=now - timedelta(seconds=3),
        EndTime=now + timedelta(seconds=1),
        ScanBy="TimestampDescending",
    )
    values = answer["MetricDataResults"][0]["Values"]
    return values[0] if values else None


def wait_for_age(server, queue_name, accept, within=15.0):
    deadline = time.monotonic() + within
    seen = None
    while time.monotonic() < deadline:
        seen = latest_age(server, queue_name)
        if seen is not None and accept(seen):
            return seen
        time.sleep(0.25)
    raise AssertionError(f"{queue_name}: last age seen {seen}")


def test_a_waiting_message_ages_and_a_deleted_one_leaves_the_queue_at_zero(publishing):
    sqs = publishing.client("sqs")
    name = unique("aged")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="first")
    wait_for_age(publishing, name, lambda age: age >= 2)
    # Received and not deleted, it still counts: the metric is about messages not deleted.
    received = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    wait_for_age(publishing, name, lambda age: age >= 3)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    wait_for_age(publishing, name, lambda age: age == 0)


def test_a_delayed_message_does_not_count_until_it_is_due(publishing):
    sqs = publishing.client("sqs")
    name = unique("delayed")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    time.sleep(2)
    assert wait_for_age(publishing, name, lambda age: True) == 0
