"""What the stream processors are configured with: their tuning fields (mixed into `simpul.settings.Settings`,
the one settings object) and the shape of the settings they are given (a Protocol, so `streams` does not depend
on the composition root)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Protocol

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import NoDecode

from topics.catalog import parse_duration_ms
from topics.connection import KafkaConnection

DEFAULT_RULES_FILE = Path(__file__).resolve().parent / "rules.yaml"


class StreamsConfig(BaseModel):
    """The processors' tuning; `Settings` carries these fields (`SIMPUL_DEDUP_HORIZON_DAYS`, ...)."""

    dedup_horizon_days: float = Field(default=7.0, gt=0, description="event ids are remembered this long")
    recovery_tail_records: int = Field(
        default=50_000, ge=0,
        description="per partition of the canonical topics and the DLQ, how many of the last records the "
                    "gatekeeper reads at start-up to recognise records replayed after a crash")
    gatekeeper_batch: int = Field(default=2000, ge=1, le=100_000,
                                  description="records the gatekeeper reads, screens and flushes as one batch")
    agg_windows: Annotated[tuple[str, ...], NoDecode] = Field(default=("1h", "1d"),
                                                              description="tumbling window sizes of aggregates")
    agg_sample_size: int = Field(default=512, ge=8, description="bounded sample per window for p50/p95")
    agg_flush_seconds: float = Field(default=1.0, gt=0, description="how often changed windows are emitted")
    alert_rules_file: Path = DEFAULT_RULES_FILE
    streams_replication: int = Field(default=1, ge=1, description="replication of changelog/repartition topics")
    streams_startup_wait_s: float = Field(
        default=300.0, gt=0,
        description="how long a processor keeps retrying its start-up (internal topics, metadata) while the "
                    "cluster is away, a broker restarting or its controller being elected, before it stops")
    state_write_buffer_mib: int = Field(
        default=12, ge=2, le=4096,
        description="RocksDB write buffers (memtables) of all of one process's local state databases together "
                    "(its Faust table partitions, the gatekeeper's dedup cache): RocksDB flushes them to disk "
                    "sooner rather than let them pass it; charged to the block cache, so at most state_cache_mib")
    state_cache_mib: int = Field(default=24, ge=2, le=4096,
                                 description="all RocksDB memory of one process's local state databases: one block "
                                             "cache, shared by them, that their memtables are charged to")
    streams_instance: str = Field(default="0", pattern=r"^[A-Za-z0-9_.-]+$",
                                  description="names this instance's local state folder (one per instance)")

    @model_validator(mode="after")
    def _buffers_fit_the_cache(self) -> StreamsConfig:
        if self.state_write_buffer_mib > self.state_cache_mib:
            raise ValueError(
                f"state_write_buffer_mib ({self.state_write_buffer_mib}) is more than state_cache_mib "
                f"({self.state_cache_mib}): the memtables are charged to the block cache, so set "
                "SIMPUL_STATE_CACHE_MIB at least as large as SIMPUL_STATE_WRITE_BUFFER_MIB")
        return self

    @field_validator("agg_windows", mode="before")
    @classmethod
    def _split_windows(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("agg_windows")
    @classmethod
    def _durations(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if parse_duration_ms(item) <= 0:
                raise ValueError(f"window {item!r} must be a positive duration such as 1h or 1d")
        return value

    @property
    def dedup_horizon_ms(self) -> int:
        return int(self.dedup_horizon_days * 86_400_000)

    @property
    def window_seconds(self) -> tuple[tuple[str, int], ...]:
        """(label, seconds) of every configured aggregate window."""
        return tuple((w, parse_duration_ms(w) // 1000) for w in self.agg_windows)


class StreamsSettings(Protocol):
    """What the processors read from the settings they are given (`simpul.settings.Settings` satisfies it)."""

    @property
    def kafka(self) -> KafkaConnection: ...
    @property
    def registry(self) -> str: ...
    topic_prefix: str
    state_dir: Path

    def secret(self, name: str) -> str: ...
