"""The harsh cloud's parts that need no server: the spec, the contention model (with the clock
passed in) and the log line format."""

import io
import re
import sys

import pytest
from harsh import log
from harsh.contention import Contention, write_units
from harsh.spec import Spec, SpecError, parse


def test_an_empty_spec_is_the_clouds_nature_with_no_injected_faults():
    spec = parse("")
    assert (spec.conflict_ms, spec.item_wcu) == (25, 1000)
    assert not spec.injects_eventbridge_faults()


def test_a_spec_sets_each_kind_and_bad_specs_are_refused_with_the_reason():
    spec = parse("conflict_ms=40, item_wcu=20\neb_duplicate=50 eb_delay=100,eb_delay_ms=500,seed=7")
    assert spec == Spec(40, 20, 50, 100, 500, 7)
    for bad, reason in [
        ("conflict_ms", "not kind=value"),
        ("conflict_ms=x", "not a whole number"),
        ("eb_duplicate=1001", "per-mille"),
        ("item_wcu=-1", "negative"),
        ("explode=1", "unknown kind"),
    ]:
        with pytest.raises(SpecError, match=reason):
            parse(bad)


def test_a_write_costs_one_unit_per_started_kilobyte_and_twice_that_in_a_transaction():
    assert [write_units(n, False) for n in (0, 1, 1024, 1025, 2048, 2049)] == [1, 1, 1, 2, 2, 3]
    assert [write_units(n, True) for n in (0, 1024, 1025)] == [2, 2, 4]


def test_a_held_item_is_held_until_its_window_ends_and_only_that_item():
    model = Contention()
    model.hold(["a", "b"], until=10.0)
    assert model.held(["a", "b", "c"], now=9.999) == [True, True, False]
    assert model.held(["a"], now=10.0) == [False]


def test_a_longer_hold_is_not_shortened_by_a_shorter_one():
    model = Contention()
    model.hold(["a"], until=10.0)
    model.hold(["a"], until=5.0)
    assert model.held(["a"], now=7.0) == [True]


def test_the_bucket_admits_item_wcu_units_then_refuses_until_it_refills():
    model = Contention()
    model.configure(item_wcu=10, seed=0)
    admitted = [model.admit([("x", 1)], now=0.0)[0] for _ in range(11)]
    assert admitted == [True] * 10 + [False]
    assert model.admit([("x", 1)], now=0.05) == [False], "half a unit refilled"
    assert model.admit([("x", 1)], now=0.1) == [True], "one unit refilled after 1/10 s"
    assert model.admit([("y", 1)], now=0.1) == [True], "another item has its own bucket"


def test_a_refused_transaction_takes_nothing_from_any_bucket():
    model = Contention()
    model.configure(item_wcu=4, seed=0)
    assert model.admit([("hot", 4)], now=0.0) == [True]
    assert model.admit([("cold", 2), ("hot", 2)], now=0.0) == [True, False]
    assert model.admit([("cold", 4)], now=0.0) == [True], "cold kept its 4 units"


def test_a_full_bucket_lets_one_oversized_write_through_into_debt():
    model = Contention()
    model.configure(item_wcu=2, seed=0)
    assert model.admit([("x", 6)], now=0.0) == [True]
    assert model.admit([("x", 1)], now=2.0) == [False], "4 in debt, refilled 4: 0 left"
    assert model.admit([("x", 1)], now=2.5) == [True]


def test_no_item_wcu_means_no_limit_and_a_new_rate_starts_full_buckets():
    model = Contention()
    model.configure(item_wcu=0, seed=0)
    assert all(model.admit([("x", 1000)], now=0.0)[0] for _ in range(100))
    model.configure(item_wcu=1, seed=0)
    assert model.admit([("x", 1)], now=0.0) == [True]
    assert model.admit([("x", 1)], now=0.0) == [False]


def test_windows_are_seeded_and_spread_around_conflict_ms():
    def windows(seed):
        model = Contention()
        model.configure(item_wcu=0, seed=seed)
        return [model.window(100) for _ in range(200)]

    seven = windows(7)
    assert seven == windows(7)
    assert seven != windows(8)
    assert all(0.05 <= w <= 0.15 for w in seven)
    assert 0.09 < sum(seven) / len(seven) < 0.11


def test_an_injected_event_is_one_line_with_its_kind_and_the_item_last(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    log.injected("throttle", op="PutItem", table="T", item='{"pk":{"S":"a b"}}', wcu=2)
    log.config("spec changed")
    lines = out.getvalue().splitlines()
    assert lines[0] == 'orderflow-harsh: throttle op=PutItem table=T wcu=2 item={"pk":{"S":"a b"}}'
    assert [l for l in lines if re.match(r"^orderflow-harsh: (\w+) ", l)] == lines[:1]
    with pytest.raises(ValueError):
        log.injected("meteor")
