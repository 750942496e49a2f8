"""The secured local platform's credentials and their provisioning on the broker.

Passwords are generated once per state folder and kept in `<state>/secrets/credentials.json` (mode 0600, folder
0700); `simpul platform credentials` reads them. The broker's own user (`admin`) is created when the storage is
formatted (`--add-scram`); every other principal of `topics.acls` gets its SCRAM credential and its ACLs through
the AdminClient once the broker answers.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from pydantic import BaseModel, ConfigDict, SecretStr

from simpul.platform.exceptions import PlatformError
from topics.acls import ADMIN, CLUSTER, AclModel, Grant, Principal, acl_model

MECHANISM = "SCRAM-SHA-512"
CONTROLLER_USER = "controller"  # SASL/PLAIN on the loopback CONTROLLER listener, a super user
SIMULATOR = "simulator"
SCRAM_ITERATIONS = 8192

_OPERATION = {
    "Read": AclOperation.READ, "Write": AclOperation.WRITE, "Create": AclOperation.CREATE,
    "Describe": AclOperation.DESCRIBE, "DescribeConfigs": AclOperation.DESCRIBE_CONFIGS,
    "IdempotentWrite": AclOperation.IDEMPOTENT_WRITE, "All": AclOperation.ALL,
}
_RESOURCE = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER}
_PATTERN = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED}


class Credentials(BaseModel):
    """Username -> password of every principal of one state folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mechanism: str = MECHANISM
    users: dict[str, SecretStr]

    def password(self, user: str) -> str:
        try:
            return self.users[user].get_secret_value()
        except KeyError:
            raise PlatformError(f"no credentials for {user!r}; known: {', '.join(sorted(self.users))}") from None

    def client_conf(self, user: str) -> dict[str, Any]:
        """librdkafka keys for `user` on the SASL_PLAINTEXT listener."""
        return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": self.mechanism,
                "sasl.username": user, "sasl.password": self.password(user)}

    def env(self, user: str) -> dict[str, str]:
        """The SIMPUL_* variables that make a Simpul process connect as `user`."""
        return {"SIMPUL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "SIMPUL_KAFKA_USERNAME": user,
                "SIMPUL_KAFKA_PASSWORD": self.password(user)}


def credentials_path(state: Path) -> Path:
    return state / "secrets" / "credentials.json"


def load_credentials(state: Path) -> Credentials | None:
    path = credentials_path(state)
    if not path.is_file():
        return None
    raw = json.loads(path.read_text())
    return Credentials(mechanism=raw.get("mechanism", MECHANISM), users={k: SecretStr(v) for k, v in raw["users"].items()})


def ensure_credentials(state: Path, principals: list[str]) -> Credentials:
    """The stored passwords, with a new random one for every principal (and the controller) that has none."""
    existing = load_credentials(state)
    users = {k: v.get_secret_value() for k, v in (existing.users if existing else {}).items()}
    wanted = [ADMIN, CONTROLLER_USER, *principals]
    if all(u in users for u in wanted):
        return existing  # type: ignore[return-value]
    for user in wanted:
        users.setdefault(user, secrets.token_urlsafe(24))
    path = credentials_path(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"mechanism": MECHANISM, "users": dict(sorted(users.items()))}, out, indent=2)
    os.replace(tmp, path)
    return Credentials(users={k: SecretStr(v) for k, v in users.items()})


def local_model(prefix: str) -> AclModel:
    """The ACL model of `prefix` plus the local platform's `simulator`, which stands in for all 35 regency systems
    in `simpul run`: it writes every ingress topic and nothing else (never the admin)."""
    model = acl_model(prefix)
    ingress = f"{model.prefix}.ingress."
    simulator = Principal(name=SIMULATOR, description="the traffic simulator of `simpul run`: writes every ingress "
                          "topic, like the 35 regency systems it stands in for, and nothing else", grants=(
        Grant(kind="cluster", pattern="literal", name=CLUSTER, operation="IdempotentWrite"),
        Grant(kind="topic", pattern="prefixed", name=ingress, operation="Describe"),
        Grant(kind="topic", pattern="prefixed", name=ingress, operation="Write"),
    ))
    return AclModel(prefix=model.prefix, principals=(*model.principals, simulator))


