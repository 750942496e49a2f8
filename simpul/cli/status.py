"""`simpul status`: the bus at a glance for the ops on call."""

from __future__ import annotations

import typer

from simpul.cli.output import emit, fail_on, out


def status(json_out: bool = typer.Option(False, "--json", help="print the snapshot as JSON"),
           silent_after: int = typer.Option(3600, "--silent-after", help="seconds without events before a regency "
                                                                          "counts as silent")) -> None:
    """Brokers, topics, consumer lag, throughput, DLQ by reason, per-regency freshness, registry subjects."""
    from monitor.status import collect
    from simpul.settings import load_settings

    settings = load_settings()
    with fail_on():
        snapshot = collect(settings.kafka, settings.registry, settings.topic_prefix, silent_after_s=silent_after)
    emit(snapshot.model_dump(mode="json"), json_out, lambda: _render(snapshot))


def _render(s) -> None:  # noqa: ANN001
    from rich.table import Table

    out.print(f"[bold]Simpul[/] {s.prefix} on {s.bootstrap}: {len(s.brokers)} broker(s); "
              f"in {s.throughput.in_per_s}/s, out {s.throughput.out_per_s}/s over {s.throughput.window_s} s; "
              f"DLQ {s.dlq.total} " + (f"({', '.join(f'{k} {v}' for k, v in s.dlq.by_reason.items())})"
                                       if s.dlq.by_reason else ""))
    groups = Table("consumer group", "state", "members", "lag", title="lag")
    for g in s.groups:
        groups.add_row(g.group, g.state, str(g.members), str(g.total_lag))
    out.print(groups)
    silent = [f for f in s.freshness if f.silent]
    fresh = Table("regency", "name", "last event", "seconds since", title=f"silent regencies ({len(silent)} of 35, "
                  f"threshold {s.silent_threshold_s} s)")
    for f in silent:
        fresh.add_row(f.regency_code, f.name, str(f.last_event_at or "never"), str(f.seconds_since or ""))
    out.print(fresh)
    topics = Table("topic", "partitions", "records", title="topics")
    for t in s.topics:
        topics.add_row(t.name, str(t.partitions), str(t.records))
    out.print(topics)
    out.print(f"registry: {len(s.registry)} subject(s)" + (f" — {s.registry_error}" if s.registry_error else ""))
