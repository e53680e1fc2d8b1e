"""GS1 check digits: the mod-10 check digit of numeric keys and the check character pair of GMNs.

Owns the arithmetic only (GS1 General Specifications, "Check digit calculation" and "Check character
calculation (for alphanumeric keys)"), and the normalisation of GTIN-8/12/13 to GTIN-14. It knows
nothing of Application Identifiers or URIs.

The mod-10 rule, for every numeric GS1 key (GTIN-8/12/13/14, GLN, SSCC, GSIN, GSRN, GDTI, GRAI, GCN):
weight the digits before the check digit 3, 1, 3, 1, ... from the right; the check digit brings the
weighted sum up to a multiple of ten.
"""

from __future__ import annotations

from provenance.gs1.errors import GS1Error

#: Lengths (with check digit) of the fixed-length numeric GS1 keys.
KEY_LENGTHS: dict[str, int] = {
    "GTIN-8": 8,
    "GTIN-12": 12,
    "GTIN-13": 13,
    "GTIN-14": 14,
    "GLN": 13,
    "SSCC": 18,
    "GSIN": 17,
    "GSRN": 18,
}

GTIN_LENGTHS = (8, 12, 13, 14)

# CSET 82 in the order that gives each character its value, and the CSET 32 check characters
# (GS1 General Specifications; as in lint_csumalpha.c of github.com/gs1/gs1-syntax-engine).
_CSET82_ORDERED = (
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
_CSET32_ORDERED = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_PRIMES = (
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
    97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191,
    193, 197, 199, 211, 223, 227, 229, 233, 239, 241, 251, 257, 263, 269, 271, 277, 281, 283, 293,
    307, 311, 313, 317, 331, 337, 347, 349, 353, 359, 367, 373, 379, 383, 389, 397, 401, 409, 419,
    421, 431, 433, 439, 443, 449, 457, 461, 463, 467, 479, 487, 491, 499, 503, 509,
)  # fmt: skip


def _require_digits(digits: str, what: str) -> None:
    if not digits or not (digits.isascii() and digits.isdigit()):
        raise GS1Error("character-set", f"{what} must be digits 0-9, got {digits!r}")


def compute_check_digit(payload: str) -> str:
    """Return the mod-10 check digit for ``payload``, the digits of a key without its check digit.

    Precondition: ``payload`` is one or more ASCII digits, else :class:`GS1Error` (``character-set``).
    """
    _require_digits(payload, "the payload of a check digit")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return str(-total % 10)


def has_valid_check_digit(number: str) -> bool:
    """Return whether ``number`` is two or more ASCII digits ending in its mod-10 check digit."""
    if len(number) < 2 or not (number.isascii() and number.isdigit()):
        return False
    return compute_check_digit(number[:-1]) == number[-1]


def verify_check_digit(number: str, *, what: str = "GS1 key") -> None:
    """Raise :class:`GS1Error` (``check-digit``) unless ``number`` ends in its mod-10 check digit.

    Preconditions: ``number`` is ASCII digits (``character-set``) and has at least two (``length``).
    """
    _require_digits(number, what)
    if len(number) < 2:
        raise GS1Error("length", f"{what} {number!r} is too short to carry a check digit")
    expected = compute_check_digit(number[:-1])
    if number[-1] != expected:
        raise GS1Error(
            "check-digit", f"{what} {number} has check digit {number[-1]}, expected {expected}"
        )


def normalize_gtin(gtin: str) -> str:
    """Return ``gtin`` (a GTIN-8, -12, -13 or -14 with a valid check digit) as a 14-digit GTIN-14.

    Raises :class:`GS1Error` with rule ``character-set``, ``length`` or ``check-digit``.
    """
    _require_digits(gtin, "a GTIN")
    if len(gtin) not in GTIN_LENGTHS:
        raise GS1Error("length", f"a GTIN has 8, 12, 13 or 14 digits, got {len(gtin)}: {gtin}")
    verify_check_digit(gtin, what=f"GTIN-{len(gtin)}")
    return gtin.zfill(14)


def is_valid_gtin(gtin: str) -> bool:
    """Return whether ``gtin`` is a GTIN-8, -12, -13 or -14 with a valid check digit."""
    return len(gtin) in GTIN_LENGTHS and has_valid_check_digit(gtin)


def compute_check_pair(payload: str) -> str:
    """Return the two check characters (CSET 32) of ``payload``, up to 97 CSET 82 characters.

    This is the alphanumeric check character pair of the GMN (AI 8013). Raises :class:`GS1Error`
    (``character-set`` or ``length``) when the precondition does not hold.
    """
    if len(payload) > len(_PRIMES):
        raise GS1Error("length", f"{len(payload)} characters is too long for a check pair")
    bad = [c for c in payload if c not in _CSET82_ORDERED]
    if bad:
        raise GS1Error("character-set", f"{bad[0]!r} is not a CSET 82 character")
    total = sum(
        _CSET82_ORDERED.index(c) * p for c, p in zip(reversed(payload), _PRIMES, strict=False)
    )
    total %= 1021
    return _CSET32_ORDERED[total >> 5] + _CSET32_ORDERED[total & 31]


def has_valid_check_pair(value: str) -> bool:
    """Return whether the last two characters of ``value`` are the check pair of the rest."""
    if len(value) < 2 or any(c not in _CSET32_ORDERED for c in value[-2:]):
        return False
    try:
        return compute_check_pair(value[:-2]) == value[-2:]
    except GS1Error:
        return False
