"""Tests for provenance.cosignature: C2SP tlog-cosignature v1 (Ed25519, type 0x04)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from provenance.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from provenance.cosignature import (
    MAX_TIMESTAMP,
    CosignatureSigner,
    CosignatureVerifier,
    add_cosignature,
    cosignature_timestamp,
    cosigned_message,
    verify_cosignature,
)
from provenance.errors import MalformedError, SignatureError
from provenance.keys import generate_private_key, private_key_from_seed
from provenance.note import (
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    SignedNote,
    compute_key_id,
    open_note,
    parse_note,
)

# c2sp.org/tlog-cosignature: the example checkpoint, its witness line, and the signed message the
# spec spells out for that line's timestamp. The witness key is not published.
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_WITNESS_B64 = (
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZ"
    "qhf5nNo0xUe+mbIUBkBIfZ+qnA=="
)
SPEC_LOG_B64 = (
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8="
)
SPEC_NOTE = (
    f"{SPEC_BODY}\n"
    f"— example.com/behind-the-sofa {SPEC_LOG_B64}\n"
    f"— witness.example.com/w1 {SPEC_WITNESS_B64}\n"
)

# transparency-dev/formats note_cosigv1_test.go: a type 0x04 verifier key, and a cosignature
# whose timestamp is 1727964367 (TestCoSigV1Timestamp).
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
TDEV_COSIG_B64 = (
    "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJ"
    "XORmnFBOBA=="
)
TDEV_NOTE_SIG_B64 = (
    "eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY="
)

ROOT = hashlib.sha256(b"root").digest()
NOW = 1_700_000_000


def signature_from_b64(name: str, b64: str) -> NoteSignature:
    raw = base64.b64decode(b64)
    return NoteSignature(name, raw[:4], raw[4:])


@pytest.fixture
def log() -> NoteSigner:
    return NoteSigner("example.com/log", generate_private_key())


@pytest.fixture
def witness() -> CosignatureSigner:
    return CosignatureSigner("witness.example/w1", generate_private_key())


@pytest.fixture
def checkpoint() -> Checkpoint:
    return Checkpoint("example.com/log", 42, ROOT)


# --- Known answers -------------------------------------------------------------------------------


def test_spec_signed_message() -> None:
    assert cosigned_message(SPEC_BODY, 1679315147) == (
        b"cosignature/v1\n"
        b"time 1679315147\n"
        b"example.com/behind-the-sofa\n"
        b"20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )


def test_spec_example_witness_line_carries_the_spec_timestamp() -> None:
    note = parse_note(SPEC_NOTE)
    assert Checkpoint.parse(note.body).size == 20852163
    log_sig, witness_sig = note.signatures
    assert len(log_sig.signature) == 64
    assert len(witness_sig.signature) == 72
    assert cosignature_timestamp(witness_sig) == 1679315147


def test_transparency_dev_cosignature_timestamp() -> None:
    assert cosignature_timestamp(signature_from_b64("w", TDEV_COSIG_B64)) == 1727964367


def test_transparency_dev_plain_note_signature_has_no_timestamp() -> None:
    with pytest.raises(MalformedError, match="want 72"):
        cosignature_timestamp(signature_from_b64("w", TDEV_NOTE_SIG_B64))


def test_transparency_dev_cosignature_verifier_key() -> None:
    verifier = CosignatureVerifier.from_vkey(REMORA_VKEY)
    assert verifier.name == "remora.n621.de"
    assert verifier.key_id == bytes.fromhex("da77ade7")
    assert verifier.verifier_key() == REMORA_VKEY


def test_key_id_uses_type_0x04() -> None:
    key = private_key_from_seed(bytes(32))
    signer = CosignatureSigner("w", key)
    assert signer.key_id == compute_key_id("w", 0x04, signer.public_key)
    assert signer.key_id != NoteSigner("w", key).key_id
    assert base64.b64decode(signer.verifier_key().split("+")[2])[0] == 0x04


def test_signature_matches_the_spec_message_checked_independently(
    witness: CosignatureSigner, checkpoint: Checkpoint
) -> None:
    cosignature = witness.cosign(checkpoint.body(), NOW)
    assert cosignature.key_id == witness.key_id
    assert cosignature.signature[:8] == NOW.to_bytes(8, "big")
    message = f"cosignature/v1\ntime {NOW}\n{checkpoint.body()}".encode()
    Ed25519PublicKey.from_public_bytes(witness.public_key).verify(
        cosignature.signature[8:], message
    )


# --- Verifier keys -------------------------------------------------------------------------------


def test_verifier_key_round_trips(witness: CosignatureSigner) -> None:
    vkey = witness.verifier_key()
    assert CosignatureVerifier.from_vkey(vkey) == witness.verifier()
    assert CosignatureVerifier.from_vkey(vkey).key_id == witness.key_id


def test_plain_ed25519_verifier_key_is_refused() -> None:
    vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    with pytest.raises(MalformedError, match="type 0x01, want 0x04"):
        CosignatureVerifier.from_vkey(vkey)


def test_verifier_key_with_wrong_key_id_is_refused() -> None:
    with pytest.raises(MalformedError, match="does not match"):
        CosignatureVerifier.from_vkey(REMORA_VKEY.replace("da77ade7", "da77ade8"))


def test_invalid_cosigner_names_are_refused() -> None:
    with pytest.raises(MalformedError, match="name"):
        CosignatureSigner("bad name", generate_private_key())
    with pytest.raises(MalformedError, match="name"):
        CosignatureVerifier("a+b", bytes(32))
    with pytest.raises(MalformedError, match="32"):
        CosignatureVerifier("ok", bytes(33))


# --- Cosigning and verifying ---------------------------------------------------------------------


def test_add_cosignature_then_open_with_log_and_witness(
    log: NoteSigner, witness: CosignatureSigner, checkpoint: Checkpoint
) -> None:
    signed = sign_checkpoint(checkpoint, log)
    cosigned = add_cosignature(signed, witness, NOW)
    assert cosigned.startswith(signed)
    assert cosigned.count("\n— ") == 2
    # The log's verifier alone ignores the cosignature as an unknown key.
    assert open_checkpoint(cosigned, [log.verifier()], origin="example.com/log") == checkpoint
    note = open_note(cosigned, [log.verifier(), witness.verifier()])
    assert [s.name for s in note.signatures] == ["example.com/log", "witness.example/w1"]
    assert verify_cosignature(note.body, note.signatures[1], witness.verifier()) == NOW


def test_cosignature_covers_extension_lines(log: NoteSigner, witness: CosignatureSigner) -> None:
    checkpoint = Checkpoint("example.com/log", 42, ROOT, ("extension",))
    cosigned = add_cosignature(sign_checkpoint(checkpoint, log), witness, NOW)
    note = parse_note(cosigned)
    changed = note.body.replace("extension", "extensioX")
    with pytest.raises(SignatureError, match="invalid cosignature"):
        verify_cosignature(changed, note.signatures[1], witness.verifier())


def test_readding_a_cosignature_replaces_the_old_one(
    log: NoteSigner, witness: CosignatureSigner, checkpoint: Checkpoint
) -> None:
    once = add_cosignature(sign_checkpoint(checkpoint, log), witness, NOW)
    twice = add_cosignature(once, witness, NOW + 60)
    signatures = parse_note(twice).signatures
    assert [s.name for s in signatures] == ["example.com/log", "witness.example/w1"]
    assert cosignature_timestamp(signatures[1]) == NOW + 60


def test_several_witnesses_one_unknown(
    log: NoteSigner, witness: CosignatureSigner, checkpoint: Checkpoint
) -> None:
    other = CosignatureSigner("witness.example/w2", generate_private_key())
    cosigned = add_cosignature(
        add_cosignature(sign_checkpoint(checkpoint, log), other, NOW), witness, NOW
    )
    note = open_note(cosigned, [witness.verifier()])
    assert [s.name for s in note.signatures] == ["witness.example/w1"]


@pytest.mark.parametrize("offset", [0, 7, 8, 40, 71], ids=lambda o: f"byte{o}")
def test_flipped_bit_is_refused(
    offset: int, log: NoteSigner, witness: CosignatureSigner, checkpoint: Checkpoint
) -> None:
    # Bytes 0..7 are the timestamp: changing it changes the signed message.
    cosignature = witness.cosign(checkpoint.body(), NOW)
    flipped = bytearray(cosignature.signature)
    flipped[offset] ^= 0x01
    bad = NoteSignature(witness.name, witness.key_id, bytes(flipped))
    with pytest.raises(SignatureError, match="invalid cosignature"):
        verify_cosignature(checkpoint.body(), bad, witness.verifier())
    text = SignedNote(checkpoint.body(), (bad,)).text()
    with pytest.raises(SignatureError, match="invalid signature"):
        open_checkpoint(text, [log.verifier(), witness.verifier()])


def test_changed_checkpoint_is_refused(witness: CosignatureSigner, checkpoint: Checkpoint) -> None:
    cosignature = witness.cosign(checkpoint.body(), NOW)
    bigger = Checkpoint(checkpoint.origin, checkpoint.size + 1, checkpoint.root_hash)
    with pytest.raises(SignatureError, match="invalid cosignature"):
        verify_cosignature(bigger.body(), cosignature, witness.verifier())


def test_signature_from_another_cosigner_is_refused(
    witness: CosignatureSigner, checkpoint: Checkpoint
) -> None:
    other = CosignatureSigner("witness.example/w2", generate_private_key())
    cosignature = other.cosign(checkpoint.body(), NOW)
    with pytest.raises(SignatureError, match="is not from cosigner"):
        verify_cosignature(checkpoint.body(), cosignature, witness.verifier())


def test_same_name_other_key_is_refused(witness: CosignatureSigner, checkpoint: Checkpoint) -> None:
    impostor = CosignatureSigner(witness.name, generate_private_key())
    cosignature = impostor.cosign(checkpoint.body(), NOW)
    with pytest.raises(SignatureError, match="is not from cosigner"):
        verify_cosignature(checkpoint.body(), cosignature, witness.verifier())


def test_plain_note_verifier_of_the_same_key_does_not_accept_a_cosignature(
    checkpoint: Checkpoint,
) -> None:
    key = generate_private_key()
    witness = CosignatureSigner("witness.example/w1", key)
    cosigned = SignedNote(checkpoint.body(), (witness.cosign(checkpoint.body(), NOW),)).text()
    same_key_type_1 = NoteVerifier(witness.name, witness.public_key)
    with pytest.raises(SignatureError, match="no valid signature"):
        open_note(cosigned, [same_key_type_1])


def test_cosignature_of_wrong_length_is_malformed_or_invalid(
    witness: CosignatureSigner, checkpoint: Checkpoint
) -> None:
    cosignature = witness.cosign(checkpoint.body(), NOW)
    short = NoteSignature(witness.name, witness.key_id, cosignature.signature[:-1])
    with pytest.raises(MalformedError, match="want 72"):
        verify_cosignature(checkpoint.body(), short, witness.verifier())
    assert not witness.verifier().verify(checkpoint.body(), short.signature)


def test_timestamp_above_2_63_is_refused(
    witness: CosignatureSigner, checkpoint: Checkpoint
) -> None:
    cosignature = witness.cosign(checkpoint.body(), NOW)
    huge = (2**63).to_bytes(8, "big") + cosignature.signature[8:]
    bad = NoteSignature(witness.name, witness.key_id, huge)
    with pytest.raises(MalformedError, match="2\\^63"):
        verify_cosignature(checkpoint.body(), bad, witness.verifier())
    assert not witness.verifier().verify(checkpoint.body(), huge)


def test_timestamp_bounds_when_signing(witness: CosignatureSigner, checkpoint: Checkpoint) -> None:
    assert cosignature_timestamp(witness.cosign(checkpoint.body(), 0)) == 0
    top = witness.cosign(checkpoint.body(), MAX_TIMESTAMP)
    assert verify_cosignature(checkpoint.body(), top, witness.verifier()) == MAX_TIMESTAMP
    for bad in (-1, MAX_TIMESTAMP + 1):
        with pytest.raises(ValueError, match="outside"):
            witness.cosign(checkpoint.body(), bad)


def test_cosigner_refuses_to_sign_anything_but_a_checkpoint(witness: CosignatureSigner) -> None:
    with pytest.raises(MalformedError):
        witness.cosign("hello\n", NOW)
    with pytest.raises(MalformedError):
        witness.cosign("example.com/log\n007\n" + base64.b64encode(ROOT).decode() + "\n", NOW)


def test_verifier_refuses_a_body_that_is_not_a_checkpoint() -> None:
    key = generate_private_key()
    verifier = CosignatureSigner("witness.example/w1", key).verifier()
    body = "not\na\ncheckpoint\n"
    # Sign the message with the key directly, bypassing the signer's own check.
    signature = key.sign(cosigned_message(body, NOW))
    assert not verifier.verify(body, NOW.to_bytes(8, "big") + signature)


def test_add_cosignature_refuses_a_malformed_note(witness: CosignatureSigner) -> None:
    with pytest.raises(MalformedError):
        add_cosignature("example.com/log\n1\n", witness, NOW)
