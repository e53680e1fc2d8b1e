"""Tests for provenance.note: C2SP signed notes, checked against Go's sumdb/note test vectors."""

from __future__ import annotations

import base64

import pytest

from provenance.errors import MalformedError, SignatureError
from provenance.keys import generate_private_key, private_key_from_seed
from provenance.note import (
    MAX_SIGNATURES,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    SignedNote,
    add_signature,
    compute_key_id,
    decode_base64,
    format_verifier_key,
    is_valid_key_name,
    open_note,
    parse_note,
    parse_verifier_key,
    sign_note,
)

# golang.org/x/mod/sumdb/note, note_test.go (TestNewVerifier, TestSign, TestOpen).
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
PETER_SIG = f"— PeterNeumann {PETER_B64}\n"
ENOCH_SIG = (
    "— EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)

# c2sp.org/signed-note, the example at the top of the spec (its key is not published).
SPEC_NOTE = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed è subito sera.\n"
    "\n"
    "— quasimodo.example/salvatore "
    "NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)


def signer_from_go_skey(skey: str) -> NoteSigner:
    """Build a signer from Go's ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>`` string."""
    private, key, name, hex_id, key64 = skey.split("+", 4)
    assert (private, key) == ("PRIVATE", "KEY")
    material = base64.b64decode(key64)
    assert material[0] == 0x01
    signer = NoteSigner(name, private_key_from_seed(material[1:]))
    assert signer.key_id.hex() == hex_id
    return signer


@pytest.fixture
def peter() -> NoteVerifier:
    return NoteVerifier.from_vkey(PETER_VKEY)


@pytest.fixture
def enoch() -> NoteVerifier:
    return NoteVerifier.from_vkey(ENOCH_VKEY)


# --- Known answers from Go -----------------------------------------------------------------------


def test_go_verifier_keys_parse_and_round_trip(peter: NoteVerifier, enoch: NoteVerifier) -> None:
    assert peter.name == "PeterNeumann"
    assert peter.key_id == bytes.fromhex("c74f20a3")
    assert peter.verifier_key() == PETER_VKEY
    assert enoch.key_id == bytes.fromhex("af0cfe78")
    assert enoch.verifier_key() == ENOCH_VKEY


def test_signer_from_go_skey_writes_byte_identical_note() -> None:
    signer = signer_from_go_skey(PETER_SKEY)
    assert signer.verifier_key() == PETER_VKEY
    assert sign_note(TEXT, [signer]) == TEXT + "\n" + PETER_SIG


def test_go_doubly_signed_note_opens_with_one_known_key(peter: NoteVerifier) -> None:
    note = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [peter])
    assert note.body == TEXT
    assert [(s.name, s.key_id.hex()) for s in note.signatures] == [("PeterNeumann", "c74f20a3")]


def test_go_doubly_signed_note_opens_with_both_keys(
    peter: NoteVerifier, enoch: NoteVerifier
) -> None:
    note = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [peter, enoch])
    assert [s.name for s in note.signatures] == ["PeterNeumann", "EnochRoot"]
    assert note.text() == TEXT + "\n" + PETER_SIG + ENOCH_SIG


def test_go_note_with_no_known_key_is_refused(enoch: NoteVerifier) -> None:
    with pytest.raises(SignatureError, match="no valid signature by a known key"):
        open_note(TEXT + "\n" + PETER_SIG, [])
    with pytest.raises(SignatureError, match="no valid signature by a known key"):
        open_note(TEXT + "\n" + PETER_SIG, [enoch])


def test_go_invalid_signature_by_known_key_is_refused(peter: NoteVerifier) -> None:
    tampered = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(SignatureError, match=r"invalid signature for key PeterNeumann\+c74f20a3"):
        open_note(TEXT + "\n" + tampered, [peter])


