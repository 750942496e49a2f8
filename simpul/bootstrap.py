"""The composition root: builds each stage's parts from the one Settings object; tests pass their own."""

from __future__ import annotations

from schemas.codec import AvroCodec
from simpul.settings import Settings


def codec(settings: Settings) -> AvroCodec:
    """The Avro codec on the configured registry (schemas must be registered: `simpul schemas register`)."""
    return AvroCodec.from_url(settings.registry)


def gateway(settings: Settings, *, max_body_bytes: int | None = None):  # noqa: ANN201 - FastAPI app, lazy import
    """The HTTP ingress gateway app, wired to the broker, the registry, its own database (migrated here, so that a
    wrong URL fails before serving), the installation's retry digest key, the transparency log's receipts in
    the provincial store (read only when asked, so that a store down or not there yet fails that endpoint alone)
    and the index of the regencies' outcome topics in its own database, kept current by a follower thread."""
    from producers.delivery import AckedProducer
    from producers.gateway.app import PRODUCER_CONF, Gateway, create_app
    from producers.gateway.digest import RetryDigest
    from producers.gateway.outcomes import OutcomeFollower, OutcomeIndex
    from topics.catalog import topic_names

    digest = RetryDigest(settings.secret("gateway_digest_key"))
    store = gateway_store(settings)
    store.migrate()
    outcomes = OutcomeIndex(store.engine)
    outcomes.create()
    parts = Gateway(
        store=store,
        codec=codec(settings),
        producer=AckedProducer(settings.kafka, client_id="simpul-gateway", conf=PRODUCER_CONF),
        topics=topic_names(settings.topic_prefix),
        digest=digest,
        max_batch=settings.gateway_max_batch,
        max_body_bytes=max_body_bytes,
        receipts=receipt_lookup(settings),
        receipt_retry_after_s=settings.tlog_checkpoint_seconds,
        outcomes=outcomes,
        services=[OutcomeFollower(outcomes, settings.kafka, topic_names(settings.topic_prefix))],
    )
    return create_app(parts)


def receipt_lookup(settings: Settings, store_url: str | None = None):  # noqa: ANN201 - ReceiptLookup, lazy import
    """The gateway's reader of receipts (transparency.receipts) in the provincial store, the log's states turned
    into the gateway's exceptions. Never migrates nor creates the store (the store sink and the log stage own it);
    the engine is made on the first request, with a short connect timeout on PostgreSQL."""
    import threading
    from pathlib import Path
    from typing import Any

    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from consumers.exceptions import StoreError
    from consumers.store.db import connect
    from consumers.store.tables import tlog_leaves
    from producers.gateway.receipts import ReceiptPending, ReceiptsUnavailable
    from transparency.receipts import ReceiptNotYet, find_receipt

    url = store_url or settings.store
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    sqlite_file = parsed.database if parsed.get_backend_name() == "sqlite" and parsed.database not in (
        None, "", ":memory:") else None
    engines: list[sa.Engine] = []
    lock = threading.Lock()

    def engine() -> sa.Engine:
        with lock:
            if not engines:
                extra = {"connect_args": {"connect_timeout": 5}} if parsed.get_backend_name() == "postgresql" else {}
                engines.append(connect(url, pool_pre_ping=True, **extra))
            return engines[0]

    def lookup(event_id: str) -> dict[str, Any] | None:
        if sqlite_file is not None and not Path(sqlite_file).is_file():
            raise ReceiptsUnavailable(f"the store {shown} does not exist yet (the store sink creates it)")
        try:
            try:
                receipt = find_receipt(engine(), event_id)
            except ReceiptNotYet as exc:
                with engine().connect() as conn:
                    regency = conn.execute(sa.select(tlog_leaves.c.regency_code)
                                           .where(tlog_leaves.c.ref_id == event_id)).scalar()
                raise ReceiptPending(str(exc), regency) from None
        except (StoreError, sa.exc.SQLAlchemyError) as exc:
            raise ReceiptsUnavailable(f"the store {shown} cannot be read ({type(exc).__name__}; is it migrated, "
                                      "`simpul sink store`?)") from None
        return None if receipt is None else receipt.model_dump(mode="json")

    return lookup


def gateway_store(settings: Settings):  # noqa: ANN201 - GatewayStore
    """The gateway's database of API keys and outcomes (`simpul gateway`, `simpul keys`); migrated on first use."""
    from producers.gateway.store import GatewayStore

    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return GatewayStore(settings.gateway_db)


