"""EventBridge at-least-once and unordered: a rule on the default bus to an SQS target, events
put in order, and what reaches the queue counted."""

import time

from support import Route


def test_every_delivery_is_made_twice_at_eb_duplicate_1000(harsh):
    harsh.set_spec("eb_duplicate=1000")
    route = Route(harsh)

    route.put(range(5))

    assert sorted(route.receive(10, within_s=10)) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    lines = harsh.injected("eventbridge_duplicate", f"rule={route.rule} target={route.queue} ")
    assert len(lines) == 5


def test_a_share_of_deliveries_is_made_twice_and_each_is_one_log_line(harsh):
    harsh.set_spec("eb_duplicate=500,seed=7")
    route = Route(harsh)

    route.put(range(40))

    duplicated = len(harsh.injected("eventbridge_duplicate", f"rule={route.rule} "))
    seqs = route.receive(40 + duplicated, within_s=10)
    assert len(seqs) == 40 + duplicated
    assert set(seqs) == set(range(40)), "every event arrives at least once"
    assert 5 < duplicated < 35, duplicated


def test_delayed_deliveries_reach_the_queue_late_and_out_of_order(harsh):
    harsh.set_spec("eb_delay=1000,eb_delay_ms=1500")
    route = Route(harsh)

    began = time.monotonic()
    route.put(range(10))
    at_once = route.sqs.get_queue_attributes(
        QueueUrl=route.url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    delays = harsh.injected("eventbridge_delay", f"rule={route.rule} ")

    assert int(at_once) < 10 or time.monotonic() - began > 1.5, "not all there at once"
    seqs = route.receive(10, within_s=10)
    assert sorted(seqs) == list(range(10)), "late, but each exactly once"
    assert seqs != sorted(seqs), "out of order"
    assert len(delays) >= 9 and all("delay_ms=" in line for line in delays)
