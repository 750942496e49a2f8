"""`simpul platform up --secure`: SASL/SCRAM-SHA-512 and the ACLs of topics/acls.py on a private broker.

One private secured Kafka (own state folder, free ports, no registry) is started once for the module and always
stopped, whatever platform the suite itself runs on and whoever holds the default ports: these tests never skip
(a machine without Java fails them, and the message says what to install). The acceptance of regency isolation:
regency 3374's credentials cannot write 3301's ingress topic nor read a canonical topic (authorization errors, not
timeouts), an unauthenticated or wrong-password client is refused, and the gatekeeper principal reads ingress and
writes canonical. Receipts: only the transparency principal writes `receipts.<code>`, regency 3374 reads its own
with its own consumer group, and regency 3301 is refused reading 3374's. Outcomes likewise: only the gatekeeper
writes `outcomes.<code>`, regency 3374 and the gateway read 3374's, regency 3301 is refused.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from private_platform import private_env, private_state, remove_private, simpul

from simpul.platform.probes import free_port_block, port_free
from topics.acls import acl_model, gateway_outcomes_group
from topics.catalog import topic_names

PREFIX = "sectest"


class Secured:
    def __init__(self, env: dict[str, str], state: Path, bootstrap: str, users: dict[str, str]) -> None:
        self.env, self.state, self.bootstrap, self.users = env, state, bootstrap, users

    def conf(self, user: str, **extra: Any) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap, "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": user, "sasl.password": self.users[user],
                "log_level": 0, **extra}

    def env_as(self, user: str) -> dict[str, str]:
        return {**self.env, "SIMPUL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "SIMPUL_KAFKA_USERNAME": user,
                "SIMPUL_KAFKA_PASSWORD": self.users[user]}


@pytest.fixture(scope="module")
def secured() -> Iterator[Secured]:
    state = private_state("secure")
    base = free_port_block(2)[0]
    env = {**private_env(state, kafka=base, controller=base + 1), "SIMPUL_TOPIC_PREFIX": PREFIX}
    try:
        up = simpul(["platform", "up", "--secure", "--kafka-only", "--json"], env)
        assert up.returncode == 0, up.stderr[-3000:]
        status = json.loads(up.stdout)
        assert status["kafka_security"] == "SASL_PLAINTEXT" and status["kafka_sasl_mechanism"] == "SCRAM-SHA-512"
        creds = simpul(["platform", "credentials", "--json"], env, timeout=90)
        assert creds.returncode == 0, creds.stderr
        users = json.loads(creds.stdout)["users"]
        secured = Secured(env, state, f"127.0.0.1:{base}", users)
        # Topics through the CLI, as the admin principal whose credentials come from the settings.
        applied = simpul(["topics", "apply", "--json"], secured.env_as("admin"), timeout=90)
        assert applied.returncode == 0, applied.stderr[-3000:]
        yield secured
    finally:
        down = remove_private(state, env)
        assert down.returncode == 0, down.stderr
        assert port_free("127.0.0.1", base) and port_free("127.0.0.1", base + 1), "a port is still held after down"


def produce(conf: dict[str, Any], topic: str, value: bytes = b"x") -> KafkaError | None:
    """Produce one record; the delivery error (None on success). Bounded by message.timeout.ms."""
    outcome: list[KafkaError | None] = []
    producer = Producer({**conf, "enable.idempotence": True, "acks": "all", "message.timeout.ms": 15_000})
    producer.produce(topic, key=b"k", value=value, on_delivery=lambda err, _msg: outcome.append(err))
    producer.flush(20)
    assert outcome, "no delivery report within 20 s"
    return outcome[0]


def first_error(consumer: Consumer, seconds: float = 15, codes: tuple[int, ...] = ()) -> KafkaError | None:
    """The first error the consumer reports (of `codes`, if given); None if none within `seconds`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is not None and (not codes or msg.error().code() in codes):
            return msg.error()
    return None


def test_file_and_status_show_secure_mode(secured: Secured) -> None:
    creds_file = secured.state / "secrets" / "credentials.json"
    assert oct(creds_file.stat().st_mode & 0o777) == "0o600"
    assert set(secured.users) >= {"admin", "regency-3374", "regency-3301", "gatekeeper", "gateway", "monitor"}
    status = json.loads(simpul(["platform", "status", "--json"], secured.env, timeout=90).stdout)
    kafka = next(s for s in status["services"] if s["name"] == "kafka")
    assert kafka["running"] and "SASL_PLAINTEXT/SCRAM-SHA-512" in kafka["detail"]


