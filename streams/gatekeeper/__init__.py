"""The gatekeeper: ingress -> validate, tokenise, deduplicate, route; rejects to the DLQ."""
