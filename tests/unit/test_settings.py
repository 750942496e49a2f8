"""One settings object from SIMPUL_* variables, secrets masked, rendered to librdkafka keys in one place."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from simpul.platform import platform_for
from simpul.platform.external import ExternalPlatform
from simpul.platform.kraft import kafka_properties
from simpul.platform.local import LocalPlatform
from simpul.settings import Settings, load_settings
from topics.connection import KafkaConnection


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMPUL_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("SIMPUL_TOPIC_PREFIX", "jateng2")
    s = load_settings()
    assert s.kafka.bootstrap == "kafka-1:9092,kafka-2:9092"
    assert s.topic_prefix == "jateng2"


def test_local_defaults_point_at_the_local_platform() -> None:
    s = Settings(kafka_port=29092, registry_port=28080, postgres_port=25432)
    assert s.kafka.bootstrap == "127.0.0.1:29092"
    assert s.registry == "http://127.0.0.1:28080/apis/ccompat/v7"
    assert s.postgres.endswith("@127.0.0.1:25432/simpul")
    assert s.store.startswith("sqlite:///") and s.store.endswith("store.sqlite")


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValidationError, match="kafka_bootstrapp"):
        Settings(kafka_bootstrapp="x:1")  # type: ignore[call-arg]


def test_bad_prefix_is_rejected() -> None:
    with pytest.raises(ValidationError, match="topic_prefix"):
        Settings(topic_prefix="Jateng.Prod")


def test_secrets_are_masked_everywhere() -> None:
    s = Settings(kafka_password=SecretStr("hunter2"), kafka_security_protocol="SASL_PLAINTEXT",
                 kafka_username="gatekeeper")
    assert "hunter2" not in repr(s) and "hunter2" not in s.model_dump_json()
    assert "hunter2" not in repr(s.kafka)


def test_librdkafka_rendering() -> None:
    plain = KafkaConnection(bootstrap="b:1").librdkafka(**{"acks": "all"})
    assert plain == {"bootstrap.servers": "b:1", "security.protocol": "PLAINTEXT", "client.id": "simpul",
                     "acks": "all"}
    secured = KafkaConnection(bootstrap="b:1", security_protocol="SASL_PLAINTEXT", username="r3374",
                              password=SecretStr("pw")).librdkafka()
    assert secured["sasl.mechanism"] == "SCRAM-SHA-512"
    assert (secured["sasl.username"], secured["sasl.password"]) == ("r3374", "pw")


def test_auto_provider_prefers_a_configured_cluster() -> None:
    assert isinstance(platform_for(Settings(kafka_bootstrap="k:9092")), ExternalPlatform)


def test_auto_provider_falls_back_to_local_without_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("simpul.platform.docker.docker_engine_answers", lambda: False)
    assert isinstance(platform_for(Settings()), LocalPlatform)


def test_explicit_provider_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("simpul.platform.docker.docker_engine_answers", lambda: True)
    assert isinstance(platform_for(Settings(provider="local")), LocalPlatform)


def test_single_node_broker_properties(tmp_path) -> None:  # noqa: ANN001
    props = dict(line.split("=", 1) for line in kafka_properties(19092, 19093, tmp_path).splitlines()
                 if line and not line.startswith("#"))
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["auto.create.topics.enable"] == "false"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"


def test_stage_tuning_is_part_of_the_one_settings_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMPUL_AGG_WINDOWS", "15m, 1h")
    monkeypatch.setenv("SIMPUL_ALERT_WEBHOOKS", "http://a/x, http://b/y")
    monkeypatch.setenv("SIMPUL_DEDUP_HORIZON_DAYS", "3")
    monkeypatch.setenv("SIMPUL_SINK_BATCH_SIZE", "500")
    s = load_settings()
    assert s.agg_windows == ("15m", "1h") and s.window_seconds == (("15m", 900), ("1h", 3600))
    assert s.alert_webhooks == ("http://a/x", "http://b/y")
    assert s.dedup_horizon_ms == 3 * 86_400_000 and s.sink_batch_size == 500
    with pytest.raises(ValidationError, match="agg_windows"):
        Settings(agg_windows=("0m",))
