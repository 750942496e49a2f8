"""A province service reading a canonical topic with the SDK's consumer side: typed events (the same models the
regencies publish with, NIKs already tokenised), at-least-once, offsets committed only after `handle` returned.

    SIMPUL_KAFKA_BOOTSTRAP=127.0.0.1:19092 .venv/bin/python examples/python/province_service.py [max events]
"""

import json
import os
import sys

from consumers.province import ProvinceConsumer
from schemas.models import Event

BOOTSTRAP = os.environ.get("SIMPUL_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
REGISTRY_URL = os.environ.get("SIMPUL_REGISTRY_URL", "http://127.0.0.1:18080/apis/ccompat/v7")
# The province's cluster: TLS and a SCRAM-SHA-512 user that may read the topic and use the group. Unset for the
# local trial (`simpul platform up --plain`), which is PLAINTEXT.
USERNAME = os.environ.get("SIMPUL_KAFKA_USERNAME")
SECURITY = {"security_protocol": "SASL_SSL", "username": USERNAME,
            "password": os.environ.get("SIMPUL_KAFKA_PASSWORD")} if USERNAME else {}


def handle(event: Event) -> None:
    """What this service does with one event; here: print it. Make it idempotent by event_id (a restart may
    hand an event over again)."""
    print(json.dumps({"event_type": type(event).event_type, "event": event.model_dump(mode="json")}), flush=True)


with ProvinceConsumer.connect(os.environ.get("SIMPUL_GROUP_ID", "province-example"), families=["governance"],
                              bootstrap=BOOTSTRAP, registry_url=REGISTRY_URL,
                              topic_prefix=os.environ.get("SIMPUL_TOPIC_PREFIX", "jateng"), **SECURITY) as consumer:
    idle = os.environ.get("SIMPUL_IDLE_SECONDS")   # for a trial: stop after that many quiet seconds
    consumed = consumer.run(handle, max_events=int(sys.argv[1]) if len(sys.argv) > 1 else None,
                            idle_s=float(idle) if idle else None)
    print(f"handled {consumed.handled}, skipped {consumed.skipped}", file=sys.stderr)
