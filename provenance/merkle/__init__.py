"""RFC 6962 / RFC 9162 Merkle trees: hashing, proof construction and proof verification.

Pure functions only: no I/O. Proof construction asks a caller-supplied reader for node hashes, so the
same code serves the SQL store, the tiles and in-memory tests.
"""
