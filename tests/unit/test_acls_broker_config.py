"""The secured and three-node broker configuration the local platform writes (no broker needed)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from simpul.platform.kraft import KafkaMode, kafka_nodes, node_properties
from simpul.platform.security import Credentials, scram_format_args


def props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


CREDS = Credentials(users={"admin": SecretStr("adm-pw"), "controller": SecretStr("ctl-pw")})


def test_secure_single_node(tmp_path: Path) -> None:
    (node,) = kafka_nodes(tmp_path, KafkaMode(secure=True), 19092, 19093)
    p = props(node_properties(node, [node], CREDS))
    assert p["listeners"] == "SASL_PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert p["listener.security.protocol.map"] == "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    assert p["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert p["allow.everyone.if.no.acl.found"] == "false"
    assert p["super.users"] == "User:admin;User:controller"  # no User:ANONYMOUS: the controller listener has SASL
    assert p["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert p["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert 'username="admin" password="adm-pw"' in p["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"]
    assert scram_format_args(CREDS) == ["--add-scram", "SCRAM-SHA-512=[name=admin,password=adm-pw]"]


def test_three_nodes_share_static_voters(tmp_path: Path) -> None:
    nodes = kafka_nodes(tmp_path, KafkaMode(brokers=3), 30000, 30001)
    assert [(n.node_id, n.port, n.controller_port) for n in nodes] == [(1, 30000, 30001), (2, 30002, 30003),
                                                                       (3, 30004, 30005)]
    assert len({n.data for n in nodes}) == 3
    for node in nodes:
        p = props(node_properties(node, nodes, None))
        assert p["node.id"] == str(node.node_id)
        assert p["controller.quorum.voters"] == "1@127.0.0.1:30001,2@127.0.0.1:30003,3@127.0.0.1:30005"
        assert "controller.quorum.bootstrap.servers" not in p
        assert p["offsets.topic.replication.factor"] == "3" and p["transaction.state.log.min.isr"] == "2"
        assert p["default.replication.factor"] == "3" and p["min.insync.replicas"] == "2"


def test_cluster_ids_never_start_with_a_dash(monkeypatch) -> None:
    """`kafka-storage format -t -abc…` reads the id as an option; one random id in 64 starts with '-'."""
    import uuid as uuid_module

    from simpul.platform import kraft

    dash_first = uuid_module.UUID(bytes=b"\xfb" + bytes(15))  # base64url "-w…"
    fresh = iter([dash_first, uuid_module.UUID(int=7)])
    monkeypatch.setattr(kraft.uuid, "uuid4", lambda: next(fresh))
    cluster_id = kraft.cluster_id()
    assert not cluster_id.startswith("-")
    assert cluster_id == "AAAAAAAAAAAAAAAAAAAABw"