def provision(settings: Settings) -> dict[str, int]:
    """Make the cluster hold the catalog's topics and the registry every schema (idempotent, non-destructive).

    What `simpul run` and the tests do before any producer or processor starts.
    """
    from schemas.reference import regency_codes
    from topics.admin import TopicAdmin
    from topics.catalog import load_catalog
    from topics.plan import plan

    catalog = load_catalog()
    admin = TopicAdmin(settings.kafka)
    state = admin.observe(settings.topic_prefix)
    topics = catalog.expand(regency_codes=sorted(regency_codes()), profile=catalog.profile_for(state.broker_count),
                            prefix=settings.topic_prefix)
    changes = plan(topics, state.topics, namespaces=catalog.namespaces)
    applied = admin.apply(changes) if changes else []
    registered = codec(settings).register_all()
    return {"topic_changes": len(applied), "schemas": len(registered)}


def dashboard(settings: Settings, *, interval_s: float = 3.0, silent_after_s: int = 3600):  # noqa: ANN201
    """The ops dashboard app: live cluster snapshot, the store's per-regency figures, DLQ browser and replay, behind
    ops accounts (their database, sessions signed with the session key) and the audit trail; /metrics behind the
    metrics token. Raises SecretError, naming the variable, when either secret is missing."""
    from datetime import timedelta

    from monitor.accounts import Accounts
    from monitor.audit import AuditLog
    from monitor.dashboard.access import OpsAccess
    from monitor.dashboard.app import create_app
    from monitor.dashboard.state import DashboardState
    from monitor.login_limit import LoginLimiter
    from monitor.opsdb import connect
    from monitor.sessions import Sessions, SessionSigner
    from topics.catalog import topic_names

    signer = SessionSigner(settings.secret("session_key"), timedelta(hours=settings.dashboard_session_hours))
    metrics_token = settings.secret("metrics_token")
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings.dashboard_db)
    audit = AuditLog(engine, settings.kafka, topic_names(settings.topic_prefix).find("audit").name)
    access = OpsAccess(accounts=Accounts(engine), sessions=Sessions(engine, signer), audit=audit,
                       limiter=LoginLimiter(settings.dashboard_login_max_failures, settings.dashboard_login_window_s),
                       metrics_token=metrics_token, allowed_hosts=tuple(settings.dashboard_hosts))
    state = DashboardState(settings.kafka, settings.registry, settings.topic_prefix, interval_s=interval_s,
                           silent_after_s=silent_after_s, store_stats=_store_stats(settings),
                           chores=(audit.publish_pending,))
    dlq = dlq_browser(settings)
    return create_app(state, dlq, access)


def dlq_browser(settings: Settings):  # noqa: ANN201
    """The DLQ browser (dashboard, `simpul dlq`): opens sealed records with the current and retired DLQ keys."""
    from monitor.dlq import DlqBrowser
    from schemas.dlq_seal import DlqSeal
    from topics.catalog import topic_names

    seal = DlqSeal(settings.secret("dlq_key"), settings.retired_dlq_keys())
    return DlqBrowser(settings.kafka, codec(settings), topic_names(settings.topic_prefix), seal)


def _store_stats(settings: Settings):  # noqa: ANN202
    """Per-regency figures from the provincial store, if the store sink has created it."""
    try:
        from monitor.store_view import StoreView
    except ImportError:
        return None
    view = StoreView(settings.store)
    return view.stats


# ---- streams: the gatekeeper worker, the Faust apps of aggregates and alerts --------------------------------------

def gatekeeper(settings: Settings, *, recovered=None):  # noqa: ANN001, ANN201 - Recovered / GatekeeperWorker, lazy
    """The gatekeeper worker (`simpul streams run gatekeeper`): creates its dedup changelog, reads the tail of its
    output topics (records already written before a crash; skipped when `recovered` is given), opens its local
    dedup cache and its Kafka clients. Raises SecretError, naming the variable, when a key is missing."""
    import logging
    import time

    from confluent_kafka import Consumer, Producer

    from schemas.dlq_seal import DlqSeal
    from streams.gatekeeper.dedup import DedupTable
    from streams.gatekeeper.recovery import read_tail, release_freed_memory
    from streams.gatekeeper.worker import GatekeeperTopics, GatekeeperWorker, consumer_settings, producer_settings
    from streams.runtime import data_dir, ensure_internal_topics, state_budget
    from topics.catalog import topic_names

    topics = GatekeeperTopics.of(topic_names(settings.topic_prefix), settings)
    ensure_internal_topics(settings, settings, topics.internal())
    if recovered is None:
        started = time.monotonic()
        recovered = read_tail(settings.kafka, topics.outputs, settings.recovery_tail_records)
        logging.getLogger("simpul.streams.gatekeeper").info(
            "recovery: read %d output records in %.1fs; %d inputs already done, %d event ids", recovered.records_read,
            time.monotonic() - started, len(recovered.done_sources), len(recovered.event_sources))
        release_freed_memory()
    conn = settings.kafka
    return GatekeeperWorker(
        settings, topics, connection=conn, codec=codec(settings),
        hmac_key=settings.secret("nik_hmac_key").encode("utf-8"), seal=DlqSeal(settings.secret("dlq_key")),
        table=DedupTable(data_dir("gatekeeper", settings, settings) / "dedup", budget=state_budget(settings)),
        recovered=recovered,
        producer=Producer(conn.librdkafka(**producer_settings(topics.group))),
        consumer=Consumer(conn.librdkafka(**consumer_settings(topics.group, settings.streams_instance))))


