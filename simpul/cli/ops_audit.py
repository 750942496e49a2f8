"""The audit trail from the command line: an ops action done with `simpul` (an account created or disabled, a DLQ
record replayed, an API key issued or revoked, the alerts processor started with changed rules) is recorded like one
done in the dashboard, with `cli:<os user>` as the actor."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

from simpul.cli.output import console

if TYPE_CHECKING:
    from monitor.audit import AuditLog
    from schemas.audit import AuditEntry

CLI_ROLE = "cli"
MAX_TARGET = 300  # the dashboard database's column


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


def api_key_target(regency_code: str, key_id: str) -> str:
    """How an entry names an API key: its regency and id (never the key itself, which only its holder has)."""
    return f"api_key:{regency_code}/{key_id}"


def last_alert_rules_digest(audit: AuditLog) -> str | None:
    """The rules digest the newest `alert_rules.change` entry recorded; None when there is none yet."""
    import sqlalchemy as sa

    from monitor.opsdb import audit as table
    from schemas.audit import AuditAction

    with audit.engine.connect() as conn:
        return conn.execute(sa.select(table.c.after_digest)
                            .where(table.c.action == AuditAction.ALERT_RULES_CHANGE.value, table.c.result == "ok")
                            .order_by(table.c.seq.desc()).limit(1)).scalar()


def record_alert_rules(audit: AuditLog, *, source: str, digest: str) -> AuditEntry | None:
    """Record `alert_rules.change` when `digest` (the rules file the alerts processor starts with) is not the last
    recorded one, with both digests; None when the rules are the recorded ones. The actor is whoever started it."""
    from schemas.audit import AuditAction

    before = last_alert_rules_digest(audit)
    if before == digest:
        return None
    target = f"alert_rules:{source}"
    if len(target) > MAX_TARGET:
        target = "alert_rules:…" + source[-(MAX_TARGET - len("alert_rules:…")):]
    return audit.record(actor=cli_actor(), role=CLI_ROLE, action=AuditAction.ALERT_RULES_CHANGE, target=target,
                        result="ok", before_digest=before, after_digest=digest,
                        detail="the alerts processor started with these rules"
                               + ("" if before else " (first recorded rules)"))
