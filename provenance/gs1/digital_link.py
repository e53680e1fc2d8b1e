"""GS1 Digital Link URIs: parsing with full validation, canonical formatting, and generation.

Owns the URI side of GS1 Digital Link 1.2+: where the Digital Link path starts inside a URI (any
scheme-and-domain stem, with any path prefix), the path of primary key and key qualifiers, AI data
attributes and other parameters in the query string, percent-encoding, the canonical form, the
qualifier levels an item has (GTIN, lot, serial; GLN for places, SSCC for logistic units) and the
element string a URI stands for. It follows the GS1 Barcode Syntax Engine
(github.com/gs1/gs1-syntax-engine, ``src/c-lib/dl.c``: ``gs1_parseDLuri``, ``gs1_generateDLuri``),
whose test cases are the project's vectors. It never fetches a URI and never touches storage.

Parsing rules, in the order they are checked (each failure is a :class:`DigitalLinkError` whose
``rule`` is given in brackets):

1. The URI has only URI characters [uri-characters], scheme ``http://`` or ``https://`` in one case
   [uri-scheme], and a non-empty domain without ``_~?#@!$&'()*+,;=%`` [uri-domain].
2. The fragment is dropped; the query starts at the first ``?``.
3. Walking the path back from its end two segments at a time, the Digital Link path starts at the
   first ``/<AI>/<value>`` pair whose AI is a primary key; every pair after it must be a known AI
   [no-primary-key when the walk meets a non-AI first].
4. Each path value is non-empty [empty-value], percent-decoded without NUL [nul-character], a GTIN
   is optionally zero-padded, and its length fits the AI [value-length].
5. Each query parameter whose name is all digits must be a known AI [unknown-ai] with a non-empty
   [empty-value], decodable [nul-character], well-sized [value-length] value (``+`` is a space
   there); other parameters are kept, decoded, in ``other_query``.
6. The path AIs form a valid key-qualifier sequence [key-qualifier-order].
7. Each AI attribute is not a repeat of an earlier AI [duplicate-ai], is a permitted data attribute
   [not-data-attribute], and is not a key qualifier that belongs in the path [belongs-in-path].
8. Each value passes its character set and linters [character-set, check-digit, company-prefix,
   date, time, piece-of-total, zero-prefix, value-length].
9. The AIs may appear together [exclusive-ai, requisite-ai, digital-signature].
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Final
from urllib.parse import unquote_plus

from provenance.gs1.ai import (
    AIEntry,
    ai_from_alpha,
    lookup_ai,
    path_sequences_for,
    validate_path_sequence,
)
from provenance.gs1.check_digit import normalize_gtin
from provenance.gs1.elements import (
    Element,
    check_value_length,
    parse_bracketed,
    parse_element_string,
    render_element_string,
    validate_associations,
    validate_value,
)
from provenance.gs1.errors import DigitalLinkError, GS1Error

__all__ = [
    "CANONICAL_STEM",
    "DigitalLink",
    "DigitalLinkError",
    "generate_digital_link",
    "gtin_link",
    "parse_digital_link",
    "validate_path_sequence",
]

CANONICAL_STEM: Final = "https://id.gs1.org"

# Characters that may appear anywhere in a URI, and those of them that may not be in a domain (dl.c).
_URI_CHARACTERS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)
_BAD_DOMAIN_CHARACTERS: Final = frozenset("_~?#@!$&'()*+,;=%")
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SCHEMES: Final = ("https://", "HTTPS://", "http://", "HTTP://")
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_ZERO_SUPPRESSED_GTIN_LENGTHS: Final = (8, 12, 13)

# The name of the level a URI identifies: its last path AI (convenience-alpha names of DL 1.0).
_LEVEL_NAMES: Final = {
    "00": "sscc", "01": "gtin", "253": "gdti", "255": "gcn", "401": "ginc", "402": "gsin",
    "414": "gln", "415": "gln-pay-to", "417": "party", "8003": "grai", "8004": "giai",
    "8006": "itip", "8010": "cpid", "8013": "gmn", "8017": "gsrnp", "8018": "gsrn",
    "22": "cpv", "10": "lot", "21": "serial", "235": "tpx", "254": "glnx", "7040": "uic-ext",
    "8011": "cpsn", "8019": "srin", "8020": "refno",
}  # fmt: skip


# --- Percent-encoding (dl.c, URIescape / URIunescape) ------------------------------------------


def _unescape(text: str, *, query: bool, ai: str) -> str:
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%" and i + 2 < len(text) and text[i + 1] in _HEX and text[i + 2] in _HEX:
            byte = int(text[i + 1 : i + 3], 16)
            if byte == 0:
                raise DigitalLinkError("nul-character", "decodes to a NUL character", ai=ai)
            out.append(byte)
            i += 3
            continue
        out += b" " if query and char == "+" else char.encode("ascii")
        i += 1
    # Values are checked against GS1 character sets later; latin-1 keeps one character per byte.
    return out.decode("latin-1")


def _escape(value: str, *, query: bool) -> str:
    out = []
    for byte in value.encode("utf-8"):
        char = chr(byte)
        if char in _UNRESERVED:
            out.append(char)
        elif query and char == " ":
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


# --- The parsed URI -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigitalLink:
    """A parsed GS1 Digital Link URI: what it identifies, and the extra data it carries.

    ``primary_key`` and ``qualifiers`` are the path's ``(AI, value)`` pairs in order; ``attributes``
    are the query's AI pairs in the order given; ``other_query`` holds the other query parameters,
    percent-decoded (``("linkType", "gs1:pip")``; a parameter without ``=`` has value ``""``). Values
    are decoded and a GTIN is always 14 digits. ``stem`` is what came before the Digital Link path.
    """

    primary_key: tuple[str, str]
    qualifiers: tuple[tuple[str, str], ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    other_query: tuple[tuple[str, str], ...] = ()
    stem: str = CANONICAL_STEM

    @property
    def path(self) -> tuple[tuple[str, str], ...]:
        """The primary key and the qualifiers, in path order."""
        return (self.primary_key, *self.qualifiers)

    def _value(self, ai: str) -> str | None:
        return next((value for a, value in (*self.path, *self.attributes) if a == ai), None)

    @property
    def gtin(self) -> str | None:
        """The GTIN-14 when the primary key is a GTIN (AI 01), else ``None``."""
        return self.primary_key[1] if self.primary_key[0] == "01" else None

    @property
    def lot(self) -> str | None:
        """The batch/lot (AI 10), from the path or else the query, or ``None``."""
        return self._value("10")

    @property
    def serial(self) -> str | None:
        """The serial number (AI 21), or ``None``."""
        return self._value("21")

    @property
    def level(self) -> str:
        """The level identified: the name of the last path AI (``gtin``, ``lot``, ``serial``,
        ``cpv``, ``tpx``; ``sscc``, ``gln``, ``glnx``, ``party``, ``giai``, ...)."""
        ai = self.path[-1][0]
        return _LEVEL_NAMES.get(ai, ai)

    def parent(self) -> DigitalLink | None:
        """Return the link one qualifier level up (serial -> lot -> GTIN), with no query data; or
        ``None`` at the primary key. Every prefix of a valid path is itself a valid path."""
        if not self.qualifiers:
            return None
        return replace(self, qualifiers=self.qualifiers[:-1], attributes=(), other_query=())

    def elements(self) -> list[Element]:
        """The AI elements of the link: the path, then the AI attributes in query order."""
        return [Element(_entry(ai), value) for ai, value in (*self.path, *self.attributes)]

    def element_string(self) -> str:
        """Return the GS1 element string the link stands for, ``^`` standing for FNC1: path AIs in
        order, then the query's AIs in the order given; non-AI parameters are left out."""
        return render_element_string(self.elements())

    def canonical(self, stem: str = CANONICAL_STEM) -> str:
        """Return the link's URI under ``stem``: numeric AIs, 14-digit GTIN, qualifiers in path
        order, values percent-encoded (all but ``A-Za-z0-9-._~``), then the AI attributes
        (fixed-length AIs first, each group in query order, as the GS1 Syntax Engine generates them).
        Non-AI parameters such as ``linkType`` are left out: they do not identify anything.

        The result is parsed back before it is returned, so a link built by hand with invalid parts
        raises :class:`DigitalLinkError` instead of yielding an invalid URI (unknown AIs and missing
        requisite AIs are let through, since a parse may have been asked to permit them)."""
        with _as_digital_link_error():
            uri = _format(_check_stem(stem), self.path, self.elements()[len(self.path) :])
        parse_digital_link(
            uri,
            permit_unknown_ais=True,
            permit_unknown_ai_attributes=True,
            validate_requisites=False,
        )
        return uri

    def __str__(self) -> str:
        return self.canonical(self.stem)