def aggregates_app(settings: Settings):  # noqa: ANN201 - faust.App, lazy import
    """The aggregates processor's Faust app (`simpul streams run aggregates`), its internal topics created first."""
    from streams.aggregates.app import build_aggregates, internal_topics
    from streams.runtime import ensure_internal_topics
    from topics.catalog import topic_names

    topics, parts = topic_names(settings.topic_prefix), codec(settings)
    ensure_internal_topics(settings, settings, internal_topics(settings))
    return build_aggregates(settings, settings, topics=topics, codec=parts)


def alerts_app(settings: Settings):  # noqa: ANN201 - faust.App, lazy import
    """The alerts processor's Faust app (`simpul streams run alerts`) with the rules of SIMPUL_ALERT_RULES_FILE,
    its internal topics created first. Rules other than the last recorded ones go to the ops audit trail
    (`alert_rules.change`, SHA-256 before and after); the monitor publishes the entry if this principal may not."""
    from simpul.cli.ops_audit import publish_now, record_alert_rules
    from streams.alerts.app import build_alerts, internal_topics
    from streams.alerts.rules import load_rules, rules_digest, rules_source
    from streams.runtime import ensure_internal_topics
    from topics.catalog import topic_names

    topics, rules, parts = topic_names(settings.topic_prefix), load_rules(settings.alert_rules_file), codec(settings)
    _, audit = ops_records(settings)
    if record_alert_rules(audit, source=str(rules_source(settings.alert_rules_file)),
                          digest=rules_digest(settings.alert_rules_file)) is not None:
        publish_now(audit)
    else:
        audit.close()
    ensure_internal_topics(settings, settings, internal_topics(settings))
    return build_alerts(settings, settings, topics=topics, codec=parts, rules=rules)


# ---- consumers: the provincial store sink, alert dispatch, transparency read model -------------------------------

def store_engine(settings: Settings, store_url: str | None = None, *, migrate: bool = True):  # noqa: ANN201
    """An engine on the provincial store (`store_url` or settings.store), migrated to the newest revision."""
    from consumers.store.db import connect
    from consumers.store.db import migrate as run_migrations

    engine = connect(store_url or settings.store)
    if migrate:
        run_migrations(engine)
    return engine


def store_sink(settings: Settings, *, store_url: str | None = None, batch_size: int | None = None,
               poll_timeout: float | None = None, group: str | None = None):  # noqa: ANN201
    """The store sink (`simpul sink store`) on the configured broker, registry and store."""
    from consumers.config import consumer_conf
    from consumers.store.sink import build
    from topics.catalog import topic_names

    cs = settings
    return build(store_engine(settings, store_url), settings.kafka, topic_names(settings.topic_prefix),
                 codec(settings).decode, batch_size=batch_size or cs.sink_batch_size,
                 poll_timeout=poll_timeout or cs.sink_poll_timeout_s, group=group, conf=consumer_conf(cs, "store"))


def alert_dispatcher(settings: Settings, *, store_url: str | None = None,
                     webhooks: list[str] | None = None):  # noqa: ANN201
    """The alert dispatcher (`simpul sink alerts`): webhooks from the argument or SIMPUL_ALERT_WEBHOOKS."""
    from consumers.alerts.dispatch import AlertDispatcher

    cs = settings
    return AlertDispatcher(
        store_engine(settings, store_url), list(webhooks) if webhooks else list(cs.alert_webhooks),
        settings.secret("alert_webhook_secret"), max_attempts=cs.alert_max_attempts,
        retry_base_s=cs.alert_retry_base_s, retry_max_s=cs.alert_retry_max_s, timeout_s=cs.alert_timeout_s,
        workers=cs.alert_workers)


def alert_dispatch(settings: Settings, dispatcher, *, group: str | None = None, once: bool = False,
                   stop=None):  # noqa: ANN001, ANN201 - AlertDispatcher, Stopper -> () -> DispatchStats
    """One run of the alert dispatch (`simpul sink alerts`) on a new consumer of the alerts topic, as a function to
    call again after a fencing (a fenced consumer cannot be used again: `consumers.kafka.rejoin_when_fenced`)."""
    from consumers.alerts.dispatch import build_consumer, run
    from consumers.config import consumer_conf
    from consumers.kafka import EndOffsets
    from topics.catalog import topic_names

    topics, ends = topic_names(settings.topic_prefix), EndOffsets(settings.kafka)
    return lambda: run(dispatcher, build_consumer(settings.kafka, topics, group, consumer_conf(settings, "alerts")),
                       topics.alerts.name, poll_timeout=settings.sink_poll_timeout_s, once=once, stop=stop, ends=ends)