def test_go_duplicated_verified_and_unverified_signatures(peter: NoteVerifier) -> None:
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    text = TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd
    note = open_note(text, [peter])
    assert [s.name for s in note.signatures] == ["PeterNeumann"]
    assert len(parse_note(text).signatures) == 5


def test_go_signature_count_limit(peter: NoteVerifier) -> None:
    assert len(open_note(TEXT + "\n" + PETER_SIG * 100, [peter]).signatures) == 1
    with pytest.raises(MalformedError, match="more than 100"):
        open_note(TEXT + "\n" + PETER_SIG * 101, [peter])
    with pytest.raises(MalformedError, match="more than 100"):
        open_note(TEXT + "\n" + PETER_SIG * 101, [])


@pytest.mark.parametrize(
    "text",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n" + f"— Bad Name {PETER_B64}",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    ],
    ids=["no-signatures", "blank-line-only", "no-final-newline", "control", "bad-name", "junk"],
)
def test_go_malformed_notes(text: str, peter: NoteVerifier) -> None:
    with pytest.raises(MalformedError):
        open_note(text, [peter])


def test_go_invalid_utf8_is_malformed(peter: NoteVerifier) -> None:
    with pytest.raises(MalformedError, match="UTF-8"):
        open_note(b"\xff" + (TEXT + "\n" + PETER_SIG).encode(), [peter])


def test_go_verifier_key_manglings_are_refused() -> None:
    # Every proper substring and every single-byte increment of the key must fail, as in Go.
    for i in range(len(PETER_VKEY) + 1):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)):
                with pytest.raises(MalformedError):
                    NoteVerifier.from_vkey(PETER_VKEY[i:j])
    for i in range(len(PETER_VKEY)):
        mangled = PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1 :]
        with pytest.raises(MalformedError):
            NoteVerifier.from_vkey(mangled)


def test_go_verifier_key_with_wrong_length_and_adjusted_id_is_refused() -> None:
    # Go refuses it for the key length; its base64 ("...EY==") is also non-canonical here.
    with pytest.raises(MalformedError):
        NoteVerifier.from_vkey(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )


def test_verifier_key_with_wrong_key_length_and_matching_id_is_refused() -> None:
    vkey = format_verifier_key("PeterNeumann", 0x01, bytes(33))
    assert parse_verifier_key(vkey)[3] == bytes(33)
    with pytest.raises(MalformedError, match="33 bytes"):
        NoteVerifier.from_vkey(vkey)


def test_go_verifier_key_with_unknown_type_and_adjusted_id_is_refused() -> None:
    vkey = "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    assert parse_verifier_key(vkey)[2] == 0x65
    with pytest.raises(MalformedError, match="type 0x65"):
        NoteVerifier.from_vkey(vkey)


def test_transparency_dev_verifier_key_parses() -> None:
    # transparency-dev/formats note_cosigv1_test.go, "works: convert from algEd25519".
    vkey = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
    assert NoteVerifier.from_vkey(vkey).verifier_key() == vkey


def test_spec_example_parses(peter: NoteVerifier) -> None:
    note = parse_note(SPEC_NOTE)
    assert note.body.endswith("ed è subito sera.\n")
    assert "\n\n" in note.body  # the text keeps its own blank line; the last one splits
    assert [s.name for s in note.signatures] == ["quasimodo.example/salvatore"]
    assert len(note.signatures[0].signature) == 64
    assert note.text() == SPEC_NOTE
    with pytest.raises(SignatureError):
        open_note(SPEC_NOTE, [peter])


# --- Key names and key IDs -----------------------------------------------------------------------


def test_key_id_is_sha256_of_name_newline_type_and_key() -> None:
    peter = NoteVerifier.from_vkey(PETER_VKEY)
    assert compute_key_id("PeterNeumann", 0x01, peter.public_key) == bytes.fromhex("c74f20a3")
    assert compute_key_id("PeterNeumann", 0x04, peter.public_key) != bytes.fromhex("c74f20a3")


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("example.com/log", True),
        ("a\u200bb", True),  # zero-width space is not White_Space, in Go or here
        ("", False),
        ("a+b", False),
        ("a b", False),
        ("a\tb", False),
        ("a\u00a0b", False),
        ("a\u0085b", False),
        ("a\u2028b", False),
        ("a\u3000b", False),
        ("a\ud800b", False),
    ],
)
def test_key_name_validity_matches_go(name: str, valid: bool) -> None:
    assert is_valid_key_name(name) is valid


