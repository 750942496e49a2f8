"""The composition root: builds each stage's parts from the one Settings object; tests pass their own."""

from __future__ import annotations

from schemas.codec import AvroCodec
from simpul.settings import Settings


def codec(settings: Settings) -> AvroCodec:
    """The Avro codec on the configured registry (schemas must be registered: `simpul schemas register`)."""
    return AvroCodec.from_url(settings.registry)


def gateway(settings: Settings):  # noqa: ANN201 - FastAPI app; imported lazily to keep the CLI fast
    """The HTTP ingress gateway app, wired to the broker, the registry and its own database."""
    from producers.delivery import AckedProducer
    from producers.gateway.app import Gateway, create_app
    from producers.gateway.store import GatewayStore
    from topics.catalog import topic_names

    settings.state_dir.mkdir(parents=True, exist_ok=True)
    parts = Gateway(
        store=GatewayStore(settings.gateway_db),
        codec=codec(settings),
        producer=AckedProducer(settings.kafka, client_id="simpul-gateway"),
        topics=topic_names(settings.topic_prefix),
        max_batch=settings.gateway_max_batch,
    )
    return create_app(parts)


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
