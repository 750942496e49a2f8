"""`simpul run` (what `make run` starts): the platform, topics and schemas, and the whole pipeline — gatekeeper,
aggregates, alerts, store sink, alert dispatch, the transparency log, HTTP gateway, the simulator at a steady rate
and the dashboard — until Ctrl-C, which stops all of it (and the platform services this run started).

Secure by default: Kafka with SASL/SCRAM and the ACLs of topics/acls.py, every stage connecting as its own
principal, the simulator as `simulator` (writes ingress topics only), passwords in the secrets folder. A state
folder formatted plain switches in place (its Kafka must be stopped). `--insecure` runs plaintext, with a warning.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import typer

from pydantic import SecretStr

from simpul.cli.output import console, emit, fail_on
from simpul.cli.platform import status_table
from simpul import secret_files
from simpul.platform import platform_for, security
from simpul.platform.endpoints import PlatformStatus
from simpul.platform.exceptions import PlatformError
from simpul.platform.local import LocalPlatform
from simpul.platform.permissions import PRIVATE_UMASK
from simpul.settings import LOOPBACK, Settings, load_settings

INSECURE_WARNING = ("warning: --insecure: Kafka runs PLAINTEXT without authentication or ACLs; any local process "
                    "can read every topic and write any regency's ingress topic. For development only.")


def _principals(status: PlatformStatus, state: Path) -> Callable[[str], dict[str, str]]:
    """Each child's own Kafka credentials on a secured platform (`up --secure`); nothing otherwise."""
    if status.kafka_security == "PLAINTEXT":
        return lambda _name: {}
    creds = security.load_credentials(state)
    if creds is None:
        raise PlatformError(f"the platform is secured but {security.credentials_path(state)} is missing")
    return creds.env


def as_admin(settings: Settings, status: PlatformStatus, state: Path) -> Settings:
    """`settings` connecting as the platform's admin on a secured platform (provisioning topics needs it)."""
    if status.kafka_security == "PLAINTEXT":
        return settings
    env = _principals(status, state)(security.ADMIN)
    return settings.model_copy(update={"kafka_security_protocol": env["SIMPUL_KAFKA_SECURITY_PROTOCOL"],
                                       "kafka_username": env["SIMPUL_KAFKA_USERNAME"],
                                       "kafka_password": SecretStr(env["SIMPUL_KAFKA_PASSWORD"])})


def wants_postgres(settings: Settings) -> bool:
    """Whether the store is PostgreSQL (SIMPUL_STORE_URL), so the platform's PostgreSQL must run; the embedded
    default store is SQLite, which needs none."""
    return (settings.store_url or "").startswith("postgresql")


def dashboard_login(settings: Settings) -> dict[str, str | None]:
    """How to log in to the dashboard: a first operator with a generated password (shown this once) on an
    installation without accounts, else the command that makes one."""
    from simpul.cli.users import first_operator

    first = first_operator(settings)
    if first is None:
        return {"user": None, "password": None,
                "message": "dashboard login: your ops account (`simpul users create NAME --role operator|viewer` "
                           "makes one; `simpul users list` shows them)"}
    return {"user": first.account.name, "password": first.password,
            "message": f"dashboard login: user [bold]{first.account.name}[/], password [bold]{first.password}[/] "
                       "(shown only now; `simpul users create NAME --role viewer` for more accounts)"}


