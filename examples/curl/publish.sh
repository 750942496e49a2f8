#!/usr/bin/env bash
# One event over HTTP with curl, a fresh event_id each run (send the same body again to retry: `duplicate`).
#   SIMPUL_API_KEY=<your regency's key> bash examples/curl/publish.sh
set -euo pipefail
GATEWAY=${SIMPUL_GATEWAY_URL:-http://127.0.0.1:18000}
EVENT_ID=$(python3 -c 'import uuid; print(uuid.uuid4())')   # or uuidgen
NOW=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)

curl -sS --fail-with-body -X POST "$GATEWAY/v1/events" \
  -H "X-API-Key: $SIMPUL_API_KEY" -H "Content-Type: application/json" \
  --data-binary @- <<JSON
{
  "events": [
    {
      "event_type": "ServiceRequestSubmitted",
      "event_id": "$EVENT_ID",
      "regency_code": "3374",
      "source_system": "siak-3374",
      "occurred_at": "$NOW",
      "case_id": "SR-3374-$EVENT_ID",
      "service_code": "KTP_EL",
      "channel": "MPP",
      "office_code": "disdukcapil",
      "documents_complete": true,
      "fee_charged_idr": 0,
      "applicant_nik": "3374015502900001"
    }
  ]
}
JSON
