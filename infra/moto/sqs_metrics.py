"""SQS's own CloudWatch metric `AWS/SQS ApproximateAgeOfOldestMessage`, which moto does not make.

On AWS, SQS publishes for every queue the age of its oldest message not yet deleted (received
or not), dimension `QueueName`, in seconds; alarms and dashboards read it from CloudWatch,
since no SQS call returns it. moto keeps the messages but publishes no metrics, so the
template's age-of-oldest alarms and the console's "age of oldest" had nothing to read.

A daemon thread puts the datum into moto's own CloudWatch for every queue of every account and
region every `ORDERFLOW_SQS_METRICS_SECONDS` (10 by default; AWS's resolution is a minute,
the local cloud's console wants it fresher; 0 turns it off). Clients read it with
`GetMetricData`/`GetMetricStatistics`, as they would on AWS. Messages still delayed do not
count (AWS's metric leaves them out too).
"""

import os
import threading
import time

VARIABLE = "ORDERFLOW_SQS_METRICS_SECONDS"
NAMESPACE = "AWS/SQS"
METRIC = "ApproximateAgeOfOldestMessage"


def oldest_age_seconds(messages, now_ms):
    """The age in whole seconds of the oldest message that is not delayed; 0 when none."""
    ages = [
        now_ms - m.sent_timestamp
        for m in messages
        if m.sent_timestamp is not None and not m.delayed
    ]
    return max(ages) // 1000 if ages else 0


def datum(queue_name, age_seconds):
    """Stamped by moto itself (its clock, in the form its queries compare with)."""
    return {
        "MetricName": METRIC,
        "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
        "Value": age_seconds,
        "Unit": "Seconds",
    }


def publish_once():
    """One datum per queue, into the CloudWatch of the queue's account and region."""
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.sqs.models import sqs_backends

    now_ms = int(time.time() * 1000)
    for account, regions in list(sqs_backends.items()):
        for region, backend in list(regions.items()):
            data = [
                datum(name, oldest_age_seconds(list(queue._messages), now_ms))
                for name, queue in list(backend.queues.items())
            ]
            if data:
                cloudwatch_backends[account][region].put_metric_data(NAMESPACE, data)


def install():
    period = float(os.environ.get(VARIABLE, "10") or "0")
    if period <= 0:
        return

    def loop():
        while True:
            time.sleep(period)
            try:
                publish_once()
            except Exception as e:  # a metric must never take the server down
                print(f"orderflow-sqs-metrics: {e!r}", flush=True)

    threading.Thread(target=loop, name="orderflow-sqs-metrics", daemon=True).start()