def run(json_out: bool = typer.Option(False, "--json", help="print what runs as JSON, then keep running"),
        rate: float = typer.Option(20.0, "--rate", help="simulated events per second"),
        seed: int = typer.Option(20261127, "--seed", help="simulator seed"),
        dashboard_port: int = typer.Option(18090, "--dashboard-port"),
        site_port: int = typer.Option(18600, "--site-port", help="the public transparency site"),
        platform_only: bool = typer.Option(False, "--platform-only", help="start and provision the platform, then "
                                                                          "return (no pipeline)"),
        insecure: bool = typer.Option(False, "--insecure", help="plaintext Kafka without users or ACLs (development "
                                                                "only; a warning says so)"),
        with_postgres: bool = typer.Option(False, "--with-postgres", help="also start our own PostgreSQL (needs its "
                                                                          "server binaries); implied when "
                                                                          "SIMPUL_STORE_URL points at PostgreSQL; "
                                                                          "default: the store is SQLite")) -> None:
    """Start everything on the embedded defaults and keep it running until Ctrl-C.

    Kafka runs secured (SASL/SCRAM, one user per regency and per stage, ACLs) unless --insecure.
    """
    from simpul import bootstrap
    from simpul.supervisor import Supervisor

    os.umask(PRIVATE_UMASK)  # the stores, manifests and logs this run writes are its owner's alone
    if insecure:
        console.print(f"[bold yellow]{INSECURE_WARNING}[/]", highlight=False)
    with fail_on():
        secret_files.ensure(load_settings().secrets_folder)
        settings = load_settings()
        platform = platform_for(settings)
        mode = {"secure": not insecure} if isinstance(platform, LocalPlatform) else {}
        before = {s.name for s in platform.status().services if s.running}
        with console.status("starting the platform") as spinner:
            postgres = with_postgres or wants_postgres(settings)
            status = platform.up(with_postgres=postgres, progress=lambda m: spinner.update(m), **mode)
            state = settings.state_dir.resolve()
            if status.kafka_security == "PLAINTEXT" and not insecure:
                console.print(f"[bold yellow]warning: the {platform.name} platform's Kafka is PLAINTEXT: no "
                              "authentication, no ACLs[/]", highlight=False)
            if status.kafka_security != "PLAINTEXT" and isinstance(platform, LocalPlatform):
                spinner.update("creating the SCRAM users and ACLs of this topic prefix")
                model = security.local_model(settings.topic_prefix)
                creds = security.ensure_credentials(state, model.names)
                security.provision(platform.kafka_address, creds, model)
            spinner.update("provisioning topics and schemas")
            wired = as_admin(settings, status, state).model_copy(update={"kafka_bootstrap": status.kafka_bootstrap,
                                                                         "registry_url": status.registry_url})
            provisioned = bootstrap.provision(wired)
            bootstrap.store_engine(wired)  # migrate the store once, before the sinks start
    console.print(f"topics: {provisioned['topic_changes']} change(s) applied; schemas: {provisioned['schemas']} "
                  "registered")
    if platform_only:
        emit(status.model_dump(), json_out, lambda: status_table(status))
        return

    # The children read PostgreSQL's address and passwords like every setting: the environment, else the ports
    # and the secrets folder of this state folder (a status address has its password masked).
    env = {"SIMPUL_KAFKA_BOOTSTRAP": status.kafka_bootstrap or "", "SIMPUL_REGISTRY_URL": status.registry_url or "",
           "SIMPUL_STATE_DIR": str(state)}
    sup = Supervisor(state, env, report=lambda m: console.print(f"[yellow]{m}[/]"))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with fail_on():
        principal = _principals(status, state)
    for processor in ("gatekeeper", "aggregates", "alerts"):
        sup.start(processor, "streams", "run", processor, env=principal(processor))
    sup.start("sink-store", "sink", "store", env=principal("sink-store"))
    sup.start("sink-alerts", "sink", "alerts", env=principal("sink-alerts"))
    sup.start("transparency", "transparency", "run", env=principal("transparency"))
    sup.start("gateway", "gateway", env=principal("gateway"))
    sup.start("monitor", "monitor", "--port", str(dashboard_port), env=principal("monitor"))
    # the public transparency site: built from the store before it listens, rebuilt every minute
    sup.start("site", "site", "serve", "--build", "--rebuild-every", "60", "--port", str(site_port))
    # About 40 minutes of traffic at 20 events/s, with every fault type (bursts fewer: one week of event time).
    # The simulator stands in for all 35 regency systems at once: on a secured platform it is `simulator`, which
    # may write every ingress topic and nothing else.
    sup.start("simulator", "simulate", "--events", "50000", "--seed", str(seed), "--rate", str(rate),
              "--complaint-burst", "0.02", "--manifest", str(state / "run" / "simulation-manifest.json"),
              env=principal(security.SIMULATOR))
    url = f"http://{LOOPBACK}:{dashboard_port}/"
    with fail_on():
        login = dashboard_login(settings)
    site = f"http://{LOOPBACK}:{site_port}/"
    running = {"platform": status.model_dump(), "dashboard": url, "login": login, "site": site,
               "gateway": f"{settings.gateway_url}/",
               "processes": {c.name: c.proc.pid for c in sup.children if c.proc}, "logs": str(state / "log")}
    emit(running, json_out, lambda: (
        status_table(status),
        console.print(f"pipeline running: {', '.join(c.name for c in sup.children)} (logs in {state / 'log'})"),
        console.print(f"[bold]dashboard: {url}[/]   gateway: {running['gateway']}   Ctrl-C stops everything"),
        console.print(f"[bold]public transparency site: {site}[/] (rebuilt from the store every minute)"),
        console.print(login["message"], highlight=False),
    ))
    try:
        sup.watch(stop.is_set)
    finally:
        console.print("stopping the pipeline")
        sup.stop_all()
        started = [s.name for s in status.services if s.running and s.name not in before]
        if started:
            console.print(f"stopping the platform services this run started: {', '.join(started)}")
            platform.down(only=started)
        console.print("stopped")
