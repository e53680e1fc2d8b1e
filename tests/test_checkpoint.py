"""Tests for provenance.checkpoint: C2SP tlog-checkpoint bodies, signing and opening."""

from __future__ import annotations

import base64
import hashlib

import pytest

from provenance.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from provenance.errors import MalformedError, SignatureError
from provenance.keys import generate_private_key
from provenance.note import NoteSigner, NoteVerifier, sign_note

# The Go checksum database's verifier key, as built into the go command, and signed tree heads
# it served (quoted in public repositories; they verify under this key, so they are genuine).
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_ORIGIN = "go.sum database tree"
SUMDB_CHECKPOINTS = [
    (
        3784599,
        "go.sum database tree\n3784599\n7uvxIZ67TZygcq/AehTD8iHYt81Ih+Zl2Y7vXZbfszQ=\n\n"
        "— sum.golang.org "
        "Az3grn972wXskjQrsZhVGc93fTU2uOsmSTiId1Wn1lxDCup5z4ggl1/4gaUqOkMa6cMbYvjB7hn7yemNr7Zqanol/go=\n",
    ),
    (
        31700353,
        "go.sum database tree\n31700353\nqINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=\n\n"
        "— sum.golang.org "
        "Az3grnmrIUEDFqHzAElIQCPNoRFRAAdFo47fooyWKMHb89k11GJh5zHIfNCOBmwn/C3YI8oW9/C8DJ87F61QqspBYwM=\n",
    ),
]

# c2sp.org/tlog-checkpoint, the example in the spec (its key is not published).
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

ROOT = hashlib.sha256(b"root").digest()
ROOT64 = base64.b64encode(ROOT).decode()


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner("example.com/log", generate_private_key())


# --- Known answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "text"), SUMDB_CHECKPOINTS, ids=["3784599", "31700353"])
def test_go_checksum_database_checkpoints_open(size: int, text: str) -> None:
    verifier = NoteVerifier.from_vkey(SUMDB_VKEY)
    assert verifier.key_id.hex() == "033de0ae"
    checkpoint = open_checkpoint(text, [verifier], origin=SUMDB_ORIGIN)
    assert checkpoint.size == size
    assert checkpoint.body() == text.split("\n\n")[0] + "\n"


@pytest.mark.parametrize(("size", "text"), SUMDB_CHECKPOINTS, ids=["3784599", "31700353"])
def test_go_checksum_database_checkpoint_with_changed_size_is_refused(size: int, text: str) -> None:
    changed = text.replace(f"\n{size}\n", f"\n{size + 1}\n")
    with pytest.raises(SignatureError, match="invalid signature"):
        open_checkpoint(changed, [NoteVerifier.from_vkey(SUMDB_VKEY)])


def test_spec_example_body_parses_and_round_trips() -> None:
    checkpoint = Checkpoint.parse(SPEC_BODY)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.extensions == ()
    assert checkpoint.body() == SPEC_BODY


# --- Body ----------------------------------------------------------------------------------------


def test_body_has_three_lines_then_extensions() -> None:
    checkpoint = Checkpoint("example.com/log", 7, ROOT, ("ext one", "ext two"))
    assert checkpoint.body() == f"example.com/log\n7\n{ROOT64}\next one\next two\n"
    assert Checkpoint.parse(checkpoint.body()) == checkpoint


def test_empty_tree_size_zero_is_allowed() -> None:
    empty = hashlib.sha256(b"").digest()
    checkpoint = Checkpoint.parse(f"log\n0\n{base64.b64encode(empty).decode()}\n")
    assert checkpoint.size == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (f"log\n007\n{ROOT64}\n", "not canonical decimal"),
        (f"log\n00\n{ROOT64}\n", "not canonical decimal"),
        (f"log\n+7\n{ROOT64}\n", "not canonical decimal"),
        (f"log\n-7\n{ROOT64}\n", "not canonical decimal"),
        (f"log\n 7\n{ROOT64}\n", "not canonical decimal"),
        (f"log\n7 \n{ROOT64}\n", "not canonical decimal"),
        (f"log\n1_000\n{ROOT64}\n", "not canonical decimal"),
        (f"log\n\u0667\n{ROOT64}\n", "not canonical decimal"),  # Arabic-Indic seven
        (f"log\n0x7\n{ROOT64}\n", "not canonical decimal"),
        (f"log\n\n{ROOT64}\n", "not canonical decimal"),
        (f"log\n{2**63}\n{ROOT64}\n", "outside"),
        (f"\n7\n{ROOT64}\n", "origin is empty"),
        (f"log\n7\n{ROOT64}", "end with a newline"),
        ("log\n7\n", "want at least 3"),
        (f"log\n7\n{ROOT64}\n\n", "extension line 1 is empty"),
        (f"log\n7\n{ROOT64}\next\n\n", "extension line 2 is empty"),
        (f"log\r\n7\n{ROOT64}\n", "control character"),
        (f"log\n7\n{ROOT64}\next\tension\n", "control character"),
    ],
    ids=[
        "leading-zero",
        "double-zero",
        "plus-sign",
        "minus-sign",
        "leading-space",
        "trailing-space",
        "underscore",
        "non-ascii-digit",
        "hex",
        "empty-size",
        "size-over-int64",
        "empty-origin",
        "no-final-newline",
        "two-lines",
        "empty-extension",
        "empty-second-extension",
        "crlf",
        "tab-in-extension",
    ],
)
def test_malformed_bodies(body: str, reason: str) -> None:
    with pytest.raises(MalformedError, match=reason):
        Checkpoint.parse(body)