def test_regency_writes_its_own_ingress_topic(secured: Secured) -> None:
    topics = topic_names(PREFIX)
    assert produce(secured.conf("regency-3374"), topics.ingress("3374").name) is None


def test_regency_cannot_write_another_regencys_ingress_topic(secured: Secured) -> None:
    topics = topic_names(PREFIX)
    err = produce(secured.conf("regency-3374"), topics.ingress("3301").name)
    assert err is not None, "regency 3374 wrote 3301's ingress topic"
    assert err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
    assert "authorization" in err.str().lower()


def test_regency_cannot_read_a_canonical_topic(secured: Secured) -> None:
    topics = topic_names(PREFIX)
    name = topics.events("governance").name
    # With a group: refused at the group (a regency has no consumer group at all).
    grouped = Consumer(secured.conf("regency-3374", **{"group.id": f"{PREFIX}-peek", "auto.offset.reset": "earliest"}))
    try:
        grouped.subscribe([name])
        err = first_error(grouped)
    finally:
        grouped.close()
    assert err is not None and err.code() in (KafkaError.GROUP_AUTHORIZATION_FAILED,
                                              KafkaError.TOPIC_AUTHORIZATION_FAILED), err
    assert "authorization" in err.str().lower()
    # Nor does the metadata show it the topic: only its own ingress, receipts and outcomes topics are visible to it.
    admin = AdminClient(secured.conf("regency-3374"))
    md = admin.list_topics(timeout=10)
    visible = {n for n, t in md.topics.items() if t.error is None}
    assert visible == {topics.ingress("3374").name, topics.find("receipts", regency="3374").name,
                       topics.find("outcomes", regency="3374").name}, visible


def _read_one(consumer: Consumer, topic: str, seconds: float = 20) -> bytes | None:
    consumer.subscribe([topic])
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        assert msg.error() is None, msg.error()
        return msg.value()
    return None


def test_receipts_are_written_by_transparency_and_read_by_their_regency_alone(secured: Secured) -> None:
    topics = topic_names(PREFIX)
    theirs = topics.find("receipts", regency="3374").name
    assert produce(secured.conf("transparency"), theirs, b"receipt-3374") is None
    assert produce(secured.conf("transparency"), topics.find("checkpoints").name, b"{}") is None
    # No one else writes receipts: not the regency itself, not the gatekeeper.
    for user in ("regency-3374", "gatekeeper"):
        err = produce(secured.conf(user), theirs)
        assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, (user, err)
    # 3374 reads its own, with a group of its own prefix.
    own = Consumer(secured.conf("regency-3374", **{"group.id": f"{PREFIX}-regency-3374-receipts",
                                                   "auto.offset.reset": "earliest"}))
    try:
        assert _read_one(own, theirs) == b"receipt-3374"
    finally:
        own.close()
    # 3301, with a group it may use, is refused at the topic: an authorization error, not silence.
    other = Consumer(secured.conf("regency-3301", **{"group.id": f"{PREFIX}-regency-3301-receipts",
                                                     "auto.offset.reset": "earliest"}))
    try:
        other.subscribe([theirs])
        err = first_error(other, codes=(KafkaError.TOPIC_AUTHORIZATION_FAILED,))
    finally:
        other.close()
    assert err is not None, "regency 3301 was not refused reading 3374's receipts"
    assert "authorization" in err.str().lower()
    # Nor may it borrow 3374's consumer group.
    borrowed = Consumer(secured.conf("regency-3301", **{"group.id": f"{PREFIX}-regency-3374-receipts",
                                                        "auto.offset.reset": "earliest"}))
    try:
        borrowed.subscribe([topics.find("receipts", regency="3301").name])
        err = first_error(borrowed, codes=(KafkaError.GROUP_AUTHORIZATION_FAILED,))
    finally:
        borrowed.close()
    assert err is not None, "regency 3301 used 3374's consumer group"


def test_outcomes_are_written_by_the_gatekeeper_and_read_by_their_regency_and_the_gateway_alone(
        secured: Secured) -> None:
    topics = topic_names(PREFIX)
    theirs = topics.find("outcomes", regency="3374").name
    assert produce(secured.conf("gatekeeper"), theirs, b"outcome-3374") is None
    for user in ("regency-3374", "gateway", "transparency"):
        err = produce(secured.conf(user), theirs)
        assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, (user, err)
    for user, group in (("regency-3374", f"{PREFIX}-regency-3374-outcomes"), ("gateway", gateway_outcomes_group(PREFIX))):
        reader = Consumer(secured.conf(user, **{"group.id": group, "auto.offset.reset": "earliest"}))
        try:
            assert _read_one(reader, theirs) == b"outcome-3374", user
        finally:
            reader.close()
    other = Consumer(secured.conf("regency-3301", **{"group.id": f"{PREFIX}-regency-3301-outcomes",
                                                     "auto.offset.reset": "earliest"}))
    try:
        other.subscribe([theirs])
        err = first_error(other, codes=(KafkaError.TOPIC_AUTHORIZATION_FAILED,))
    finally:
        other.close()
    assert err is not None, "regency 3301 was not refused reading 3374's outcomes"
    assert "authorization" in err.str().lower()


