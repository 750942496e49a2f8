"""A regency system publishing with the Simpul SDK: two service requests of one regency, each submitted and then
completed (two event types), every event with a fresh event_id. Validation happens before anything is sent.

    make setup    # in a checkout: the SDK and its dependencies in .venv
    SIMPUL_KAFKA_BOOTSTRAP=127.0.0.1:19092 .venv/bin/python examples/python/publish.py
"""

import json
import os
import uuid
from datetime import UTC, datetime, timedelta

from producers.sdk import RegencyProducer

BOOTSTRAP = os.environ.get("SIMPUL_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
REGISTRY_URL = os.environ.get("SIMPUL_REGISTRY_URL", "http://127.0.0.1:18080/apis/ccompat/v7")
REGENCY = os.environ.get("SIMPUL_REGENCY", "3374")
# The province's cluster: TLS and a SCRAM-SHA-512 user that may write your ingress topic. Unset for the local
# trial (`simpul platform up --plain`), which is PLAINTEXT.
USERNAME = os.environ.get("SIMPUL_KAFKA_USERNAME")
SECURITY = {"security_protocol": "SASL_SSL", "username": USERNAME,
            "password": os.environ.get("SIMPUL_KAFKA_PASSWORD")} if USERNAME else {}

with RegencyProducer.connect(REGENCY, bootstrap=BOOTSTRAP, registry_url=REGISTRY_URL,
                             topic_prefix=os.environ.get("SIMPUL_TOPIC_PREFIX", "jateng"), **SECURITY) as producer:
    for _ in range(2):
        case_id = f"SR-{REGENCY}-{uuid.uuid4()}"
        submitted_at = datetime.now(UTC) - timedelta(hours=1)
        envelope = {"regency_code": REGENCY, "source_system": f"siak-{REGENCY}", "case_id": case_id}
        futures = [
            producer.publish_dict("ServiceRequestSubmitted", {
                **envelope, "event_id": str(uuid.uuid4()),   # a new UUID per fact; reuse it when you retry
                "occurred_at": submitted_at, "service_code": "KTP_EL", "channel": "MPP",
                "office_code": "disdukcapil", "documents_complete": True, "fee_charged_idr": 0,
                "applicant_nik": f"{REGENCY}015502900001"}),  # clear NIK: allowed on ingress only
            producer.publish_dict("ServiceRequestCompleted", {
                **envelope, "event_id": str(uuid.uuid4()),
                "occurred_at": submitted_at + timedelta(minutes=30), "service_code": "KTP_EL", "channel": "MPP",
                "outcome": "ISSUED", "submitted_at": submitted_at, "fee_charged_idr": 0}),
        ]
        for event_type, future in zip(("ServiceRequestSubmitted", "ServiceRequestCompleted"), futures):
            delivery = future.result(timeout=60)   # raises DeliveryFailed if the broker never acknowledged it
            print(json.dumps({"event_type": event_type, **delivery.model_dump()}))