# ---- transparency: the signed log of every canonical event and ops action -------------------------------------

def log_signer(settings: Settings):  # noqa: ANN201 - transparency.stage.Signer
    """The province's checkpoint signer (origin from settings, key from the `tlog_signing_key` secret)."""
    from transparency.stage import Signer, default_origin

    return Signer.from_secret(settings.tlog_origin or default_origin(settings.topic_prefix),
                              settings.secret("tlog_signing_key"))


def transparency_log(settings: Settings, *, store_url: str | None = None, group: str | None = None):  # noqa: ANN201
    """The transparency stage (`simpul transparency run`) on the configured broker, registry and store."""
    from confluent_kafka import Producer

    from consumers.kafka import EndOffsets, make_consumer
    from consumers.store.sink import decoder
    from topics.catalog import topic_names
    from transparency.stage import LogTopics, TransparencyLog, group_id

    signer = log_signer(settings)
    topics = topic_names(settings.topic_prefix)
    # larger fetches and compressed, lingering receipts: fewer, bigger requests cost the broker (which shares the
    # gatekeeper's cores) less CPU; the log is not latency-critical (bench case gatekeeper+log)
    consumer = make_consumer(settings.kafka, group or group_id(settings.topic_prefix),
                             client_id="simpul-transparency", **{"max.poll.interval.ms": 600_000,
                                                                 "fetch.min.bytes": 262_144, "fetch.wait.max.ms": 500})
    producer = Producer(settings.kafka.librdkafka(**{
        "acks": "all", "enable.idempotence": True, "client.id": "simpul-transparency", "linger.ms": 50,
        "compression.type": "lz4", "message.timeout.ms": 30000}))
    return TransparencyLog(store_engine(settings, store_url), consumer, producer, LogTopics.of(topics),
                           decoder(codec(settings)), signer,
                           checkpoint_seconds=settings.tlog_checkpoint_seconds,
                           checkpoint_events=settings.tlog_checkpoint_events, ends=EndOffsets(settings.kafka))


# ---- monitor: the ops records the CLI shares with the dashboard -------------------------------------------------

def ops_records(settings: Settings):  # noqa: ANN201 - (Accounts, AuditLog)
    """The ops accounts and the audit trail in the dashboard database (`simpul users`, `simpul dlq replay`)."""
    from monitor.accounts import Accounts
    from monitor.audit import AuditLog
    from monitor.opsdb import connect
    from topics.catalog import topic_names

    settings.state_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings.dashboard_db)
    return Accounts(engine), AuditLog(engine, settings.kafka, topic_names(settings.topic_prefix).find("audit").name)


# ---- producers: the SDK publisher and the traffic simulator's sender ---------------------------------------------

def publisher(settings: Settings, regency_code: str):  # noqa: ANN201 - RegencyProducer
    """The SDK producer of one regency (`simpul publish`) on the configured broker and registry."""
    from producers.sdk import RegencyProducer

    return RegencyProducer(regency_code, settings.kafka, codec(settings), topic_prefix=settings.topic_prefix)


def simulator_sender(settings: Settings, *, via: str, prefix: str | None = None, rate: float = 0.0,
                     gateway_url: str | None = None, api_keys: dict[str, str] | None = None,
                     show_progress: bool = True):  # noqa: ANN201 - (records) -> SendReport
    """How `simpul simulate` sends its planned records: over HTTP to the gateway (settings.gateway_url unless given)
    with each regency's key, or through the SDK on the configured broker and registry once the ingress topics and
    the schemas are found there (checked when sending starts; nothing is sent otherwise)."""
    from producers.simulator.preflight import preflight
    from producers.simulator.send import send_http, send_sdk
    from topics.catalog import topic_names

    if via == "http":
        url, keys = gateway_url or settings.gateway_url, dict(api_keys or {})
        return lambda records: send_http(records, base_url=url, api_keys=keys, rate=rate, show_progress=show_progress)
    topic_prefix = prefix or settings.topic_prefix

    def send(records):  # noqa: ANN001, ANN202 - Sequence[PlannedRecord] -> SendReport
        parts = codec(settings)
        preflight(settings.kafka, settings.registry, topic_names(topic_prefix), parts)
        return send_sdk(records, kafka=settings.kafka, codec=parts, topic_prefix=topic_prefix, rate=rate,
                        show_progress=show_progress)

    return send