def _entry(ai: str) -> AIEntry:
    entry = lookup_ai(ai, permit_unknown=True)
    if entry is None:
        raise DigitalLinkError("unknown-ai", "is not an Application Identifier", ai=ai)
    return entry


@contextmanager
def _as_digital_link_error() -> Iterator[None]:
    # Value and pairing rules live in .elements and raise GS1Error; inside a URI they are URI errors.
    try:
        yield
    except DigitalLinkError:
        raise
    except GS1Error as e:
        raise DigitalLinkError(e.rule, e.detail, ai=e.ai) from e


def _format(stem: str, path: Sequence[tuple[str, str]], attributes: Sequence[Element]) -> str:
    out = [stem.removesuffix("/")]
    for ai, value in path:
        out.append(f"/{ai}/{_escape(value, query=False)}")
    fixed = [e for e in attributes if not e.entry.fnc1_required]
    variable = [e for e in attributes if e.entry.fnc1_required]
    query = [f"{e.ai}={_escape(e.value, query=True)}" for e in (*fixed, *variable)]
    return "".join(out) + ("?" + "&".join(query) if query else "")


def _split_uri(uri: str) -> tuple[str, str]:
    """Return (scheme and domain, the rest) of ``uri`` after checking its characters and domain."""
    if not uri:
        raise DigitalLinkError("uri-characters", "the URI is empty")
    bad = next((c for c in uri if c not in _URI_CHARACTERS), None)
    if bad is not None:
        raise DigitalLinkError("uri-characters", f"the URI contains {bad!r}, not a URI character")
    scheme = next((s for s in _SCHEMES if uri.startswith(s)), None)
    if scheme is None:
        raise DigitalLinkError("uri-scheme", "the scheme must be http:// or https:// in one case")
    rest = uri[len(scheme) :]
    slash = rest.find("/")
    if slash < 1:
        raise DigitalLinkError("uri-domain", "the URI has no domain followed by a path")
    domain = rest[:slash]
    bad = next((c for c in domain if c in _BAD_DOMAIN_CHARACTERS), None)
    if bad is not None:
        raise DigitalLinkError("uri-domain", f"the domain contains {bad!r}")
    return scheme + domain, rest[slash:]


