"""The error family of the ledger core.

Every error the core raises derives from :class:`ProvenanceError`. Verification failures derive from
:class:`VerificationError` and carry typed fields (expected against calculated values, the first bad
index) so that callers can report them without parsing messages. Refusals of an append derive from
:class:`AppendRefused`. Each error has a stable ``code`` (used as the problem+json ``type`` suffix by
the API) and an HTTP ``status`` hint, so that the service maps errors to responses in one place.

Library exceptions (``cryptography``, ``binascii``, ``json``) are converted into these at the edge of
the module that calls the library, with ``raise ... from e``.
"""

from __future__ import annotations


class ProvenanceError(Exception):
    """Base of every error raised by the ledger core."""

    code = "provenance-error"
    status = 500


# --- Verification -------------------------------------------------------------------------------


class VerificationError(ProvenanceError):
    """Something that was checked did not verify."""

    code = "verification-failed"
    status = 422


class MalformedError(VerificationError):
    """Input could not be parsed into the structure a spec defines (a note, an envelope, a proof)."""

    code = "malformed"
    status = 400


class ProofError(VerificationError):
    """A Merkle proof is structurally wrong for the claimed index and sizes (length, bounds)."""

    code = "invalid-proof"


class RootMismatchError(VerificationError):
    """A proof led to a root that differs from the one expected."""

    code = "root-mismatch"

    def __init__(self, expected_root: bytes, calculated_root: bytes, message: str = "") -> None:
        self.expected_root = expected_root
        self.calculated_root = calculated_root
        self.message = message
        super().__init__(
            message
            or f"root mismatch: expected {expected_root.hex()}, calculated {calculated_root.hex()}"
        )

    def __reduce__(self) -> tuple[type, tuple[bytes, bytes, str]]:
        return type(self), (self.expected_root, self.calculated_root, self.message)


class SignatureError(VerificationError):
    """A signature did not verify, or no signature by a trusted key was found."""

    code = "bad-signature"


class LogIntegrityError(VerificationError):
    """Stored log data disagrees with what replaying the log recomputes.

    ``index`` is the first log index at which the disagreement shows; ``what`` names the part
    (``leaf``, ``chain``, ``index``, ``time``, ``tile``, ``checkpoint``, ``signature``, ``key``).
    """

    code = "log-integrity"

    def __init__(self, index: int, what: str, detail: str) -> None:
        self.index = index
        self.what = what
        self.detail = detail
        super().__init__(f"entry {index}: {what}: {detail}")

    def __reduce__(self) -> tuple[type, tuple[int, str, str]]:
        # Replay checks chunks in worker processes; their errors cross back by pickling.
        return type(self), (self.index, self.what, self.detail)


# --- Refusals of an append ----------------------------------------------------------------------


class AppendRefused(ProvenanceError):  # noqa: N818 -- a refusal is an outcome, named as one
    """A submission was refused; nothing was appended."""

    code = "refused"
    status = 422


class EmptyPayloadError(AppendRefused):
    code = "empty-payload"
    status = 400


class PayloadTooLargeError(AppendRefused):
    code = "payload-too-large"
    status = 413

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"payload is {size} bytes, over the limit of {limit} bytes")

    def __reduce__(self) -> tuple[type, tuple[int, int]]:
        return type(self), (self.size, self.limit)


class InvalidStatementError(AppendRefused):
    """The envelope or the statement inside it is not well formed or breaks a rule of its type."""

    code = "invalid-statement"
    status = 400


class UnknownKeyError(AppendRefused):
    code = "unknown-key"
    status = 403


class RevokedKeyError(AppendRefused):
    code = "revoked-key"
    status = 403

    def __init__(self, keyid: str, revoked_at: int) -> None:
        self.keyid = keyid
        self.revoked_at = revoked_at
        super().__init__(f"key {keyid} was revoked at log index {revoked_at}")

    def __reduce__(self) -> tuple[type, tuple[str, int]]:
        return type(self), (self.keyid, self.revoked_at)


class SuspendedPartyError(AppendRefused):
    code = "suspended-party"
    status = 403

    def __init__(self, party: str, reason: str) -> None:
        self.party = party
        self.reason = reason
        super().__init__(f"party {party!r} is suspended: {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return type(self), (self.party, self.reason)


class BadEnvelopeSignatureError(AppendRefused):
    """A signature in the envelope does not verify against the key its keyid names."""

    code = "bad-signature"
    status = 403


class NotAuthorizedError(AppendRefused):
    """The signing party may not make this statement (wrong role, someone else's party)."""

    code = "not-authorized"
    status = 403


class ConflictError(AppendRefused):
    """The statement conflicts with the registry (a party or key that already exists)."""

    code = "conflict"
    status = 409


# --- Storage ------------------------------------------------------------------------------------


class StoreError(ProvenanceError):
    """The store could not do what was asked (not initialised, unreachable)."""

    code = "store-error"
    status = 503
