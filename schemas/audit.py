"""The ops audit record: one JSON entry per operator action on `<prefix>.audit.ops`, part of the contract so that an
auditor can read the topic without the dashboard."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AuditAction(StrEnum):
    """What an operator did."""

    DLQ_REPLAY = "dlq.replay"
    """A DLQ record written back to its ingress topic as it was."""
    DLQ_EDIT = "dlq.edit"
    """A DLQ record replaced by a corrected event and written back to its ingress topic."""
    USER_CREATE = "user.create"
    """A dashboard account was created."""
    USER_DISABLE = "user.disable"
    """A dashboard account was disabled; its sessions end at once."""
    API_KEY_CREATE = "api_key.create"
    """An HTTP gateway API key was issued for one regency (the entry names the key id, never the key)."""
    API_KEY_REVOKE = "api_key.revoke"
    """An HTTP gateway API key was revoked; its next request gets 401."""
    ALERT_RULES_CHANGE = "alert_rules.change"
    """The alerts processor started with rules other than the last recorded ones (SHA-256 of the rules file before
    and after); the first start on an installation records the rules it began with."""


AuditResult = Literal["ok", "refused", "failed"]


class AuditEntry(BaseModel):
    """Who did what to which record, when, and with what result; keyed by `entry_id`.

    `before_digest` and `after_digest` are keyed SHA-256 digests (hex) of the record's bytes before and of the bytes
    written, so two entries about the same bytes agree without the entry holding the bytes themselves; for an
    alert-rules change they are the plain SHA-256 of the rules file (rules are not secret).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    entry_id: str = Field(description="uuid4 of this entry; a consumer that sees it twice keeps one")
    at: datetime = Field(description="when the action was done (UTC)")
    actor: str = Field(description="the dashboard account, or `cli:<os user>` for the command line")
    role: str = Field(description="the actor's role at the time: viewer, operator, or cli")
    action: AuditAction
    target: str = Field(description="`<dlq topic>:<partition>:<offset>` of a DLQ record, `user:<name>`, "
                                    "`api_key:<regency_code>/<key id>`, or `alert_rules:<rules file>`")
    before_digest: str | None = None
    after_digest: str | None = None
    result: AuditResult
    detail: str = Field(default="", description="where the record went, or why the action was refused")

    def key(self) -> bytes:
        return self.entry_id.encode()

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()