@pytest.mark.parametrize(
    ("root", "reason"),
    [
        (base64.b64encode(ROOT[:31]).decode(), "31 bytes"),
        (base64.b64encode(ROOT + b"\x00").decode(), "33 bytes"),
        ("", "0 bytes"),
        (ROOT64.rstrip("="), "base64"),
        (base64.urlsafe_b64encode(b"\xfb" * 32).decode(), "base64"),
        (ROOT64[:-2] + chr(ord(ROOT64[-2]) + 1) + "=", "non-canonical"),
        (ROOT64 + " ", "base64"),
    ],
    ids=["short", "long", "empty", "unpadded", "url-safe", "nonzero-padding-bits", "space"],
)
def test_root_hash_must_be_canonical_base64_of_32_bytes(root: str, reason: str) -> None:
    with pytest.raises(MalformedError, match=reason):
        Checkpoint.parse(f"log\n7\n{root}\n")


def test_constructor_enforces_the_same_rules() -> None:
    with pytest.raises(MalformedError, match="31 bytes"):
        Checkpoint("log", 1, ROOT[:31])
    with pytest.raises(MalformedError, match="outside"):
        Checkpoint("log", -1, ROOT)
    with pytest.raises(MalformedError, match="origin is empty"):
        Checkpoint("", 1, ROOT)
    with pytest.raises(MalformedError, match="control character"):
        Checkpoint("log\n2", 1, ROOT)
    with pytest.raises(MalformedError, match="extension line 1 is empty"):
        Checkpoint("log", 1, ROOT, ("",))


# --- Signing and opening -------------------------------------------------------------------------


def test_sign_then_open_round_trips(signer: NoteSigner) -> None:
    checkpoint = Checkpoint("example.com/log", 42, ROOT, ("ext",))
    text = sign_checkpoint(checkpoint, signer)
    assert text.startswith(checkpoint.body() + "\n— example.com/log ")
    assert open_checkpoint(text, [signer.verifier()], origin="example.com/log") == checkpoint
    assert open_checkpoint(text.encode(), [signer.verifier()]) == checkpoint


def test_origin_mismatch_is_refused(signer: NoteSigner) -> None:
    text = sign_checkpoint(Checkpoint("example.com/log", 1, ROOT), signer)
    with pytest.raises(SignatureError, match=r"expected 'example\.com/other'"):
        open_checkpoint(text, [signer.verifier()], origin="example.com/other")


def test_checkpoint_signed_by_an_unknown_key_is_refused(signer: NoteSigner) -> None:
    text = sign_checkpoint(Checkpoint("example.com/log", 1, ROOT), signer)
    other = NoteSigner("example.com/log", generate_private_key())
    with pytest.raises(SignatureError, match="no valid signature"):
        open_checkpoint(text, [other.verifier()])


def test_changed_root_is_refused(signer: NoteSigner) -> None:
    text = sign_checkpoint(Checkpoint("example.com/log", 1, ROOT), signer)
    other = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    with pytest.raises(SignatureError, match="invalid signature"):
        open_checkpoint(text.replace(ROOT64, other), [signer.verifier()])


def test_validly_signed_text_that_is_not_a_checkpoint_is_malformed(signer: NoteSigner) -> None:
    text = sign_note(f"log\n07\n{ROOT64}\n", [signer])
    with pytest.raises(MalformedError, match="not canonical decimal"):
        open_checkpoint(text, [signer.verifier()])


def test_malformed_note_is_malformed_before_any_signature_check(signer: NoteSigner) -> None:
    text = sign_checkpoint(Checkpoint("example.com/log", 1, ROOT), signer)
    with pytest.raises(MalformedError):
        open_checkpoint(text.rstrip("\n"), [signer.verifier()])
