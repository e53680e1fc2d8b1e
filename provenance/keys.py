"""Ed25519 keys: generation, PEM files, the DSSE keyid, and fast signature verification.

This module owns the one place where raw Ed25519 key material meets a crypto library: creating and
storing private keys, converting public keys between raw bytes and PEM, naming a public key by its
keyid, and verifying a signature. It never decides which keys are trusted, never touches the log,
and never reads a file other than the one it is asked to.
"""

# Why verification uses PyNaCl (libsodium) while signing and PEM use `cryptography` (OpenSSL).
# Measured on this machine (2 vCPU Intel Xeon, Python 3.11.7, PyNaCl 1.6.2 with its bundled
# libsodium, cryptography 50.0.2 on OpenSSL 4.0.3): median of 7 runs of 5,000 verifications of a
# 64-byte message, microseconds per verification:
#
#                                           key object cached   key object rebuilt each time
#     PyNaCl VerifyKey(pk).verify(msg, sig)        40.1                  40.0
#     cryptography Ed25519PublicKey.verify         81.8                  82.8
#     (a bad signature costs the same: 39.5 us PyNaCl, 82.8 us cryptography)
#
# PyNaCl is twice as fast, and verification is the hot path (every submitted envelope, every
# checkpoint and cosignature an auditor replays). Building a key object is cheap in both (0.2 us
# PyNaCl, 0.8 us cryptography), so the key cache below saves little; it is kept because it costs
# nothing and spares an allocation per signature when one key verifies a whole replay. libsodium is
# also the stricter verifier: it rejects small-order public keys and R values. Checked here: with
# the identity point as public key, the signature (R = identity, S = 0) verifies for every message
# under OpenSSL and fails under libsodium, so nobody can forge "signatures" for a party that
# registered such a key (tests/test_keys.py keeps this as a regression test).
# Key objects stay `cryptography`'s, which the rest of the code passes around, but the service's own
# signatures (every checkpoint, every review the operator signs for a consumer) are made by
# libsodium too: crypto_sign took 17.5 us against cryptography's 31 us for a 300-byte message
# (median of 7 runs of 2,000, same machine, 2026-11-22). Ed25519 signatures are deterministic
# (RFC 8032), so which library signs cannot change a byte; tests/test_keys.py checks they agree.

from __future__ import annotations

import functools
import hashlib
import os
import secrets
from pathlib import Path

import nacl.bindings
import nacl.exceptions
import nacl.signing
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from provenance.errors import MalformedError

PUBLIC_KEY_SIZE = 32
"""Size in bytes of a raw Ed25519 public key (RFC 8032)."""

SEED_SIZE = 32
"""Size in bytes of a raw Ed25519 private key seed (RFC 8032)."""

SIGNATURE_SIZE = 64
"""Size in bytes of an Ed25519 signature (RFC 8032)."""


def generate_private_key() -> Ed25519PrivateKey:
    """Return a new Ed25519 private key from the operating system's random source."""
    return Ed25519PrivateKey.generate()


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """Return the Ed25519 private key for a 32-byte RFC 8032 seed; MalformedError otherwise."""
    if len(seed) != SEED_SIZE:
        raise MalformedError(f"Ed25519 seed is {len(seed)} bytes, want {SEED_SIZE}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """Return the raw 32-byte public key of a private or public Ed25519 key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def keyid(public_key: bytes) -> str:
    """Return the DSSE keyid of a raw 32-byte public key: lowercase hex SHA-256 of its bytes."""
    _check_public_key(public_key)
    return hashlib.sha256(public_key).hexdigest()


# --- Signing -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _secret_key(key: Ed25519PrivateKey) -> bytes:
    # libsodium's 64-byte secret key (seed ‖ public key), derived once per key: a service signs
    # with the same few keys all day.
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return nacl.bindings.crypto_sign_seed_keypair(seed)[1]


def sign_ed25519(key: Ed25519PrivateKey, message: bytes) -> bytes:
    """Return the 64-byte Ed25519 signature of message by key (the same bytes key.sign gives)."""
    signed: bytes = nacl.bindings.crypto_sign(message, _secret_key(key))
    return signed[:SIGNATURE_SIZE]


# --- PEM -----------------------------------------------------------------------------------------


def private_key_to_pem(key: Ed25519PrivateKey) -> bytes:
    """Return the key as an unencrypted PKCS#8 PEM document."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def private_key_from_pem(data: bytes) -> Ed25519PrivateKey:
    """Parse an unencrypted PKCS#8 PEM Ed25519 private key; MalformedError for anything else."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise MalformedError(f"not an unencrypted PKCS#8 PEM private key: {e}") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise MalformedError(f"private key is {type(key).__name__}, want Ed25519")
    return key


def public_key_to_pem(public_key: bytes) -> bytes:
    """Return a raw 32-byte public key as a SubjectPublicKeyInfo PEM document."""
    _check_public_key(public_key)
    return Ed25519PublicKey.from_public_bytes(public_key).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_from_pem(data: bytes) -> bytes:
    """Parse a SubjectPublicKeyInfo PEM Ed25519 public key into its raw 32 bytes."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise MalformedError(f"not a PEM public key: {e}") from e
    if not isinstance(key, Ed25519PublicKey):
        raise MalformedError(f"public key is {type(key).__name__}, want Ed25519")
    return public_key_bytes(key)


# --- Files ---------------------------------------------------------------------------------------


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Read an Ed25519 private key from a PKCS#8 PEM file; MalformedError if it is not one."""
    return private_key_from_pem(Path(path).read_bytes())


def save_private_key(path: str | os.PathLike[str], key: Ed25519PrivateKey) -> None:
    """Write the key as PKCS#8 PEM to a new file at path with mode 0600; FileExistsError if taken.

    The PEM goes first to a temporary file beside the target, created with O_CREAT | O_EXCL and
    mode 0600 and synced, which is then hard-linked into place. link() never replaces an existing
    file, and a crash at any moment leaves either no key file or a complete one, never a truncated
    key that a restart would refuse to load.
    """
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(private_key_to_pem(key))
            f.flush()
            os.fsync(f.fileno())
        os.link(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- Verification --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _verify_key(public_key: bytes) -> nacl.signing.VerifyKey:
    return nacl.signing.VerifyKey(public_key)


def verify_ed25519(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Report whether signature is a valid Ed25519 signature of message by the raw public key.

    A wrong signature, or a public key that is not a valid curve point, gives False. A public key
    that is not 32 bytes or a signature that is not 64 bytes raises MalformedError.
    """
    _check_public_key(public_key)
    if len(signature) != SIGNATURE_SIZE:
        raise MalformedError(f"Ed25519 signature is {len(signature)} bytes, want {SIGNATURE_SIZE}")
    try:
        _verify_key(bytes(public_key)).verify(message, signature)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


def _check_public_key(public_key: bytes) -> None:
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise MalformedError(
            f"Ed25519 public key is {len(public_key)} bytes, want {PUBLIC_KEY_SIZE}"
        )
