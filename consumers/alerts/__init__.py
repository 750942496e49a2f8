"""Alert dispatch: each alert delivered once per alert id to every configured webhook (signed, retried)."""

from consumers.alerts.signing import SIGNATURE_HEADER, sign, signature_headers, verify_signature

__all__ = ["SIGNATURE_HEADER", "sign", "signature_headers", "verify_signature"]