def test_uppercase_hex_key_id_is_accepted_as_in_go() -> None:
    upper = PETER_VKEY.replace("c74f20a3", "C74F20A3")
    assert NoteVerifier.from_vkey(upper).key_id == bytes.fromhex("c74f20a3")


@pytest.mark.parametrize("hex_id", ["c74f20a", "c74f20a30", "+c74f20a", " c74f20a", "c74f_20a"])
def test_key_id_must_be_exactly_eight_hex_digits(hex_id: str) -> None:
    with pytest.raises(MalformedError, match="eight hex digits"):
        NoteVerifier.from_vkey(PETER_VKEY.replace("c74f20a3", hex_id))


def test_verifier_key_with_wrong_key_id_is_refused() -> None:
    with pytest.raises(MalformedError, match="does not match"):
        NoteVerifier.from_vkey(PETER_VKEY.replace("c74f20a3", "c74f20a4"))


def test_verifier_key_with_cosignature_type_is_refused() -> None:
    vkey = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
    with pytest.raises(MalformedError, match="type 0x04, want 0x01"):
        NoteVerifier.from_vkey(vkey)


def test_verifier_key_with_url_safe_base64_is_refused() -> None:
    assert "/" in PETER_VKEY
    with pytest.raises(MalformedError, match="base64"):
        NoteVerifier.from_vkey(PETER_VKEY.replace("/", "_"))


def test_invalid_names_are_refused_by_signer_and_verifier() -> None:
    key = generate_private_key()
    for name in ("", "a b", "a+b"):
        with pytest.raises(MalformedError, match="key name"):
            NoteSigner(name, key)
        with pytest.raises(MalformedError, match="key name"):
            NoteVerifier(name, bytes(32))
    with pytest.raises(MalformedError, match="32"):
        NoteVerifier("ok", bytes(31))


# --- Signing and opening -------------------------------------------------------------------------


def test_sign_then_open_round_trips_with_blank_lines_in_the_text() -> None:
    signer = NoteSigner("example.com/a", generate_private_key())
    for body in ("a\n\nb\n", "Note\n\n", "\n", "ünïcode — text\n"):
        text = sign_note(body, [signer])
        note = open_note(text, [signer.verifier()])
        assert note.body == body
        assert note.text() == text


def test_several_signatures_with_one_unknown_key_verify() -> None:
    a = NoteSigner("example.com/a", generate_private_key())
    b = NoteSigner("example.com/b", generate_private_key())
    unknown = NoteSigner("example.com/c", generate_private_key())
    text = sign_note("body\n", [a, unknown, b])
    note = open_note(text, [a.verifier(), b.verifier()])
    assert [s.name for s in note.signatures] == ["example.com/a", "example.com/b"]


def test_several_signatures_with_one_known_bad_are_refused() -> None:
    a = NoteSigner("example.com/a", generate_private_key())
    b = NoteSigner("example.com/b", generate_private_key())
    good = sign_note("body\n", [a])
    bad_b = NoteSignature(b.name, b.key_id, b.sign("other body\n"))
    text = add_signature(good, bad_b)
    with pytest.raises(SignatureError, match=r"invalid signature for key example\.com/b\+"):
        open_note(text, [a.verifier(), b.verifier()])
    assert open_note(text, [a.verifier()]).signatures[0].name == "example.com/a"


