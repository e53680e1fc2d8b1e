"""Tests for provenance.keys: key files, PEM, keyid, and Ed25519 verification."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provenance.errors import MalformedError
from provenance.keys import (
    generate_private_key,
    keyid,
    load_private_key,
    private_key_from_pem,
    private_key_from_seed,
    private_key_to_pem,
    public_key_bytes,
    public_key_from_pem,
    public_key_to_pem,
    save_private_key,
    sign_ed25519,
    verify_ed25519,
)

# RFC 8032 section 7.1, TEST 1 and TEST 2.
RFC8032_TEST1 = {
    "seed": "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "public": "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "message": "",
    "signature": "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
}
RFC8032_TEST2 = {
    "seed": "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    "public": "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    "message": "72",
    "signature": "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
}


@pytest.mark.parametrize("vector", [RFC8032_TEST1, RFC8032_TEST2], ids=["test1", "test2"])
def test_rfc8032_known_answers(vector: dict[str, str]) -> None:
    key = private_key_from_seed(bytes.fromhex(vector["seed"]))
    message = bytes.fromhex(vector["message"])
    assert public_key_bytes(key).hex() == vector["public"]
    assert key.sign(message).hex() == vector["signature"]
    assert sign_ed25519(key, message).hex() == vector["signature"]
    assert verify_ed25519(
        bytes.fromhex(vector["public"]), bytes.fromhex(vector["signature"]), message
    )


def test_libsodium_signs_the_same_bytes_as_cryptography() -> None:
    # Deterministic signatures (RFC 8032): the service may sign with either library.
    for size in (0, 1, 64, 300, 5000):
        key, message = generate_private_key(), os.urandom(size)
        assert sign_ed25519(key, message) == key.sign(message)


def test_verify_rejects_a_flipped_bit_in_signature_message_or_key() -> None:
    key = generate_private_key()
    public = public_key_bytes(key)
    message = b"origin\n1\n"
    signature = key.sign(message)
    assert verify_ed25519(public, signature, message)
    for i in (0, 31, 32, 63):
        bad = bytearray(signature)
        bad[i] ^= 0x01
        assert not verify_ed25519(public, bytes(bad), message)
    assert not verify_ed25519(public, signature, message + b"x")
    assert not verify_ed25519(public_key_bytes(generate_private_key()), signature, message)


def test_verify_returns_false_for_a_public_key_that_is_not_a_curve_point() -> None:
    assert not verify_ed25519(b"\xff" * 32, bytes(64), b"message")


def test_verify_refuses_the_identity_key_universal_forgery() -> None:
    # OpenSSL accepts (R = identity, S = 0) for the identity public key on every message;
    # libsodium refuses small-order keys. This is why verification goes through PyNaCl.
    identity = b"\x01" + bytes(31)
    forged = identity + bytes(32)
    assert not verify_ed25519(identity, forged, b"anything at all")


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_verify_raises_for_a_public_key_of_the_wrong_length(length: int) -> None:
    with pytest.raises(MalformedError, match="public key is"):
        verify_ed25519(bytes(length), bytes(64), b"m")


@pytest.mark.parametrize("length", [0, 63, 65, 72])
def test_verify_raises_for_a_signature_of_the_wrong_length(length: int) -> None:
    with pytest.raises(MalformedError, match="signature is"):
        verify_ed25519(public_key_bytes(generate_private_key()), bytes(length), b"m")


def test_keyid_is_hex_sha256_of_the_raw_public_key() -> None:
    public = bytes.fromhex(RFC8032_TEST1["public"])
    assert keyid(public) == "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"
    with pytest.raises(MalformedError):
        keyid(public[:31])


def test_private_key_from_seed_refuses_the_wrong_length() -> None:
    with pytest.raises(MalformedError, match="seed"):
        private_key_from_seed(bytes(31))


def test_pem_round_trips() -> None:
    key = generate_private_key()
    pem = private_key_to_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public_key_bytes(private_key_from_pem(pem)) == public_key_bytes(key)
    public = public_key_bytes(key)
    assert public_key_from_pem(public_key_to_pem(public)) == public


def test_pem_of_another_algorithm_or_garbage_is_malformed() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1())
    other_pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(MalformedError, match="want Ed25519"):
        private_key_from_pem(other_pem)
    other_public = other.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(MalformedError, match="want Ed25519"):
        public_key_from_pem(other_public)
    with pytest.raises(MalformedError):
        private_key_from_pem(b"not a key")
    with pytest.raises(MalformedError):
        public_key_from_pem(b"not a key")


def test_encrypted_pem_is_malformed() -> None:
    from cryptography.hazmat.primitives import serialization

    encrypted = generate_private_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    with pytest.raises(MalformedError):
        private_key_from_pem(encrypted)


def test_save_private_key_writes_mode_0600_and_loads_back(tmp_path: Path) -> None:
    key = generate_private_key()
    path = tmp_path / "log.key"
    save_private_key(path, key)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert public_key_bytes(load_private_key(path)) == public_key_bytes(key)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.key"]


def test_save_private_key_ignores_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        save_private_key(tmp_path / "log.key", generate_private_key())
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "log.key").st_mode) == 0o600


def test_save_private_key_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    first = generate_private_key()
    save_private_key(path, first)
    with pytest.raises(FileExistsError):
        save_private_key(path, generate_private_key())
    assert public_key_bytes(load_private_key(path)) == public_key_bytes(first)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.key"]


def test_save_private_key_does_not_follow_or_replace_a_symlink(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"precious")
    link = tmp_path / "log.key"
    link.symlink_to(elsewhere)
    with pytest.raises(FileExistsError):
        save_private_key(link, generate_private_key())
    assert elsewhere.read_bytes() == b"precious"


def test_load_private_key_of_a_truncated_file_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    path.write_bytes(private_key_to_pem(generate_private_key())[:40])
    with pytest.raises(MalformedError):
        load_private_key(path)


def test_generated_keys_are_distinct_ed25519_keys() -> None:
    a, b = generate_private_key(), generate_private_key()
    assert isinstance(a, Ed25519PrivateKey)
    assert public_key_bytes(a) != public_key_bytes(b)
    assert len(public_key_bytes(a)) == 32
