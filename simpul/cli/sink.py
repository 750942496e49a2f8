"""`simpul sink store|alerts`: the province-side consumers (both migrate the store first).

`store` writes canonical events, aggregates and alerts into the provincial store (SQLite under the state folder
by default; `--store-url` or SIMPUL_STORE_URL for PostgreSQL); `alerts` delivers alerts to the webhooks and shows
the delivery status and dead letters with `--status`. Data (stats, status) to stdout, logs to stderr;
Ctrl-C/SIGTERM finish the current batch, commit and exit.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from simpul.cli.output import console, emit, fail_on, out

app = typer.Typer(help="Province consumers: the store sink and the alert dispatch.", no_args_is_help=True,
                  pretty_exceptions_enable=False)

Group = Annotated[str | None, typer.Option("--group", help="consumer group (default <prefix>-sink-store / "
                                           "<prefix>-sink-alerts); a new group replays the topics from the start")]
StoreUrl = Annotated[str | None, typer.Option("--store-url", help="SQLAlchemy URL of the store (default: settings)")]


@app.callback()
def sink() -> None:
    """Province consumers: the store sink and the alert dispatch."""


def _logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command("store")
def store(
    store_url: StoreUrl = None,
    once: Annotated[bool, typer.Option("--once", help="drain every assigned partition, then exit")] = False,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="records per transaction")] = None,
    group: Group = None,
    status: Annotated[bool, typer.Option("--status", help="print the rows per table and exit")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    loglevel: Annotated[str, typer.Option("--loglevel")] = "info",
) -> None:
    """Run the store sink: events, aggregates and alerts -> the provincial store, idempotently."""
    from consumers.kafka import Stopper, rejoin_when_fenced
    from consumers.store.sink import SinkStats, StoreSink
    from consumers.store.tables import counts
    from simpul import bootstrap
    from simpul.settings import load_settings

    _logging(loglevel)
    with fail_on():
        settings = load_settings()
        if status:
            engine = bootstrap.store_engine(settings, store_url)
            with engine.connect() as conn:
                data = counts(conn)
            emit(data, as_json, lambda: [out.print(f"{k:24} {v}") for k, v in data.items()])
            return
        stop = Stopper().install()
        runs: list[StoreSink] = []

        def start() -> SinkStats:  # a fenced consumer cannot be used again: a new sink carries the counts on
            sink_ = bootstrap.store_sink(settings, store_url=store_url, batch_size=batch_size, group=group)
            if runs:
                sink_.stats = runs[-1].stats
            runs.append(sink_)
            return sink_.run(once=once, stop=stop)

        stats = rejoin_when_fenced(start, stop=stop)
        data = stats.as_dict()
        emit(data, as_json, lambda: out.print(
            f"{data['records']} records in {data['batches']} batches, {data['poison']} poison, {data['seconds']}s"
            + (f"; the store was unreachable: {data['retries']} write retries, {data['recovered']} batches written "
               "once it was back" if data["retries"] else "")))


@app.command("alerts")
def alerts(
    store_url: StoreUrl = None,
    webhook: Annotated[list[str] | None, typer.Option("--webhook", help="webhook URL (repeatable; default "
                                                      "SIMPUL_ALERT_WEBHOOKS)")] = None,
    once: Annotated[bool, typer.Option("--once", help="drain the alerts topic, then exit")] = False,
    group: Group = None,
    status: Annotated[bool, typer.Option("--status", help="print delivery counts and dead letters, and exit")] = False,
    retry_dead: Annotated[bool, typer.Option("--retry-dead", help="deliver the dead letters again, and exit")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    loglevel: Annotated[str, typer.Option("--loglevel")] = "info",
) -> None:
    """Deliver each alert once per alert id to every webhook (signed, retried, dead-lettered) and to the store."""
    from consumers.alerts.dispatch import delivery_status
    from consumers.kafka import Stopper, rejoin_when_fenced
    from simpul import bootstrap
    from simpul.settings import load_settings

    _logging(loglevel)
    with fail_on():
        settings = load_settings()
        if status:
            data = delivery_status(bootstrap.store_engine(settings, store_url))
            emit(data, as_json, lambda: _print_status(data))
            return
        dispatcher = bootstrap.alert_dispatcher(settings, store_url=store_url, webhooks=webhook)
        if not dispatcher.webhooks:
            console.print("[yellow]warning:[/] no webhook configured (--webhook or SIMPUL_ALERT_WEBHOOKS): "
                          "alerts are only stored")
        if retry_dead:
            results = dispatcher.retry_dead()
            data = {"retried": len(results), "delivered": sum(r.status == "delivered" for r in results),
                    "dead": sum(r.status == "dead" for r in results)}
            emit(data, as_json, lambda: out.print(data))
            return
        stop = Stopper().install()
        stats = rejoin_when_fenced(  # a fenced consumer cannot be used again: rejoin with a new one
            bootstrap.alert_dispatch(settings, dispatcher, group=group, once=once, stop=stop), stop=stop)
        dispatcher.close()
        data = stats.as_dict()
        emit(data, as_json, lambda: out.print(data))


def _print_status(data: dict) -> None:  # type: ignore[type-arg]
    out.print(f"alerts stored: {data['alerts']}; deliveries: {data['deliveries']}")
    for hook, counts in data["webhooks"].items():
        out.print(f"  {hook}: {counts}")
    for d in data["dead_letters"]:
        out.print(f"[red]dead[/] {d['alert_id']} -> {d['webhook']} after {d['attempts']} attempts: {d['last_error']}")
