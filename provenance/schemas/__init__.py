"""The published JSON Schemas of attestation statements, one file per type and version."""