# -- bindings -------------------------------------------------------------------------------------------------------

def binding(principal: str, grant: Grant) -> AclBinding:
    return AclBinding(_RESOURCE[grant.kind], grant.name, _PATTERN[grant.pattern], f"User:{principal}", "*",
                      _OPERATION[grant.operation], AclPermissionType.ALLOW)


def bindings(model: AclModel) -> list[AclBinding]:
    return [binding(p.name, g) for p in model.principals for g in p.grants]


def provision(bootstrap: str, creds: Credentials, model: AclModel, timeout: float = 60.0) -> dict[str, int]:
    """Create (or reset) every non-admin principal's SCRAM credential and every ACL of `model`; idempotent."""
    users = [p.name for p in model.principals if p.name != ADMIN]
    create_users(bootstrap, creds.client_conf(ADMIN), creds, users, timeout)
    admin = AdminClient({"bootstrap.servers": bootstrap, **creds.client_conf(ADMIN), "log_level": 0})
    wanted = bindings(model)
    _all(admin.create_acls(wanted, request_timeout=timeout), "creating ACLs", timeout)
    return {"users": len(users), "acls": len(wanted)}


def create_users(bootstrap: str, conf: dict[str, Any], creds: Credentials, users: list[str],
                 timeout: float = 60.0) -> None:
    """Create (or reset) the SCRAM credentials of `users`, connecting with `conf` (a plain broker, when a plain
    state folder switches to secure mode, has no user yet to authenticate as)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, **conf, "log_level": 0})
    upserts = [UserScramCredentialUpsertion(u, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
                                            creds.password(u).encode()) for u in users]
    _all(admin.alter_user_scram_credentials(upserts, request_timeout=timeout), "creating SCRAM users", timeout)


def acls_of(bootstrap: str, creds: Credentials, principal: str, timeout: float = 30.0) -> list[AclBinding]:
    """What the broker holds for `principal` (for `status` and the tests)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, **creds.client_conf(ADMIN), "log_level": 0})
    flt = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, f"User:{principal}", None,
                           AclOperation.ANY, AclPermissionType.ANY)
    return list(admin.describe_acls(flt, request_timeout=timeout).result(timeout=timeout + 5))


def _all(futures: Any, doing: str, timeout: float) -> None:
    items = futures.items() if isinstance(futures, dict) else enumerate(futures)
    deadline = time.monotonic() + timeout
    for key, future in items:
        try:
            future.result(timeout=max(1.0, deadline - time.monotonic()))
        except KafkaException as exc:
            raise PlatformError(f"{doing} failed for {key}: {exc.args[0]}") from None
        except TimeoutError:
            raise PlatformError(f"{doing}: no answer within {timeout:.0f}s; see the kafka log") from None


def broker_properties(creds: Credentials) -> str:
    """The listener security and authorizer part of a secured node's server.properties."""
    ctl = creds.password(CONTROLLER_USER)
    adm = creds.password(ADMIN)
    return f"""
# Secure mode (`simpul platform up --secure`): clients and brokers authenticate with SASL/SCRAM-SHA-512 on the
# client listener; the CONTROLLER listener (loopback) uses SASL/PLAIN with a static controller user, so no
# ANONYMOUS principal ever needs to be a super user.
sasl.enabled.mechanisms={MECHANISM}
sasl.mechanism.inter.broker.protocol={MECHANISM}
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="{ADMIN}" password="{adm}";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="{CONTROLLER_USER}" password="{ctl}" user_{CONTROLLER_USER}="{ctl}";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:{ADMIN};User:{CONTROLLER_USER}
allow.everyone.if.no.acl.found=false
"""


def scram_format_args(creds: Credentials) -> list[str]:
    """StorageTool arguments that create the broker's own SCRAM user in the bootstrap metadata (they hold its
    password: they go into a 0600 argument file, never onto a command line)."""
    return ["--add-scram", f"{MECHANISM}=[name={ADMIN},password={creds.password(ADMIN)}]"]
