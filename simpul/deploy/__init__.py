"""Production platform definitions rendered from the same catalog and ACL model as the local platform."""