def _check_stem(stem: str) -> str:
    _, path = _split_uri(stem.removesuffix("/") + "/")
    if "?" in path or "#" in path:
        raise DigitalLinkError("uri-stem", f"the stem {stem!r} has a query or a fragment")
    return stem


# --- Parsing --------------------------------------------------------------------------------------


def _path_entry(segment: str, *, alphas: bool, unknown: bool) -> AIEntry | None:
    if alphas and 3 <= len(segment) <= 5 and not segment[0].isdigit():
        ai = ai_from_alpha(segment)
        if ai is not None:
            return lookup_ai(ai)
    return lookup_ai(segment, permit_unknown=unknown)


def _pad_gtin(entry: AIEntry, value: str, *, permit: bool) -> str:
    if permit and entry.ai == "01" and len(value) in _ZERO_SUPPRESSED_GTIN_LENGTHS:
        return value.zfill(14)
    return value


def parse_digital_link(
    uri: str,
    *,
    permit_convenience_alphas: bool = False,
    permit_zero_suppressed_gtin: bool = False,
    permit_unknown_ais: bool = False,
    permit_unknown_ai_attributes: bool = False,
    validate_requisites: bool = True,
) -> DigitalLink:
    """Parse and fully validate the GS1 Digital Link URI ``uri``; raise :class:`DigitalLinkError`
    naming the first rule it breaks (the rules are listed in this module's docstring).

    Options (all off by default, as in the GS1 Syntax Engine): ``permit_convenience_alphas`` accepts
    the deprecated path names (``/gtin/...``); ``permit_zero_suppressed_gtin`` pads a GTIN-8/12/13
    to 14 digits; ``permit_unknown_ais`` accepts AIs missing from the table, which may only be query
    attributes with ``permit_unknown_ai_attributes``; ``validate_requisites=False`` skips the
    ``req`` pairings of the syntax dictionary (part of rule 9).
    """
    with _as_digital_link_error():
        return _parse(
            uri,
            alphas=permit_convenience_alphas,
            pad_gtin=permit_zero_suppressed_gtin,
            unknown=permit_unknown_ais,
            unknown_attributes=permit_unknown_ai_attributes,
            requisites=validate_requisites,
        )


