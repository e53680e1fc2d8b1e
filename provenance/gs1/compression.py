"""GS1 Digital Link URI compression: reading (and writing) the compressed form of a Digital Link.

A compressed GS1 Digital Link URI carries its GS1 data as one path segment in a URI-safe base64
alphabet (``A-Z a-z 0-9 - _``, six bits a character) after the stem, e.g.
``https://id.gs1.org/AQnYUc1gmg`` for ``https://id.gs1.org/01/05412345000013``. The segment is a bit
string, read from the left while more than 8 bits remain (what is left is padding):

- 8 bits, two hex digits ``h1 h2``. ``00``-``99``: the first two digits of an AI, whose total length
  (2, 3 or 4 digits) the table of prefixes gives; each further digit is 4 bits. ``0A``-``EF`` (not
  both digits): an optimisation, a predefined sequence of AIs (``0B`` = GTIN then lot, ...), whose
  values follow one after the other. ``F`` then 7 more bits (``h2`` and 3 bits): a non-GS1 key of
  that many base64 characters (6 bits each), then its value as an alphanumeric string (3-bit encoding,
  7-bit length).
- Each AI value, component by component as the AI table describes it: a fixed-length numeric
  component of ``n`` digits is an integer of ``ceil(n * log2(10) + 0.01)`` bits (zero-padded to
  ``n`` digits); a variable-length numeric component has a length first, in
  ``ceil(log2(max) + 0.01)`` bits; an alphanumeric component has a 3-bit encoding, then (if variable)
  its length, then its characters: 0 digits (as an integer), 1 lower-case hex, 2 upper-case hex (4
  bits a character), 3 URI-safe base64 (6 bits), 4 ASCII (7 bits).

The format is GS1's "GS1 Digital Link: Compression" technical standard; this module follows its
reference implementation, the GS1 Digital Link Compression Prototype / Toolkit
(github.com/gs1/GS1DigitalLinkCompressionPrototype, ``GS1DigitalLinkToolkit.js``:
``decompressBinaryToGS1AIarray``, ``decodeBinaryValue``, ``handleDecodings``, ``tableP``,
``tableOpt``). The components of each AI come from this project's AI table (the GS1 Barcode Syntax
Dictionary), with adjacent fixed-length components of the same kind merged, which gives the
toolkit's ``tableF`` (``8003`` = N14 + X..16, ``7040`` = N1 + X3).

The GS1-Conformant Resolver standard requires a resolver to "be able to decompress a URI to generate
a GS1 Digital Link URI"; :func:`decompress_digital_link` does that, producing the canonical
uncompressed URI (:func:`~provenance.gs1.digital_link.generate_digital_link`) on the same stem, with
any non-GS1 key=value pairs (compressed or in the query) after the GS1 data. Also read: a partially
compressed URI, ``/<primary key>/<value>/<compressed rest>``. :func:`compress_digital_link` writes
the fully compressed form without optimisations, AIs in string order, as the toolkit does with
optimisations off. Pure: no I/O.

Malformed input raises :class:`~provenance.gs1.errors.DigitalLinkError` with one of the rules
``compressed-uri`` (not a compressed Digital Link URI at all), ``compressed-alphabet``,
``compressed-truncated`` (the bits end inside a value), ``compressed-ai`` (an AI prefix, AI digit or
optimisation that does not exist), ``compressed-encoding`` (an encoding number above 4),
``compressed-length`` (a length outside what the AI allows), ``duplicate-ai``, or any rule of
:func:`~provenance.gs1.digital_link.generate_digital_link` for the decoded data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Final
from urllib.parse import quote, unquote_plus

from provenance.gs1.ai import AIEntry, lookup_ai
from provenance.gs1.digital_link import generate_digital_link, parse_digital_link
from provenance.gs1.elements import Element, render_element_string, validate_value
from provenance.gs1.errors import DigitalLinkError, GS1Error

__all__ = [
    "compress_digital_link",
    "decompress_digital_link",
    "is_compressed",
    "starts_with_primary_key",
]

SAFE_BASE64: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SAFE_BASE64_SET: Final = frozenset(SAFE_BASE64)
_HEX: Final = "0123456789ABCDEF"

#: The total length of an AI from its first two digits (the toolkit's ``tableP``).
AI_LENGTHS: Final[Mapping[str, int]] = MappingProxyType(
    {
        **dict.fromkeys(("00", "01", "02", "03", "04"), 2),
        **dict.fromkeys(("10", "11", "12", "13", "14", "15", "16", "17", "18", "19"), 2),
        **dict.fromkeys(("20", "21", "22"), 2),
        **dict.fromkeys(("23", "24", "25", "26", "27", "28", "29"), 3),
        "30": 2,
        **dict.fromkeys(("31", "32", "33", "34", "35", "36"), 4),
        "37": 2,
        **dict.fromkeys(("39", "43"), 4),
        **dict.fromkeys(("40", "41", "42"), 3),
        "70": 4,
        "71": 3,
        **dict.fromkeys(("72", "73", "74", "75", "76", "77", "78", "79"), 4),
        **dict.fromkeys(("80", "81", "82"), 4),
        **dict.fromkeys(("90", "91", "92", "93", "94", "95", "96", "97", "98", "99"), 2),
    }
)

#: Predefined sequences of AIs (the toolkit's ``tableOpt``).
OPTIMISATIONS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "0A": ("01", "22"), "0B": ("01", "10"), "0C": ("01", "21"), "0D": ("01", "17"),
        "0E": ("01", "7003"), "0F": ("01", "30"),
        "1A": ("01", "10", "21", "17"), "1B": ("01", "15"), "1C": ("01", "11"),
        "1D": ("01", "16"), "1E": ("01", "91"), "1F": ("01", "10", "15"),
        **{f"2{h}": ("01", f"310{i}") for i, h in enumerate("ABCDEF")},
        **{f"3{h}": ("01", f"320{i}") for i, h in enumerate("ABCDEF")},
        "9A": ("8010", "8011"), "9B": ("8017", "8019"), "9C": ("8018", "8019"),
        "9D": ("414", "254"),
        **{f"A{i}": ("01", f"392{i}") for i in range(10)},
        **{f"C{i}": ("255", f"390{i}") for i in range(10)},
        **{f"C{h}": ("255", f"394{i}") for i, h in enumerate("ABCD")},
    }
)  # fmt: skip

_NUMERIC: Final = 0
_LOWER_HEX: Final = 1
_UPPER_HEX: Final = 2
_BASE64: Final = 3
_ASCII: Final = 4


@dataclass(frozen=True)
class _Part:
    """One component as the compression encodes it."""

    numeric: bool
    max_length: int
    fixed: bool


@cache
def _parts(entry: AIEntry) -> tuple[_Part, ...]:
    """The components of ``entry`` with adjacent fixed-length ones of the same kind merged."""
    parts: list[_Part] = []
    for c in entry.components:
        numeric = c.charset == "N"
        fixed = c.min_length == c.max_length and not c.optional
        if parts and fixed and parts[-1].fixed and parts[-1].numeric == numeric:
            parts[-1] = _Part(numeric, parts[-1].max_length + c.max_length, True)
        else:
            parts.append(_Part(numeric, c.max_length, fixed))
    return tuple(parts)


def _length_bits(max_length: int) -> int:
    return math.ceil(math.log2(max_length) + 0.01)


def _value_bits(digits: int) -> int:
    return math.ceil(digits * math.log2(10) + 0.01)


# --- Detection ------------------------------------------------------------------------------------


def _split(uri: str) -> tuple[str, list[str], str]:
    """``(scheme://domain, path segments, query)`` of ``uri`` (fragment dropped); DigitalLinkError
    ``compressed-uri`` when it is not an http(s) URI with a path."""
    uri = uri.partition("#")[0]
    before, _, query = uri.partition("?")
    scheme, sep, rest = before.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise DigitalLinkError("compressed-uri", f"{uri!r} is not an http(s) URI")
    domain, slash, path = rest.partition("/")
    if not domain or not slash:
        raise DigitalLinkError("compressed-uri", f"{uri!r} has no path")
    segments = path.split("/")
    if len(segments) > 1 and segments[-1] == "":
        segments.pop()  # one trailing slash is tolerated
    return f"{scheme}://{domain}", segments, query


def _is_safe64(segment: str) -> bool:
    return bool(segment) and all(c in _SAFE_BASE64_SET for c in segment)


def _primary_key(segment: str) -> AIEntry | None:
    entry = lookup_ai(segment) if segment.isascii() and segment.isdigit() else None
    return entry if entry is not None and entry.is_primary_key else None


def is_compressed(uri: str) -> bool:
    """Whether ``uri`` looks like a fully compressed Digital Link URI, as the toolkit's
    ``analyseURI`` detects one: an http(s) URI whose last path segment is all URI-safe base64, with
    no primary key AI and its value before it (which would make it an uncompressed or partially
    compressed one), and that is not itself an all-digit primary key. Looks only; the segment may
    still fail to decompress."""
    try:
        _, segments, _ = _split(uri)
    except DigitalLinkError:
        return False
    last = segments[-1]
    if not _is_safe64(last) or _primary_key(last) is not None:
        return False
    return all(_primary_key(segment) is None for segment in segments[:-1])


def encodes_primary_key(segment: str) -> bool:
    """Whether ``segment`` may be a fully compressed Digital Link: it starts with a primary key
    AI (or an optimisation whose first AI is one), the rest unchecked, so that a damaged one can
    still be told what is wrong with it; or it decodes whole and holds a primary key somewhere
    (the toolkit sorts AIs by number, so ``254`` comes before ``414``)."""
    if starts_with_primary_key(segment):
        return True
    if len(segment) < 3 or not _is_safe64(segment):
        return False
    try:
        gs1, _ = _decode(segment)
    except DigitalLinkError:
        return False
    return any(_primary_key(ai) is not None for ai, _ in gs1)


def starts_with_primary_key(segment: str) -> bool:
    """Whether the compressed ``segment`` starts with a primary key AI or an optimisation whose
    first AI is one (the rest unchecked)."""
    if len(segment) < 3 or not _is_safe64(segment):
        return False
    bits = _to_bits(segment)
    head = _HEX[int(bits[:4], 2)] + _HEX[int(bits[4:8], 2)]
    if head in OPTIMISATIONS:
        return _primary_key(OPTIMISATIONS[head][0]) is not None
    length = AI_LENGTHS.get(head) if head.isdigit() else None
    if length is None:
        return False
    ai = head + "".join(str(int(bits[8 + 4 * i : 12 + 4 * i], 2)) for i in range(length - 2))
    return _primary_key(ai) is not None


# --- Decompression --------------------------------------------------------------------------------


class _Bits:
    """A cursor over a string of ``0``/``1``."""

    def __init__(self, bits: str) -> None:
        self.bits = bits
        self.at = 0

    @property
    def left(self) -> int:
        return len(self.bits) - self.at

    def read(self, count: int) -> int:
        if count > self.left:
            raise DigitalLinkError(
                "compressed-truncated", "the compressed data ends in the middle of a value"
            )
        chunk = self.bits[self.at : self.at + count]
        self.at += count
        return int(chunk, 2) if chunk else 0

    def digits(self, count: int) -> str:
        if count == 0:
            return ""
        value = str(self.read(_value_bits(count)))
        if len(value) > count:
            raise DigitalLinkError(
                "compressed-length", f"a numeric value {value} is longer than {count} digits"
            )
        return value.zfill(count)

    def string(self, encoding: int, count: int) -> str:
        if encoding == _NUMERIC:
            return self.digits(count)
        if encoding in (_LOWER_HEX, _UPPER_HEX):
            text = "".join(_HEX[self.read(4)] for _ in range(count))
            return text.lower() if encoding == _LOWER_HEX else text
        if encoding == _BASE64:
            return "".join(SAFE_BASE64[self.read(6)] for _ in range(count))
        if encoding == _ASCII:
            return "".join(chr(self.read(7)) for _ in range(count))
        raise DigitalLinkError("compressed-encoding", f"encoding {encoding} is not defined")


def _to_bits(segment: str) -> str:
    if not _is_safe64(segment):
        raise DigitalLinkError(
            "compressed-alphabet", f"{segment!r} is not in the URI-safe base64 alphabet"
        )
    return "".join(f"{SAFE_BASE64.index(c):06b}" for c in segment)


def _read_value(ai: str, bits: _Bits) -> str:
    entry = lookup_ai(ai)
    if entry is None:
        raise DigitalLinkError("compressed-ai", "is not a known AI", ai=ai)
    out: list[str] = []
    for part in _parts(entry):
        if part.numeric:
            length = part.max_length if part.fixed else bits.read(_length_bits(part.max_length))
            if length > part.max_length:
                raise DigitalLinkError(
                    "compressed-length", f"length {length} is over {part.max_length}", ai=ai
                )
            out.append(bits.digits(length))
        else:
            encoding = bits.read(3)
            length = part.max_length if part.fixed else bits.read(_length_bits(part.max_length))
            if length > part.max_length:
                raise DigitalLinkError(
                    "compressed-length", f"length {length} is over {part.max_length}", ai=ai
                )
            out.append(bits.string(encoding, length))
    return "".join(out)


def _decode(segment: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The GS1 ``(AI, value)`` pairs and the non-GS1 ``(key, value)`` pairs in ``segment``."""
    bits = _Bits(_to_bits(segment))
    gs1: list[tuple[str, str]] = []
    other: list[tuple[str, str]] = []
    while bits.left > 8:
        h1, h2 = _HEX[bits.read(4)], _HEX[bits.read(4)]
        head = h1 + h2
        if head.isdigit():
            length = AI_LENGTHS.get(head)
            if length is None:
                raise DigitalLinkError("compressed-ai", f"no AI starts with {head}")
            ai = head
            for _ in range(length - 2):
                digit = bits.read(4)
                if digit > 9:
                    raise DigitalLinkError("compressed-ai", f"AI {ai}{_HEX[digit]} is not numeric")
                ai += str(digit)
            gs1.append((ai, _read_value(ai, bits)))
        elif head in OPTIMISATIONS:
            gs1.extend((ai, _read_value(ai, bits)) for ai in OPTIMISATIONS[head])
        elif h1 == "F":
            key_length = (int(h2, 16) << 3) | bits.read(3)
            key = "".join(SAFE_BASE64[bits.read(6)] for _ in range(key_length))
            encoding = bits.read(3)
            other.append((key, bits.string(encoding, bits.read(7))))
        else:
            raise DigitalLinkError("compressed-ai", f"no optimisation is defined for {head}")
    return gs1, other


def _element_string(pairs: Sequence[tuple[str, str]]) -> str:
    seen: set[str] = set()
    elements: list[Element] = []
    for ai, value in pairs:
        if ai in seen:
            raise DigitalLinkError("duplicate-ai", "appears more than once", ai=ai)
        seen.add(ai)
        entry = lookup_ai(ai)
        if entry is None:  # pragma: no cover - _read_value has looked it up
            raise DigitalLinkError("compressed-ai", "is not a known AI", ai=ai)
        try:
            validate_value(entry, value)  # before FNC1 ('^') could be mistaken in a value
        except GS1Error as e:
            raise DigitalLinkError(e.rule, e.detail, ai=e.ai) from e
        elements.append(Element(entry, value))
    return render_element_string(elements)


def _query_pair(key: str, value: str) -> str:
    return f"{quote(key, safe='')}={quote(value, safe='')}"


def decompress_digital_link(uri: str) -> str:
    """Return the uncompressed GS1 Digital Link URI of the compressed (or partially compressed)
    ``uri``, on the same stem, in canonical form (numeric AIs; key qualifiers in the path, data
    attributes in the query); non-GS1 key=value pairs, compressed or in ``uri``'s query, follow the
    GS1 ones. Raise :class:`DigitalLinkError` when ``uri`` is not one or its data is malformed."""
    origin, segments, query = _split(uri)
    if len(segments) >= 3 and _primary_key(segments[-3]) is not None:
        # Partially compressed: /<key>/<value>/<compressed>.
        stem_segments, key, raw_value, segment = (
            segments[:-3],
            segments[-3],
            segments[-2],
            segments[-1],
        )
        uncompressed = parse_digital_link(
            f"{origin}/{key}/{raw_value}", permit_zero_suppressed_gtin=True
        )
        prefix: list[tuple[str, str]] = [uncompressed.primary_key]
    else:
        stem_segments, segment, prefix = segments[:-1], segments[-1], []
    if not _is_safe64(segment):
        raise DigitalLinkError(
            "compressed-alphabet", f"{segment!r} is not in the URI-safe base64 alphabet"
        )
    gs1, other = _decode(segment)
    gs1 = prefix + gs1
    if not gs1:
        raise DigitalLinkError("compressed-uri", f"{segment!r} holds no GS1 data")
    stem = "/".join([origin, *stem_segments])
    out = generate_digital_link(_element_string(gs1), stem)
    extra = [_query_pair(k, v) for k, v in other]
    for param in query.split("&") if query else []:
        name, _, value = param.partition("=")
        if name.isascii() and name.isdigit():
            raise DigitalLinkError(
                "compressed-query-ai",
                "a GS1 AI in the query of a compressed URI belongs in its compressed data",
                ai=name,
            )
        extra.append(
            _query_pair(unquote_plus(name), unquote_plus(value)) if "=" in param else param
        )
    if extra:
        out += ("&" if "?" in out else "?") + "&".join(extra)
    return out


# --- Compression ----------------------------------------------------------------------------------


def _encoding(value: str) -> int:
    if not value:
        return _BASE64  # what the toolkit writes for an empty optional component
    if value.isascii() and value.isdigit():
        return _NUMERIC
    if all(c in "0123456789abcdef" for c in value):
        return _LOWER_HEX
    if all(c in "0123456789ABCDEF" for c in value):
        return _UPPER_HEX
    if all(c in _SAFE_BASE64_SET for c in value):
        return _BASE64
    return _ASCII


def _write_string(value: str, encoding: int) -> str:
    if encoding == _NUMERIC:
        return f"{int(value):0{_value_bits(len(value))}b}" if value else ""
    if encoding in (_LOWER_HEX, _UPPER_HEX):
        return "".join(f"{int(c, 16):04b}" for c in value)
    if encoding == _BASE64:
        return "".join(f"{SAFE_BASE64.index(c):06b}" for c in value)
    return "".join(f"{ord(c):07b}" for c in value)


def _write_value(entry: AIEntry, value: str) -> str:
    out: list[str] = []
    rest = value
    parts = _parts(entry)
    for index, part in enumerate(parts):
        if part.fixed:
            chunk, rest = rest[: part.max_length], rest[part.max_length :]
        elif index == len(parts) - 1:
            chunk, rest = rest, ""
        else:  # pragma: no cover - no AI has a variable component before another
            raise DigitalLinkError("compressed-ai", "cannot split the value", ai=entry.ai)
        if part.numeric:
            if not part.fixed:
                out.append(f"{len(chunk):0{_length_bits(part.max_length)}b}")
            out.append(_write_string(chunk, _NUMERIC))
        else:
            encoding = _encoding(chunk)
            out.append(f"{encoding:03b}")
            if not part.fixed:
                out.append(f"{len(chunk):0{_length_bits(part.max_length)}b}")
            out.append(_write_string(chunk, encoding))
    return "".join(out)


def compress_digital_link(uri: str) -> str:
    """Return the fully compressed form of the GS1 Digital Link URI ``uri`` on its stem: every AI
    of the path and query, in string order, no optimisations (as the toolkit's
    ``compressGS1DigitalLink`` with ``useOptimisations`` off); the other query parameters are not
    carried. Raise :class:`DigitalLinkError` if ``uri`` is not a valid Digital Link URI."""
    link = parse_digital_link(uri, permit_zero_suppressed_gtin=True)
    pairs = sorted([*link.path, *link.attributes])
    bits: list[str] = []
    for ai, value in pairs:
        entry = lookup_ai(ai)
        assert entry is not None  # parsed
        bits.append("".join(f"{int(d):04b}" for d in ai))
        bits.append(_write_value(entry, value))
    binary = "".join(bits)
    binary += "0" * (-len(binary) % 6)
    segment = "".join(SAFE_BASE64[int(binary[i : i + 6], 2)] for i in range(0, len(binary), 6))
    return f"{link.stem}/{segment}"
