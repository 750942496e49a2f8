"""`simpul status`: one snapshot of the bus for the ops on call — brokers, topics, lag, throughput, DLQ, freshness."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
from confluent_kafka.admin import OffsetSpec

from monitor.cluster import ClusterReader
from monitor.models import DlqDepth, RegencyFreshness, Status, Subject, Throughput, TopicSize
from schemas.outcomes import Header
from schemas.reference import regencies
from topics.catalog import topic_names
from topics.connection import KafkaConnection

THROUGHPUT_WINDOW_S = 60
DLQ_SCAN_LIMIT = 200_000


def collect(kafka: KafkaConnection, registry_url: str, prefix: str, *, silent_after_s: int = 3600,
            reader: ClusterReader | None = None, now: datetime | None = None) -> Status:
    """Read everything from the brokers and the registry; nothing here writes or commits."""
    own = reader or ClusterReader(kafka)
    try:
        return _collect(own, kafka, registry_url, prefix, silent_after_s, now or datetime.now(UTC))
    finally:
        if reader is None:
            own.close()


def _collect(reader: ClusterReader, kafka: KafkaConnection, registry_url: str, prefix: str, silent_after_s: int,
             now: datetime) -> Status:
    names = topic_names(prefix)
    brokers, partitions = reader.brokers_and_partitions()
    ours = {spec.name: spec for spec in names if spec.name in partitions}
    keys = [(t, p) for t in ours for p in range(partitions[t])]
    lows = reader.offsets(keys, OffsetSpec.earliest())
    highs = reader.offsets(keys, OffsetSpec.latest())
    bounds = {k: (max(lows[k], 0), highs[k]) for k in keys}

    topics = [TopicSize(name=name, role=spec.role, partitions=partitions[name],
                        records=sum(h - l for (t, _), (l, h) in bounds.items() if t == name))
              for name, spec in sorted(ours.items())]

    since_ms = int((now - timedelta(seconds=THROUGHPUT_WINDOW_S)).timestamp() * 1000)
    at = reader.offsets(keys, OffsetSpec.for_timestamp(since_ms))

    def rate(role: str) -> float:
        total = 0
        for (t, p) in keys:
            if ours[t].role != role:
                continue
            start = at[(t, p)]
            total += 0 if start < 0 else highs[(t, p)] - start
        return round(total / THROUGHPUT_WINDOW_S, 2)

    dlq_name = names.dlq.name
    dlq_bounds = {k: b for k, b in bounds.items() if k[0] == dlq_name}
    reasons = Counter((h.get(Header.REASON) or b"unknown").decode(errors="replace")
                      for h in reader.read_headers(dlq_bounds, DLQ_SCAN_LIMIT))

    ingress = {spec.labels["regency"]: spec.name for spec in names.role("ingress")}
    last = reader.last_timestamps({k: b for k, b in bounds.items() if ours[k[0]].role == "ingress"})
    freshness = []
    for regency in regencies():
        stamps = [ts for (t, _), ts in last.items() if t == ingress[regency.code]]
        newest = max(stamps) if stamps else None
        age = max(0.0, (now - newest).total_seconds()) if newest else None
        freshness.append(RegencyFreshness(regency_code=regency.code, name=regency.display_name, last_event_at=newest,
                                          seconds_since=round(age, 1) if age is not None else None,
                                          silent=age is None or age > silent_after_s))

    subjects, registry_error = registry_subjects(registry_url)
    return Status(
        generated_at=now, prefix=prefix, bootstrap=kafka.bootstrap, brokers=brokers, topics=topics,
        groups=reader.group_lag(f"{prefix}-", partitions),
        throughput=Throughput(window_s=THROUGHPUT_WINDOW_S, in_per_s=rate("ingress"), out_per_s=rate("events")),
        dlq=DlqDepth(total=sum(h - l for (_, _), (l, h) in dlq_bounds.items()), by_reason=dict(sorted(reasons.items()))),
        freshness=freshness, silent_threshold_s=silent_after_s, registry=subjects, registry_error=registry_error,
    )


def registry_subjects(url: str) -> tuple[list[Subject], str | None]:
    """Every subject with its versions; an unreachable registry is reported, not fatal."""
    try:
        with httpx.Client(base_url=url.rstrip("/") + "/", timeout=10) as client:
            names = client.get("subjects").raise_for_status().json()
            return [Subject(subject=n, versions=client.get(f"subjects/{n}/versions").raise_for_status().json())
                    for n in sorted(names)], None
    except httpx.HTTPError as exc:
        return [], f"registry at {url} unavailable: {exc}"
