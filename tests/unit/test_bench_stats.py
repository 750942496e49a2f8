"""The benchmark's statistics: min/median/max, ratios to the baseline, the 20% agreement rule, percentiles."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is not an installed package

from bench.stats import Summary, agrees, percentile, ratios, spread  # noqa: E402


def test_summary_min_median_max_keep_run_order() -> None:
    s = Summary.of([30, 10, 20])
    assert (s.min, s.median, s.max) == (10, 20, 30)
    assert s.values == (30.0, 10.0, 20.0)
    assert s.as_dict()["median"] == 20


def test_even_number_of_values_uses_the_mean_of_the_middle_two() -> None:
    assert Summary.of([1, 2, 3, 4]).median == 2.5


def test_ratios_pair_each_repetition_with_its_own_baseline() -> None:
    assert ratios([30, 40, 50], [100, 100, 200]) == [0.3, 0.4, 0.25]
    with pytest.raises(ValueError):
        ratios([1, 2], [1, 2, 3])
    assert math.isnan(ratios([1], [0])[0])


def test_agreement_is_min_and_max_within_20_percent_of_the_median() -> None:
    assert agrees([80, 100, 120])
    assert not agrees([79, 100, 100])
    assert not agrees([100, 100, 121])
    assert spread([90, 100, 115]) == pytest.approx(0.15)
    assert spread([5]) == 0.0
    assert Summary.of([100, 100, 100]).agrees()
    assert not Summary.of([50, 100, 100]).agrees()
    assert agrees([85, 100, 110], within=0.15)


def test_spread_of_a_zero_median() -> None:
    assert spread([0, 0, 0]) == 0.0
    assert spread([0, 0, 1]) == float("inf")


def test_percentiles_interpolate() -> None:
    samples = list(range(1, 101))
    assert percentile(samples, 50) == pytest.approx(50.5)
    assert percentile(samples, 99) == pytest.approx(99.01)
    assert percentile([7], 99) == 7
    with pytest.raises(ValueError):
        percentile([], 50)


def test_the_raw_baseline_passes_at_least_half_a_million_records() -> None:
    from bench.cases.raw import MIN_RECORDS, rounds

    assert rounds(100_000) == 5
    assert rounds(30_000) * 30_000 >= MIN_RECORDS > (rounds(30_000) - 1) * 30_000
    assert rounds(2_000_000) == 1


def test_sink_copies_get_fresh_event_ids_and_keep_every_other_field() -> None:
    import io
    import uuid

    import fastavro

    from bench.cases.sink import with_fresh_id
    from schemas.catalog import default_catalog
    from schemas.codec import frame
    from schemas.examples import example

    for event_type in ("HealthFacilityVisit", "ServiceRequestSubmitted", "AirQualityReading"):
        event = example(event_type)
        schema = default_catalog().get(event_type).parsed
        body = io.BytesIO()
        fastavro.schemaless_writer(body, schema, event.to_avro())
        value = frame(7, body.getvalue())
        copy = with_fresh_id(value)
        assert copy[:5] == value[:5] and len(copy) == len(value)
        read = fastavro.schemaless_reader(io.BytesIO(copy[5:]), schema)
        assert read["event_id"] != event.event_id and isinstance(read["event_id"], uuid.UUID)
        assert {k: v for k, v in read.items() if k != "event_id"} == {
            k: v for k, v in event.to_avro().items() if k != "event_id"}
    with pytest.raises(ValueError, match="event_id"):
        with_fresh_id(frame(7, b"\x02ab"))
