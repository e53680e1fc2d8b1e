"""The ledger core: pure hashing, Merkle proofs, signed notes, envelopes, the log and its store."""