def _parse(
    uri: str, *, alphas: bool, pad_gtin: bool, unknown: bool, unknown_attributes: bool,
    requisites: bool,
) -> DigitalLink:  # fmt: skip
    # Rules 1-2.
    origin, rest = _split_uri(uri)
    rest = rest.split("#", 1)[0]
    path_info, _, query = rest.partition("?")

    # Rule 3: walk back over /AI/value pairs to the rightmost pair whose AI is a primary key.
    segments = path_info.split("/")  # segments[0] is "" (path_info starts with "/")
    start = None
    value_index = len(segments) - 1
    while value_index - 1 >= 1:
        entry = _path_entry(segments[value_index - 1], alphas=alphas, unknown=unknown)
        if entry is None:
            break
        if validate_path_sequence([entry.ai]):
            start = value_index - 1
            break
        value_index -= 2
    if start is None:
        raise DigitalLinkError("no-primary-key", f"no /<primary key>/<value> in path {path_info!r}")

    # Rule 4.
    path: list[Element] = []
    for index in range(start, len(segments), 2):
        entry = _path_entry(segments[index], alphas=alphas, unknown=unknown)
        assert entry is not None  # every pair after the key was recognised by the walk
        raw = segments[index + 1]
        if not raw:
            raise DigitalLinkError("empty-value", "has an empty path value", ai=entry.ai)
        value = _pad_gtin(entry, _unescape(raw, query=False, ai=entry.ai), permit=pad_gtin)
        check_value_length(entry, value)
        path.append(Element(entry, value))

    # Rule 5.
    attributes: list[Element] = []
    other: list[tuple[str, str]] = []
    for param in query.split("&"):
        if not param:
            continue
        name, equals, raw = param.partition("=")
        if not equals or not (name.isascii() and name.isdigit()):
            other.append((unquote_plus(name), unquote_plus(raw)))
            continue
        entry = lookup_ai(name, permit_unknown=unknown)
        if entry is None:
            raise DigitalLinkError("unknown-ai", "is not a known AI (query parameter)", ai=name)
        if not raw:
            raise DigitalLinkError("empty-value", "has an empty query value", ai=name)
        value = _pad_gtin(entry, _unescape(raw, query=True, ai=name), permit=pad_gtin)
        check_value_length(entry, value)
        attributes.append(Element(entry, value))

    # Rule 6.
    path_ais = [e.ai for e in path]
    if not validate_path_sequence(path_ais):
        raise DigitalLinkError(
            "key-qualifier-order",
            f"path AIs {'/'.join(path_ais)} are not a valid key-qualifier path",
        )

    # Rule 7.
    seen = set(path_ais)
    for element in attributes:
        if element.ai in seen:
            raise DigitalLinkError("duplicate-ai", "appears more than once", ai=element.ai)
        seen.add(element.ai)
        permitted = element.entry.dl_data_attribute or (
            element.entry.unknown and unknown_attributes
        )
        if not permitted:
            raise DigitalLinkError(
                "not-data-attribute",
                "is not a permitted Digital Link data attribute",
                ai=element.ai,
            )
        for j in range(1, len(path_ais) + 1):
            if validate_path_sequence([*path_ais[:j], element.ai, *path_ais[j:]]):
                raise DigitalLinkError(
                    "belongs-in-path", "is a key qualifier: it belongs in the path", ai=element.ai
                )

    # Rules 8-9.
    for element in (*path, *attributes):
        validate_value(element.entry, element.value)
    validate_associations([*path, *attributes], requisites=requisites)

    stem = origin + "/".join(segments[:start])
    return DigitalLink(
        primary_key=(path[0].ai, path[0].value),
        qualifiers=tuple((e.ai, e.value) for e in path[1:]),
        attributes=tuple((e.ai, e.value) for e in attributes),
        other_query=tuple(other),
        stem=stem,
    )