def test_flipped_signature_bit_is_refused() -> None:
    signer = NoteSigner("example.com/a", generate_private_key())
    note = parse_note(sign_note("body\n", [signer]))
    signature = bytearray(note.signatures[0].signature)
    signature[10] ^= 0x01
    flipped = SignedNote(note.body, (NoteSignature(signer.name, signer.key_id, bytes(signature)),))
    with pytest.raises(SignatureError, match="invalid signature"):
        open_note(flipped.text(), [signer.verifier()])


def test_changed_body_is_refused() -> None:
    signer = NoteSigner("example.com/a", generate_private_key())
    text = sign_note("size 10\n", [signer])
    with pytest.raises(SignatureError, match="invalid signature"):
        open_note(text.replace("size 10", "size 11"), [signer.verifier()])


def test_signature_of_wrong_length_by_known_key_is_refused() -> None:
    signer = NoteSigner("example.com/a", generate_private_key())
    short = NoteSignature(signer.name, signer.key_id, b"\x00")
    with pytest.raises(SignatureError, match="invalid signature"):
        open_note(SignedNote("body\n", (short,)).text(), [signer.verifier()])


def test_same_name_other_key_id_is_ignored_not_checked() -> None:
    signer = NoteSigner("example.com/a", generate_private_key())
    impostor = NoteSigner("example.com/a", generate_private_key())
    text = sign_note("body\n", [impostor, signer])
    note = open_note(text, [signer.verifier()])
    assert [s.key_id for s in note.signatures] == [signer.key_id]
    with pytest.raises(SignatureError, match="no valid signature"):
        open_note(sign_note("body\n", [impostor]), [signer.verifier()])


def test_same_key_id_other_name_is_ignored_not_checked() -> None:
    signer = NoteSigner("example.com/a", generate_private_key())
    renamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego")
    text = sign_note(TEXT, [signer]) + renamed
    peter = NoteVerifier.from_vkey(PETER_VKEY)
    assert [s.name for s in open_note(text, [signer.verifier(), peter]).signatures] == [
        "example.com/a"
    ]


def test_wrong_key_id_with_right_name_is_unknown() -> None:
    wrong_id = PETER_SIG.replace("x08g", "xxxx")
    with pytest.raises(SignatureError, match="no valid signature"):
        open_note(TEXT + "\n" + wrong_id, [NoteVerifier.from_vkey(PETER_VKEY)])


@pytest.mark.parametrize(
    "prefix",
    ["– ", "- ", "—", "—  ", "— — ", " — "],
    ids=["en-dash", "hyphen", "no-space", "two-spaces", "double-dash", "leading-space"],
)
def test_signature_line_needs_exact_em_dash_and_space(prefix: str) -> None:
    line = PETER_SIG.replace("— ", prefix, 1)
    with pytest.raises(MalformedError):
        parse_note(TEXT + "\n" + line)


@pytest.mark.parametrize(
    ("b64", "reason"),
    [
        ("AAAAAA==", "at least 5"),
        (PETER_B64.rstrip("="), "base64"),
        (PETER_B64.replace("AM=", "AN="), "non-canonical"),  # nonzero padding bits
        (PETER_B64.replace("/", "_"), "base64"),  # URL-safe alphabet
        ("x08go/ZJ kuBS9UG", "base64"),
        ("", "no signature"),
    ],
    ids=["four-bytes", "unpadded", "nonzero-padding-bits", "url-safe", "space", "empty"],
)
def test_signature_base64_rules(b64: str, reason: str) -> None:
    with pytest.raises(MalformedError, match=reason):
        parse_note(TEXT + "\n" + f"— PeterNeumann {b64}\n")


def test_five_byte_signature_parses_as_key_id_and_one_byte() -> None:
    note = parse_note(TEXT + "\n— someone AAAAAAE=\n")
    assert note.signatures[0].key_id == bytes(4)
    assert note.signatures[0].signature == b"\x01"


def test_extra_blank_line_after_signatures_is_malformed() -> None:
    with pytest.raises(MalformedError, match="no signature lines"):
        parse_note(TEXT + "\n" + PETER_SIG + "\n")


