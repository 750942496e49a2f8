"""`simpul simulate`: send seeded, reproducible regency traffic with injected faults, and write the manifest that
says what the pipeline must make of it.

It provisions nothing: the ingress topics (`simpul topics apply`) and the schemas (`simpul schemas register`)
must exist, and it says so before sending anything. The manifest is written before sending, so it exists even
if delivery fails (the command then exits 1 and says the run must be repeated). Data (the summary) goes to
stdout, progress to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from producers.simulator import plan
from producers.simulator.faults import FaultMix
from producers.simulator.manifest import Manifest
from producers.simulator.preflight import PreflightError
from producers.simulator.send import SendReport
from simpul import bootstrap
from simpul.cli.output import console, emit, fail_on
from simpul.exceptions import SimpulError
from simpul.settings import Settings, load_settings

app = typer.Typer(help="Send simulated regency traffic and write its manifest.", no_args_is_help=True,
                  add_completion=False)


Pct = float | None


def _pct(name: str) -> Any:
    return typer.Option(f"--{name.replace('_', '-')}", min=0.0, max=100.0,
                        help=f"Percent of N for {name.replace('_', ' ')} (default mix unless --clean).")


@app.command("simulate")
def simulate_command(
    ctx: typer.Context,
    events: Annotated[int, typer.Option("--events", "-n", min=0, help="Records to send, faults included.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random choice.")] = 1,
    manifest: Annotated[Path, typer.Option("--manifest", help="Where to write the manifest (JSON).")] = Path(
        "manifest.json"),
    via: Annotated[str, typer.Option("--via", help="sdk (Kafka producers) or http (the ingress gateway).")] = "sdk",
    rate: Annotated[float, typer.Option("--rate", min=0.0, help="Records per second; 0 = as fast as possible.")] = 0.0,
    gateway_url: Annotated[str | None, typer.Option(
        "--gateway-url", help="Base URL of the HTTP gateway (--via http); default SIMPUL_GATEWAY_HOST/PORT.")] = None,
    keys_file: Annotated[Path | None, typer.Option("--keys-file", help="JSON {regency_code: api_key} (--via http).")
                         ] = None,
    prefix: Annotated[str | None, typer.Option("--prefix", help="Topic prefix; default SIMPUL_TOPIC_PREFIX.")] = None,
    clean: Annotated[bool, typer.Option("--clean", help="Start from no faults at all (flags still add some).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Write the manifest, send nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    duplicates: Annotated[Pct, _pct("duplicates")] = None,
    invalid: Annotated[Pct, _pct("invalid")] = None,
    spoofing: Annotated[Pct, _pct("spoofing")] = None,
    late: Annotated[Pct, _pct("late")] = None,
    fee_above_tariff: Annotated[Pct, _pct("fee_above_tariff")] = None,
    sla_breach: Annotated[Pct, _pct("sla_breach")] = None,
    complaint_burst: Annotated[Pct, _pct("complaint_burst")] = None,
    double_aid: Annotated[Pct, _pct("double_aid")] = None,
    air_quality: Annotated[Pct, _pct("air_quality")] = None,
    price_jump: Annotated[Pct, _pct("price_jump")] = None,
    complaint_overdue: Annotated[Pct, _pct("complaint_overdue")] = None,
) -> None:
    """Plan N records for SEED, write the manifest, then send them (unless --dry-run)."""
    if via not in ("sdk", "http"):
        raise typer.BadParameter("use sdk or http", param_hint="--via")
    settings = _settings(ctx)
    flags = {"duplicates": duplicates, "invalid": invalid, "spoofing": spoofing, "late": late,
             "fee_above_tariff": fee_above_tariff, "sla_breach": sla_breach, "complaint_burst": complaint_burst,
             "double_aid": double_aid, "air_quality": air_quality, "price_jump": price_jump,
             "complaint_overdue": complaint_overdue}
    mix = _mix(clean, {k: v for k, v in flags.items() if v is not None})
    with fail_on():
        keys = _keys(keys_file) if via == "http" and not dry_run else {}
        the_plan = plan(events, seed, mix, via=via,  # type: ignore[arg-type]
                        nik_hmac_key=settings.secret("nik_hmac_key"))
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(the_plan.manifest.to_json(), encoding="utf-8")
        console.print(f"manifest: {manifest} ({the_plan.manifest.total_sent} records, seed {seed})",
                      markup=False, highlight=False)
        report = None
        if not dry_run:
            send = bootstrap.simulator_sender(settings, via=via, prefix=prefix, rate=rate, gateway_url=gateway_url,
                                              api_keys=keys, show_progress=console.is_terminal)
            report = send(the_plan.records)
    summary = _summary(the_plan.manifest, manifest, report)
    emit(summary, as_json, lambda: _human(summary))
    with fail_on():
        if report is not None and report.unexpected_count:
            raise SimpulError(f"the gateway answered {report.unexpected_count} record(s) differently from the "
                              "manifest")


simulate = simulate_command


def _settings(ctx: typer.Context) -> Settings:
    """The composition root may hand its Settings in as the context object; otherwise read the environment."""
    obj = ctx.obj if ctx is not None else None
    return obj if isinstance(obj, Settings) else load_settings()


def _mix(clean: bool, given: dict[str, float]) -> FaultMix:
    base = FaultMix.clean() if clean else FaultMix()
    try:
        return FaultMix(**{**base.model_dump(), **given})
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None


def _keys(path: Path | None) -> dict[str, str]:
    if path is None:
        raise PreflightError("--via http needs --keys-file: a JSON object mapping each regency code to its API key")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PreflightError(f"cannot read the keys file {path}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise PreflightError(f"{path} must be a JSON object {{regency_code: api_key}}")
    return {str(k): v for k, v in data.items()}


def _summary(m: Manifest, path: Path, report: SendReport | None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "manifest": str(path), "seed": m.seed, "via": m.via, "total_sent": m.total_sent,
        "events": sum(m.events.values()), "dlq": sum(m.dlq.values()), "alerts": sum(m.alerts.values()),
        "duplicates_sent": m.duplicates_sent, "dry_run": report is None,
    }
    if m.gateway_rejected is not None:
        summary["gateway_rejected"] = sum(m.gateway_rejected.values())
    if report is not None:
        summary.update(sent=report.sent, delivered=report.delivered, failed=report.failed,
                       seconds=round(report.seconds, 3), rate=round(report.rate, 1))
        if report.via == "http":
            summary.update(gateway_accepted=report.gateway_accepted, gateway_answers=report.gateway_rejected,
                           unexpected=report.unexpected)
    return summary


def _human(summary: dict[str, Any]) -> None:
    for key, value in summary.items():
        typer.echo(f"{key}\t{value}")


__all__ = ["app", "simulate", "simulate_command"]
