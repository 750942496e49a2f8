curl -sS -X POST {{gateway_url}}/v1/events \
  -H "X-API-Key: $SIMPUL_API_KEY" -H "Content-Type: application/json" \
  --data-binary @- <<'JSON'
{{body}}
JSON
