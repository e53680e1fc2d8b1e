"""The GS1 Application Identifier table as Python objects, and the lookups Digital Link needs.

Owns: what each AI is (title, components with their character set, lengths and linters, whether it
needs an FNC1 separator after it, whether it is a GS1 key, a Digital Link primary key with its
qualifier paths, or a permitted Digital Link data attribute, and its ``req`` / ``ex`` pairings); the
set of valid Digital Link path sequences derived from it; the deprecated convenience alphas; and the
rules for accepting an AI that is not in the table ("unknown AIs", off unless asked for).

The data comes from the GS1 Barcode Syntax Dictionary through the generated :mod:`._ai_table`; the
rules that are not in the dictionary (unknown AIs, convenience alphas) follow the GS1 Barcode Syntax
Engine (github.com/gs1/gs1-syntax-engine, ``src/c-lib/ai.c`` and ``src/c-lib/dl.c``). Pure data and
lookups: no validation of values (see :mod:`.elements`) and no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import combinations
from types import MappingProxyType
from typing import Final

from provenance.gs1._ai_table import ROWS, Row

#: Names of the character sets of a component: GS1 General Specifications, "GS1 AI encodable
#: character set 82" (X), "... 39" (Y), "... 64" (Z, file-safe / URI-safe base64) and digits (N).
CHARSET_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {"N": "numeric", "X": "CSET 82", "Y": "CSET 39", "Z": "CSET 64"}
)


@dataclass(frozen=True)
class Component:
    """One component of an AI's value: its character set, length range and linters."""

    charset: str  # "N", "X", "Y" or "Z"
    min_length: int
    max_length: int
    optional: bool
    linters: tuple[str, ...]


@dataclass(frozen=True)
class AIEntry:
    """Everything the syntax dictionary says about one Application Identifier."""

    ai: str
    title: str
    components: tuple[Component, ...]
    fnc1_required: bool  # an FNC1 separator must follow the value when another AI comes after it
    identification_key: bool
    dl_data_attribute: bool  # may appear as a Digital Link query parameter
    requisites: tuple[tuple[tuple[str, ...], ...], ...]
    exclusions: tuple[str, ...]
    dl_qualifier_paths: tuple[tuple[str, ...], ...] | None  # None: not a Digital Link primary key
    unknown: bool = False  # vivified for an AI missing from the table (only when permitted)

    @property
    def min_length(self) -> int:
        """The shortest value: the sum of the minimum lengths of the mandatory components."""
        return sum(c.min_length for c in self.components if not c.optional)

    @property
    def max_length(self) -> int:
        """The longest value: the sum of the maximum lengths of all components."""
        return sum(c.max_length for c in self.components)

    @property
    def fixed_length(self) -> bool:
        """Whether every value has exactly the same length."""
        return self.min_length == self.max_length

    @property
    def charsets(self) -> tuple[str, ...]:
        """The character set of each component, in order ("N", "X", "Y", "Z")."""
        return tuple(c.charset for c in self.components)

    @property
    def has_check_digit(self) -> bool:
        """Whether a component ends in a mod-10 check digit or an alphanumeric check pair."""
        return any(("csum" in c.linters or "csumalpha" in c.linters) for c in self.components)

    @property
    def is_primary_key(self) -> bool:
        """Whether the AI is a GS1 Digital Link primary key (it may start a URI path)."""
        return self.dl_qualifier_paths is not None


def _entry(row: Row) -> AIEntry:
    ai, flags, title, parts, req, ex, dlpkey = row
    return AIEntry(
        ai=ai,
        title=title,
        components=tuple(Component(*part) for part in parts),
        fnc1_required="*" not in flags,
        identification_key="!" in flags,
        dl_data_attribute="?" in flags,
        requisites=req,
        exclusions=ex,
        dl_qualifier_paths=dlpkey,
    )


AI_TABLE: Final[Mapping[str, AIEntry]] = MappingProxyType({row[0]: _entry(row) for row in ROWS})

# The deprecated convenience alphas of GS1 Digital Link 1.0 path components (dl.c, alpha_ai_map).
CONVENIENCE_ALPHAS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "cpid": "8010", "cpsn": "8011", "cpv": "22", "gcn": "255", "gdti": "253", "giai": "8004",
        "ginc": "401", "gln": "414", "glnx": "254", "gmn": "8013", "grai": "8003", "gsin": "402",
        "gsrn": "8018", "gsrnp": "8017", "gtin": "01", "itip": "8006", "lot": "10", "party": "417",
        "refno": "8020", "ser": "21", "srin": "8019", "sscc": "00",
    }
)  # fmt: skip