def test_unauthenticated_and_wrong_password_clients_are_refused(secured: Secured) -> None:
    started = time.monotonic()
    plain = AdminClient({"bootstrap.servers": secured.bootstrap, "security.protocol": "PLAINTEXT", "log_level": 0,
                         "socket.timeout.ms": 3000})
    with pytest.raises(KafkaException):
        plain.list_topics(timeout=5)
    errors: list[KafkaError] = []
    wrong = Producer({**secured.conf("regency-3374"), "sasl.password": "not-the-password",
                      "message.timeout.ms": 5000, "error_cb": errors.append})
    delivered: list[KafkaError | None] = []
    wrong.produce(topic_names(PREFIX).ingress("3374").name, b"x", on_delivery=lambda e, _m: delivered.append(e))
    wrong.flush(10)
    assert delivered and delivered[0] is not None, "a wrong password delivered a record"
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
    assert any("invalid credentials" in e.str() for e in errors), errors
    assert time.monotonic() - started < 20


def test_gatekeeper_reads_ingress_and_writes_canonical(secured: Secured) -> None:
    topics = topic_names(PREFIX)
    ingress = topics.ingress("3374").name
    assert produce(secured.conf("regency-3374"), ingress, b"gk-probe") is None
    consumer = Consumer(secured.conf("gatekeeper", **{"group.id": f"{PREFIX}-gatekeeper",
                                                      "auto.offset.reset": "earliest", "enable.auto.commit": False}))
    got = None
    try:
        consumer.subscribe([ingress])
        end = time.monotonic() + 20
        while time.monotonic() < end and got is None:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            if msg.value() == b"gk-probe":
                got = msg
        assert got is not None, "the gatekeeper read nothing from the ingress topic"
        consumer.commit(got, asynchronous=False)
    finally:
        consumer.close()
    assert produce(secured.conf("gatekeeper"), topics.events("governance").name) is None
    assert produce(secured.conf("gatekeeper"), topics.dlq.name) is None
    # but it cannot write an ingress topic (only regencies, the gateway and the replay do)
    err = produce(secured.conf("gatekeeper"), ingress)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_the_transparency_stage_runs_on_its_own_grants(secured: Secured) -> None:
    """`simpul transparency run --once` as principal `transparency`: joins its group, reads the audit trail, signs
    and publishes a checkpoint (an ops entry written by the monitor, the only other writer of the trail)."""
    from datetime import UTC, datetime

    from schemas.audit import AuditAction, AuditEntry

    topics = topic_names(PREFIX)
    entry = AuditEntry(entry_id=str(uuid.uuid4()), at=datetime.now(UTC), actor="cli:probe", role="cli",
                       action=AuditAction.API_KEY_REVOKE, target="api_key:3374/probe", result="ok")
    assert produce(secured.conf("monitor"), topics.find("audit").name, entry.to_bytes()) is None
    done = simpul(["transparency", "run", "--once", "--json"], secured.env_as("transparency"), timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    stats = json.loads(done.stdout)
    assert stats["appended"] >= 1 and stats["checkpoints"] >= 1, stats
    reader = Consumer(secured.conf("admin", **{"group.id": f"{PREFIX}-probe-{uuid.uuid4().hex[:6]}",
                                               "auto.offset.reset": "earliest"}))
    try:
        assert _read_one(reader, topics.find("checkpoints").name) is not None, "no checkpoint on the topic"
    finally:
        reader.close()


def test_broker_holds_exactly_the_model_acls(secured: Secured) -> None:
    from simpul.platform import security

    creds = security.load_credentials(secured.state)
    assert creds is not None
    model = acl_model(PREFIX)
    for name in ("regency-3374", "gatekeeper", "sink-store", "monitor", "transparency"):
        held = {(b.restype.name, b.name, b.resource_pattern_type.name, b.operation.name)
                for b in security.acls_of(secured.bootstrap, creds, name)}
        wanted = {(b.restype.name, b.name, b.resource_pattern_type.name, b.operation.name)
                  for b in security.bindings(model) if b.principal == f"User:{name}"}
        assert held == wanted, name
