"""The audit trail from the command line: an ops action done with `simpul` (an account created or disabled, a DLQ
record replayed) is recorded like one done in the dashboard, with `cli:<os user>` as the actor."""

from __future__ import annotations

import getpass

from simpul.cli.output import console
from simpul.settings import Settings

CLI_ROLE = "cli"


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:
        return "cli:unknown"


def ops_records(settings: Settings):  # noqa: ANN201 - (Accounts, AuditLog); imported lazily to keep the CLI fast
    """The accounts and the audit trail in the dashboard database of `settings`."""
    from monitor.accounts import Accounts
    from monitor.audit import AuditLog
    from monitor.opsdb import connect
    from topics.catalog import topic_names

    settings.state_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings.dashboard_db)
    return Accounts(engine), AuditLog(engine, settings.kafka, topic_names(settings.topic_prefix).find("audit").name)


def publish_now(audit) -> None:  # noqa: ANN001 - monitor.audit.AuditLog
    """Try to put new entries on the audit topic now; if the broker is away, `simpul monitor` sends them later."""
    from monitor.audit import AuditPublishError

    try:
        audit.publish_pending(timeout_s=5)
    except AuditPublishError as exc:
        console.print(f"[yellow]note:[/] {exc} (`simpul monitor` does it once it reaches the broker)")
    finally:
        audit.close()