# Value lengths of the AI prefixes that GS1 predefines as fixed length, used only to vivify an
# unknown AI (ai.c, fixedAIprefixLengths); every other prefix is variable length.
_PREDEFINED_VALUE_LENGTHS: Final[Mapping[str, int]] = MappingProxyType(
    {"00": 18, "01": 14, "02": 14, "03": 14, "04": 16}
    | {str(p): 6 for p in range(11, 20)}
    | {"20": 2}
    | {str(p): 6 for p in range(31, 37)}
    | {"41": 13}
)

# Every AI that shares its first two digits with another has the same length (ai.c checks this).
_AI_LENGTH_BY_PREFIX: Final[Mapping[str, int]] = MappingProxyType(
    {ai[:2]: len(ai) for ai in AI_TABLE}
)


def _vivify(ai: str) -> AIEntry | None:
    # An unknown AI may not collide with a known one by prefix, and must have the length that the
    # table gives to AIs of its two-digit prefix, when the table has any.
    if any(known.startswith(ai) or ai.startswith(known) for known in AI_TABLE):
        return None
    prefix_length = _AI_LENGTH_BY_PREFIX.get(ai[:2], 0)
    if prefix_length and prefix_length != len(ai):
        return None
    fixed = _PREDEFINED_VALUE_LENGTHS.get(ai[:2]) if prefix_length else None
    component = Component("X", fixed or 1, fixed or 90, False, ())
    return AIEntry(
        ai=ai,
        title="UNKNOWN",
        components=(component,),
        fnc1_required=fixed is None,
        identification_key=False,
        dl_data_attribute=False,
        requisites=(),
        exclusions=(),
        dl_qualifier_paths=None,
        unknown=True,
    )


def lookup_ai(ai: str, *, permit_unknown: bool = False) -> AIEntry | None:
    """Return the table entry of ``ai`` (2 to 4 ASCII digits), or ``None`` if there is none.

    With ``permit_unknown``, an AI missing from the table is accepted as an ``unknown`` entry (CSET 82,
    1 to 90 characters, or the predefined length of its prefix) unless it clashes with a known AI.
    """
    if not 2 <= len(ai) <= 4 or not (ai.isascii() and ai.isdigit()):
        return None
    entry = AI_TABLE.get(ai)
    if entry is not None or not permit_unknown:
        return entry
    return _vivify(ai)


def lookup_ai_prefix(data: str, *, permit_unknown: bool = False) -> AIEntry | None:
    """Return the entry of the AI that starts ``data`` (an unbracketed element string), or ``None``.

    An unknown AI is only accepted when its prefix fixes its length, since otherwise the AI cannot be
    told apart from its value.
    """
    length = _AI_LENGTH_BY_PREFIX.get(data[:2])
    if length is None:
        return None
    return lookup_ai(data[:length], permit_unknown=permit_unknown)


def ai_from_alpha(alpha: str) -> str | None:
    """Return the numeric AI of a deprecated Digital Link convenience alpha (``gtin`` -> ``01``)."""
    return CONVENIENCE_ALPHAS.get(alpha)


@cache
def valid_path_sequences() -> frozenset[tuple[str, ...]]:
    """Return every valid Digital Link path AI sequence: a primary key then an ordered subset of one
    of its qualifier paths (``01``; ``01 10``; ``01 22 21``; ``01 235``; ``414 254``; ...)."""
    sequences: set[tuple[str, ...]] = set()
    for entry in AI_TABLE.values():
        for path in entry.dl_qualifier_paths or ():
            for size in range(len(path) + 1):
                for subset in combinations(path, size):
                    sequences.add((entry.ai, *subset))
    return frozenset(sequences)


def validate_path_sequence(ais: Sequence[str]) -> bool:
    """Return whether ``ais`` (numeric AIs in URI path order) is a primary key followed by a valid,
    correctly ordered choice of its key qualifiers."""
    return tuple(ais) in valid_path_sequences()


def path_sequences_for(key: str) -> list[tuple[str, ...]]:
    """Return the valid path sequences that start with primary key ``key``, ordered as the GS1 Syntax
    Engine orders them (by their space-joined text), which decides ties when a URI is generated."""
    return sorted(
        (seq for seq in valid_path_sequences() if seq[0] == key), key=lambda seq: " ".join(seq)
    )
