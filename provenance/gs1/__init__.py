"""GS1 identifiers for the ledger: check digits, the Application Identifier table, element strings
and GS1 Digital Link URIs. Pure functions and data; nothing here does I/O.

The public names are re-exported here; :mod:`.digital_link` is the entry point for URIs.
"""

from provenance.gs1.ai import AIEntry, lookup_ai, valid_path_sequences, validate_path_sequence
from provenance.gs1.check_digit import (
    compute_check_digit,
    has_valid_check_digit,
    is_valid_gtin,
    normalize_gtin,
    verify_check_digit,
)
from provenance.gs1.digital_link import (
    CANONICAL_STEM,
    DigitalLink,
    generate_digital_link,
    gtin_link,
    parse_digital_link,
)
from provenance.gs1.errors import DigitalLinkError, GS1Error

__all__ = [
    "CANONICAL_STEM",
    "AIEntry",
    "DigitalLink",
    "DigitalLinkError",
    "GS1Error",
    "compute_check_digit",
    "generate_digital_link",
    "gtin_link",
    "has_valid_check_digit",
    "is_valid_gtin",
    "lookup_ai",
    "normalize_gtin",
    "parse_digital_link",
    "valid_path_sequences",
    "validate_path_sequence",
    "verify_check_digit",
]