def test_blank_line_between_signatures_moves_the_first_into_the_text(
    peter: NoteVerifier,
) -> None:
    text = TEXT + "\n" + PETER_SIG + "\n" + ENOCH_SIG
    note = parse_note(text)
    assert note.body == TEXT + "\n" + PETER_SIG
    with pytest.raises(SignatureError, match="no valid signature"):
        open_note(text, [peter])


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (TEXT.replace("\n", "\r\n", 1) + "\n" + PETER_SIG, "control character"),
        ("tab\there\n\n" + PETER_SIG, "control character"),
        ("nul\x00\n\n" + PETER_SIG, "control character"),
        (TEXT + PETER_SIG, "no blank line"),
        ("lone \ud800\n\n" + PETER_SIG, "UTF-8"),
    ],
    ids=["crlf", "tab", "nul", "no-blank-line", "lone-surrogate"],
)
def test_malformed_note_text(text: str, reason: str) -> None:
    with pytest.raises(MalformedError, match=reason):
        parse_note(text)


def test_delete_character_is_allowed_as_in_go() -> None:
    signer = NoteSigner("example.com/a", generate_private_key())
    assert open_note(sign_note("del\x7f\n", [signer]), [signer.verifier()]).body == "del\x7f\n"


def test_sign_note_refuses_text_without_final_newline_or_with_controls() -> None:
    signer = NoteSigner("example.com/a", generate_private_key())
    with pytest.raises(MalformedError, match="end with a newline"):
        sign_note("abc", [signer])
    with pytest.raises(MalformedError, match="control character"):
        sign_note("a\rb\n", [signer])
    with pytest.raises(ValueError, match="at least one signer"):
        sign_note("abc\n", [])


def test_ambiguous_verifiers_are_refused_but_repeats_are_fine() -> None:
    peter = NoteVerifier.from_vkey(PETER_VKEY)
    assert open_note(TEXT + "\n" + PETER_SIG, [peter, peter]).signatures

    class Twin:
        """A different key that collides with Peter's name and key ID."""

        name = peter.name
        key_id = peter.key_id

        def verify(self, body: str, signature: bytes) -> bool:
            return False

    with pytest.raises(ValueError, match="ambiguous"):
        open_note(TEXT + "\n" + PETER_SIG, [peter, Twin()])


def test_add_signature_appends_and_replaces_the_same_key() -> None:
    a = NoteSigner("example.com/a", generate_private_key())
    b = NoteSigner("example.com/b", generate_private_key())
    text = sign_note("body\n", [a])
    with_b = add_signature(text, NoteSignature(b.name, b.key_id, b.sign("body\n")))
    assert with_b.startswith(text)
    assert len(open_note(with_b, [a.verifier(), b.verifier()]).signatures) == 2
    # Re-signing by a drops its old line and appends the new one; b's line is kept as it was.
    again = add_signature(with_b, NoteSignature(a.name, a.key_id, a.sign("body\n")))
    assert [s.name for s in parse_note(again).signatures] == ["example.com/b", "example.com/a"]


def test_add_signature_refuses_more_than_the_limit() -> None:
    peter = parse_note(TEXT + "\n" + PETER_SIG).signatures[0]
    many = SignedNote(
        TEXT, tuple(NoteSignature(f"k{i}", peter.key_id, peter.signature) for i in range(100))
    ).text()
    with pytest.raises(ValueError, match=f"at most {MAX_SIGNATURES}"):
        add_signature(many, peter)


def test_decode_base64_is_canonical_and_padded() -> None:
    assert decode_base64("AAEC", "x") == b"\x00\x01\x02"
    assert decode_base64("AA==", "x") == b"\x00"
    for bad in ("AA", "AB==", "AA=", "AAA==", "A===", "AA==AA==", "AA\n=="):
        with pytest.raises(MalformedError, match="x:"):
            decode_base64(bad, "x")