# --- Generating -----------------------------------------------------------------------------------


def generate_digital_link(
    element_string: str,
    stem: str | None = None,
    *,
    permit_unknown_ais: bool = False,
    permit_unknown_ai_attributes: bool = False,
    validate_requisites: bool = True,
) -> str:
    """Return the GS1 Digital Link URI for ``element_string`` (bracketed ``(01)...(10)...`` or
    unbracketed ``^01...``) under ``stem`` (``None``: ``https://id.gs1.org``), as the GS1 Syntax
    Engine generates it; raise :class:`DigitalLinkError` when the data cannot make one.

    The first AI that is a primary key becomes the path; the qualifier path with the most AIs present
    (first in the engine's order on a tie) orders the qualifiers; every other AI must be a permitted
    data attribute and goes to the query, fixed-length AIs first, repeats dropped.
    """
    with _as_digital_link_error():
        stem = _check_stem(CANONICAL_STEM if stem is None else stem)
        parse = parse_bracketed if element_string.startswith("(") else parse_element_string
        elements = parse(element_string, permit_unknown_ais=permit_unknown_ais)
        for element in elements:
            validate_value(element.entry, element.value)
        validate_associations(elements, requisites=validate_requisites)

        key = next((e for e in elements if validate_path_sequence([e.ai])), None)
        if key is None:
            raise DigitalLinkError("no-primary-key", "no AI in the data is a primary key")
        best: tuple[str, ...] = (key.ai,)
        most = 0
        for sequence in path_sequences_for(key.ai):
            present = sum(1 for q in sequence[1:] for e in elements if e.ai == q)
            if present > most:
                best, most = sequence, present
        path = [
            (e.ai, e.value)
            for ai in best
            for e in [next((e for e in elements if e.ai == ai), None)]
            if e is not None
        ]
        attributes: list[Element] = []
        for element in elements:
            if element.ai in best or any(a.ai == element.ai for a in attributes):
                continue
            permitted = element.entry.dl_data_attribute or (
                element.entry.unknown and permit_unknown_ai_attributes
            )
            if not permitted:
                raise DigitalLinkError(
                    "not-data-attribute",
                    "is not a permitted Digital Link data attribute",
                    ai=element.ai,
                )
            attributes.append(element)
        return _format(stem, path, attributes)


def gtin_link(
    gtin: str, *, cpv: str | None = None, lot: str | None = None, serial: str | None = None
) -> DigitalLink:
    """Return the validated Digital Link of a trade item: ``gtin`` (GTIN-8/12/13/14, normalised to
    14 digits) with an optional consumer product variant, lot and serial; raise
    :class:`DigitalLinkError` if any part breaks a rule."""
    with _as_digital_link_error():
        path = [("01", normalize_gtin(gtin))]
    path += [(ai, v) for ai, v in (("22", cpv), ("10", lot), ("21", serial)) if v is not None]
    for ai, value in path[1:]:
        if not value:
            raise DigitalLinkError("empty-value", "has an empty value", ai=ai)
    return parse_digital_link(_format(CANONICAL_STEM, path, []))
