"""The operator's key files under ``keys/``: the log key that signs checkpoints, and the operator
key that signs governance statements (registering parties, suspending them, revoking keys).

Private keys are PKCS#8 PEM files created with mode 0600 and ignored by git; each has a public
companion (``.pub``) that is safe to publish. Two keys, not one, so that the key a witness trusts for
checkpoints is never used to sign anything else.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provenance.keys import (
    generate_private_key,
    load_private_key,
    public_key_bytes,
    save_private_key,
)
from provenance.note import NoteSigner, NoteVerifier

LOG_KEY = "log.key"
LOG_VKEY = "log.vkey"
OPERATOR_KEY = "operator.key"
OPERATOR_PUB = "operator.pub"


@dataclass(frozen=True)
class OperatorKeys:
    """The log's checkpoint signer and the operator's governance key."""

    log_signer: NoteSigner
    operator_key: Ed25519PrivateKey

    @property
    def log_verifier(self) -> NoteVerifier:
        return self.log_signer.verifier()


def init_keys(directory: Path, origin: str) -> tuple[OperatorKeys, bool]:
    """Create the log and operator keys in ``directory`` unless they exist; return them and
    whether they were created now."""
    directory.mkdir(parents=True, exist_ok=True)
    created = False
    for name in (LOG_KEY, OPERATOR_KEY):
        if not (directory / name).exists():
            try:
                save_private_key(directory / name, generate_private_key())
                created = True
            except FileExistsError:
                pass  # another process made it first: use theirs, never replace a key
    keys = load_keys(directory, origin)
    (directory / LOG_VKEY).write_text(keys.log_signer.verifier_key() + "\n")
    (directory / OPERATOR_PUB).write_text(
        base64.b64encode(public_key_bytes(keys.operator_key)).decode() + "\n"
    )
    return keys, created


def load_keys(directory: Path, origin: str) -> OperatorKeys:
    """Load the log and operator keys from ``directory``; the log key signs as ``origin``."""
    return OperatorKeys(
        NoteSigner(origin, load_private_key(directory / LOG_KEY)),
        load_private_key(directory / OPERATOR_KEY),
    )


def load_log_verifier(directory: Path) -> NoteVerifier:
    """Load the published verifier key of the log from ``directory``."""
    return NoteVerifier.from_vkey((directory / LOG_VKEY).read_text().strip())
