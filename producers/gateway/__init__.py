"""The HTTP ingress gateway: for regency systems that cannot run a Kafka client (a PHP web form, say)."""
