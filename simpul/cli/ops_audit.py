"""The audit trail from the command line: an ops action done with `simpul` (an account created or disabled, a DLQ
record replayed) is recorded like one done in the dashboard, with `cli:<os user>` as the actor."""

from __future__ import annotations

import getpass

from simpul.cli.output import console

CLI_ROLE = "cli"


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:
        return "cli:unknown"


def publish_now(audit) -> None:  # noqa: ANN001 - monitor.audit.AuditLog
    """Try to put new entries on the audit topic now; if the broker is away, `simpul monitor` sends them later."""
    from monitor.audit import AuditPublishError

    try:
        audit.publish_pending(timeout_s=5)
    except AuditPublishError as exc:
        console.print(f"[yellow]note:[/] {exc} (`simpul monitor` does it once it reaches the broker)")
    finally:
        audit.close()
