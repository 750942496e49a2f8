"""What ops see: the status of the bus as one typed document (CLI, dashboard and /metrics read the same)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Broker(BaseModel):
    id: int
    host: str
    port: int


class TopicSize(BaseModel):
    """A topic, its partitions, and how many records it holds now (end minus start offsets)."""

    name: str
    role: str
    partitions: int
    records: int


class PartitionLag(BaseModel):
    topic: str
    partition: int
    committed: int | None = Field(description="the group's committed offset; None if it never committed")
    end: int
    lag: int | None = Field(description="end minus committed; None without a committed offset")


class GroupLag(BaseModel):
    group: str
    state: str
    members: int
    total_lag: int
    partitions: list[PartitionLag]


class Throughput(BaseModel):
    """Events per second over the last `window_s` seconds, counted from the brokers' own offsets."""

    window_s: int
    in_per_s: float = Field(description="records written to the ingress topics")
    out_per_s: float = Field(description="records written to the canonical events topics")


class RegencyFreshness(BaseModel):
    regency_code: str
    name: str
    last_event_at: datetime | None
    seconds_since: float | None
    silent: bool = Field(description="no event for longer than the threshold (or never)")


class DlqDepth(BaseModel):
    total: int
    by_reason: dict[str, int]


class Subject(BaseModel):
    subject: str
    versions: list[int]


class Status(BaseModel):
    """Everything `simpul status` reports."""

    generated_at: datetime
    prefix: str
    bootstrap: str
    brokers: list[Broker]
    topics: list[TopicSize]
    groups: list[GroupLag]
    throughput: Throughput
    dlq: DlqDepth
    freshness: list[RegencyFreshness]
    silent_threshold_s: int
    registry: list[Subject]
    registry_error: str | None = None
