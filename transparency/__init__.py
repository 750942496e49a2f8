"""The transparency log's verifiable parts: RFC 6962/9162 Merkle hashing with inclusion and consistency proofs,
and signed checkpoints in the C2SP tlog-checkpoint / signed-note format (Ed25519), so a regency, an auditor or a
citizen can check the province's record with any standard implementation, not only with ours."""
