"""The identifier normalisation step of the CBV 2.0 event hash (rules 17 and 18 of the algorithm).

Every value that takes part in an event's pre-hash string is offered to :func:`constrained_digital_link`:
an EPC URI, EPC class URI or EPC pattern URI becomes a "constrained canonical" GS1 Digital Link URI
on ``https://id.gs1.org`` holding only the most fine-grained key (no CPV, no lot next to a serial, no
query string), and a Digital Link URI on any domain is brought to that same form. Anything else is
not an identifier and yields ``None``.

The output must equal what the reference implementation (RalphTro/epcis-event-hash-generator,
``dl_normaliser.py``, MIT licence) computes, because that is what other parties compute for the same
event. So this follows it literally, down to its choices that a fresh reading of the GS1 Tag Data
Standard would make differently: only ``! ( ) * + , :`` are percent-encoded, URN escapes such as
``%2F`` are kept as they are, and the components are cut at fixed offsets. It is deliberately not
shared with :mod:`provenance.epcis.identifiers`, whose conversion serves indexing and follows TDS.
This module does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from provenance.epcis.identifiers import gs1_check_digit

_ROOT = "https://id.gs1.org"

# One character of an EPC URN component as the reference accepts it.
_C = (
    r"(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]"
    r"|[!\')(*+,.0-9:;=A-Za-z_-])"
)
# One character of a CPI component.
_C2 = r"(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-])"
# One character of a Digital Link path value as the reference's final syntax check accepts it.
_X = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_X_SLASH = r"[\x2F\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"


def _split(total: int, last: str) -> str:
    """Company prefix of 6 to 12 digits, a dot, and the rest of ``total`` digits (``last`` for 12)."""
    parts = [rf"(\d{{{cp}}}\.\d{{{total - cp}}})" for cp in range(6, 12)]
    return "(" + "|".join([*parts, last]) + ")"


def _split_chars(char: str, total: int) -> str:
    """Company prefix of 6 to 12 digits, a dot, and 1 to ``total - cp`` characters."""
    parts = [rf"(\d{{{cp}}}\.{char}{{1,{total - cp}}})" for cp in range(6, 13)]
    return "(" + "|".join(parts) + ")"


def _percent_encode(value: str) -> str:
    """Percent-encode the characters the reference encodes in Digital Link values, and only those."""
    for char, escape in (("!", "%21"), ("(", "%28"), (")", "%29"), ("*", "%2A"), ("+", "%2B")):
        value = value.replace(char, escape)
    return value.replace(",", "%2C").replace(":", "%3A")


def _key(body: str) -> str:
    return body + gs1_check_digit(body)


def _gtin(cp: str, reference: str) -> str:
    """GTIN-14 from a company prefix and an item reference whose first digit is the indicator."""
    return _key(reference[:1] + cp + reference[1:])


def _parts(uri: str, start: int, length: int) -> tuple[str, str]:
    """Company prefix (from ``start`` to the first dot) and the next ``length - len(cp)`` characters."""
    dot = uri.index(".")
    cp = uri[start:dot]
    return cp, uri[dot + 1 : dot + 1 + length - len(cp)]


def _sgtin(uri: str) -> str:
    cp, ref = _parts(uri, 17, 13)
    return f"{_ROOT}/01/{_gtin(cp, ref)}/21/{_percent_encode(uri[32:])}"


def _sscc(uri: str) -> str:
    dot = uri.index(".")
    return f"{_ROOT}/00/{_key(uri[dot + 1 : dot + 2] + uri[16:dot] + uri[dot + 2 :])}"


def _sgln(uri: str) -> str:
    cp, ref = _parts(uri, 16, 12)
    extension = uri[30:]
    if extension == "0":
        return f"{_ROOT}/414/{_key(cp + ref)}"
    return f"{_ROOT}/414/{_key(cp + ref)}/254/{_percent_encode(extension)}"


def _grai(uri: str) -> str:
    cp, ref = _parts(uri, 16, 12)
    return f"{_ROOT}/8003/{_key('0' + cp + ref)}{_percent_encode(uri[30:])}"


def _giai(uri: str) -> str:
    dot = uri.index(".")
    return f"{_ROOT}/8004/{uri[16:dot]}{_percent_encode(uri[dot + 1 :])}"


def _serial_key(ai: str, start: int) -> Callable[[str], str]:
    """GSRN, GSRN-P, GSIN: company prefix and reference form the key, then a check digit."""

    def convert(uri: str) -> str:
        dot = uri.index(".")
        return f"{_ROOT}/{ai}/{_key(uri[start:dot] + uri[dot + 1 :])}"

    return convert


def _gdti(uri: str) -> str:
    cp, ref = _parts(uri, 16, 12)
    return f"{_ROOT}/253/{_key(cp + ref)}{_percent_encode(uri[30:])}"


def _cpi(uri: str) -> str:
    dot, last = uri.index("."), uri.rfind(".")
    return (
        f"{_ROOT}/8010/{_percent_encode(uri[15:dot] + uri[dot + 1 : last])}/8011/{uri[last + 1 :]}"
    )


def _sgcn(uri: str) -> str:
    cp, ref = _parts(uri, 16, 12)
    return f"{_ROOT}/255/{_key(cp + ref)}{uri[30:]}"


def _ginc(uri: str) -> str:
    dot = uri.index(".")
    return f"{_ROOT}/401/{uri[16:dot]}{_percent_encode(uri[dot + 1 :])}"


def _itip(uri: str) -> str:
    cp, ref = _parts(uri, 16, 13)
    return f"{_ROOT}/8006/{_gtin(cp, ref)}{uri[31:33]}{uri[34:36]}/21/{_percent_encode(uri[37:])}"


def _upui(uri: str) -> str:
    cp, ref = _parts(uri, 16, 13)
    return f"{_ROOT}/01/{_gtin(cp, ref)}/235/{_percent_encode(uri[31:])}"


def _pgln(uri: str) -> str:
    cp, ref = _parts(uri, 16, 12)
    return f"{_ROOT}/417/{_key(cp + ref)}"


def _lgtin(uri: str) -> str:
    cp, ref = _parts(uri, 20, 13)
    return f"{_ROOT}/01/{_gtin(cp, ref)}/10/{_percent_encode(uri[35:])}"


def _pattern_gtin(start: int) -> Callable[[str], str]:
    """SGTIN and UPUI patterns: the GTIN alone."""

    def convert(uri: str) -> str:
        cp, ref = _parts(uri, start, 13)
        return f"{_ROOT}/01/{_gtin(cp, ref)}"

    return convert


def _pattern_grai(uri: str) -> str:
    cp, ref = _parts(uri, 19, 12)
    return f"{_ROOT}/8003/{_key('0' + cp + ref)}"


def _pattern_key(ai: str) -> Callable[[str], str]:
    """GDTI and SGCN patterns: company prefix and reference form the key, then a check digit."""

    def convert(uri: str) -> str:
        cp, ref = _parts(uri, 19, 12)
        return f"{_ROOT}/{ai}/{_key(cp + ref)}"

    return convert


def _pattern_cpi(uri: str) -> str:
    dot, last = uri.index("."), uri.rfind(".")
    return f"{_ROOT}/8010/{_percent_encode(uri[18:dot] + uri[dot + 1 : last])}"


def _pattern_itip(uri: str) -> str:
    cp, ref = _parts(uri, 19, 13)
    return f"{_ROOT}/8006/{_gtin(cp, ref)}{uri[34:36]}{uri[37:39]}"


_DOT12 = r"(\d{12}\.)"
_DOTDOT12 = r"(\d{12}\.\.)"
_ONE12 = r"(\d{12}\.\d{1})"
_FIVE12 = r"(\d{12}\.\d{5})"
_FOUR12 = r"(\d{12}\.\d{4})"

# In the reference's order: the first pattern that matches converts the URI.
_URN_RULES: tuple[tuple[re.Pattern[str], Callable[[str], str]], ...] = tuple(
    (re.compile(pattern), convert)
    for pattern, convert in (
        (rf"^urn:epc:id:sgtin:{_split(13, _ONE12)}\.{_C}{{1,20}}$", _sgtin),
        (rf"^urn:epc:id:sscc:{_split(17, _FIVE12)}$", _sscc),
        (rf"^urn:epc:id:sgln:{_split(12, _DOT12)}\.{_C}{{1,20}}$", _sgln),
        (rf"^urn:epc:id:grai:{_split(12, _DOTDOT12)}\.{_C}{{1,16}}$", _grai),
        (rf"^urn:epc:id:giai:{_split_chars(_C, 30)}$", _giai),
        (rf"^urn:epc:id:gsrn:{_split(17, _FIVE12)}$", _serial_key("8018", 16)),
        (rf"^urn:epc:id:gsrnp:{_split(17, _FIVE12)}$", _serial_key("8017", 17)),
        (rf"^urn:epc:id:gdti:{_split(12, _DOTDOT12)}{_C}{{1,20}}$", _gdti),
        (rf"^urn:epc:id:cpi:{_split_chars(_C2, 30)}\.\d{{1,12}}$", _cpi),
        (rf"^urn:epc:id:sgcn:{_split(12, _DOT12)}\.\d{{1,12}}$", _sgcn),
        (rf"^urn:epc:id:ginc:{_split_chars(_C, 30)}$", _ginc),
        (rf"^urn:epc:id:gsin:{_split(16, _FOUR12)}$", _serial_key("402", 16)),
        (rf"^urn:epc:id:itip:{_split(13, _ONE12)}\.\d{{2}}\.\d{{2}}\.{_C}{{1,20}}$", _itip),
        (rf"^urn:epc:id:upui:{_split(13, _ONE12)}\.{_C}{{1,28}}$", _upui),
        (rf"^urn:epc:id:pgln:{_split(12, _DOT12)}$", _pgln),
        (rf"^urn:epc:class:lgtin:{_split(13, _ONE12)}\.{_C}{{1,20}}$", _lgtin),
        (rf"^urn:epc:idpat:sgtin:{_split(13, _ONE12)}\.\*$", _pattern_gtin(20)),
        (rf"^urn:epc:idpat:grai:{_split(12, _DOTDOT12)}\.\*$", _pattern_grai),
        (rf"^urn:epc:idpat:gdti:{_split(12, _DOTDOT12)}\.\*$", _pattern_key("253")),
        (rf"^urn:epc:idpat:sgcn:{_split(12, _DOTDOT12)}\.\*$", _pattern_key("255")),
        (rf"^urn:epc:idpat:cpi:{_split_chars(_C2, 30)}\.\*$", _pattern_cpi),
        (rf"^urn:epc:idpat:itip:{_split(13, _ONE12)}\.\d{{2}}\.\d{{2}}\.\*$", _pattern_itip),
        (rf"^urn:epc:idpat:upui:{_split(13, _ONE12)}\.\*$", _pattern_gtin(19)),
    )
)

_ANY_DIGITAL_LINK = re.compile(
    r"^https?:(\/\/((([^\/?#]*)@)?([^\/?#:]*)(:([^\/?#]*))?))?((([^?#]*)(\/(01|gtin|8006|itip|8010"
    r"|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti|401|ginc|402|gsin|8003"
    r"|grai|8004|giai)\/)(\d{4}[^\/]+)(\/[^/]+\/[^/]+)?[/]?(\?([^?\n]*))?(#([^\n]*))?)|(\/[A-Za-z_-]"
    r"{10}$))"
)
_CANONICAL_DOMAIN = re.compile(
    r"^https:\/\/id.gs1.org\/(01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)\/(\d{4}"
    r"[^\/]+)(\/[^\/]+\/[^\/]+)?[\/]?(\?([^?\n]*))?(#([^\n]*))?|(\/[A-Za-z_-]{10}$)"
)
_SHORT_NAMES = (
    ("/gtin/", "/01/"),
    ("/itip/", "/8006/"),
    ("/cpid/", "/8010/"),
    ("/gln/", "/414/"),
    ("/party/", "/417/"),
    ("/gsrnp/", "/8017/"),
    ("/gsrn/", "/8018/"),
    ("/gcn/", "/255/"),
    ("/sscc/", "/00/"),
    ("/gdti/", "/253/"),
    ("/ginc/", "/401/"),
    ("/gsin/", "/402/"),
    ("/grai/", "/8003/"),
    ("/giai/", "/8004/"),
    ("/cpv/", "/22/"),
    ("/lot/", "/10/"),
    ("/ser/", "/21/"),
)
# When the domain is not id.gs1.org, the path from the first of these keys is moved onto it.
_PRIMARY_KEYS = (
    "00",
    "01",
    "253",
    "255",
    "401",
    "402",
    "414",
    "417",
    "8003",
    "8004",
    "8006",
    "8010",
    "8017",
    "8018",
)
_GTIN_PADDING = ((r"\d{14}", ""), (r"\d{13}", "0"), (r"\d{12}", "00"), (r"\d{8}", "000000"))
_CPV_ONLY = (
    re.compile(rf"https:\/\/id.gs1.org\/8006\/\d{{18}}\/22\/({_X}{{0,20}})$"),
    re.compile(rf"https:\/\/id.gs1.org\/01\/\d{{14}}\/22\/({_X}{{0,20}})$"),
)
_CPV_THEN_MORE = (
    re.compile(rf"https:\/\/id.gs1.org\/8006\/\d{{18}}\/22\/({_X_SLASH}{{0,20}})$"),
    re.compile(rf"https:\/\/id.gs1.org\/01\/\d{{14}}\/22\/({_X_SLASH}{{0,20}})$"),
)
_LOT_AND_SERIAL = (
    re.compile(rf"https:\/\/id.gs1.org\/8006\/\d{{18}}\/10\/({_X}{{0,20}})\/21\/({_X}{{0,20}})$"),
    re.compile(rf"https:\/\/id.gs1.org\/01\/(\d{{14}})\/10\/({_X}{{0,20}})\/21\/({_X}{{0,20}})$"),
)
_CONSTRAINED = tuple(
    re.compile("https:\\/\\/id.gs1.org\\/" + pattern)
    for pattern in (
        r"00\/(\d{18})$",
        rf"01\/(\d{{14}})\/21\/({_X}{{0,20}})$",
        rf"01\/(\d{{14}})\/10\/({_X}{{0,20}})$",
        r"01\/(\d{14})$",
        rf"01\/(\d{{14}})\/235\/({_X}{{0,28}})$",
        rf"253\/(\d{{13}})({_X}{{0,17}})$",
        r"255\/(\d{13})(\d{0,12})$",
        rf"401\/({_X}{{0,30}})$",
        r"402\/(\d{17})$",
        r"414\/(\d{13})$",
        rf"414\/(\d{{13}})\/254\/({_X}{{0,20}})$",
        r"417\/(\d{13})$",
        rf"8003\/(\d{{14}})({_X}{{0,16}})$",
        rf"8004\/({_X}{{0,30}})$",
        rf"8006\/(\d{{18}})\/21\/({_X}{{0,20}})$",
        rf"8006\/(\d{{18}})\/10\/({_X}{{0,20}})$",
        r"8006\/(\d{18})$",
        r"8010\/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})\/8011/(\d{0,12})$",
        r"8010\/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})$",
        r"8017\/(\d{18})$",
        r"8018\/(\d{18})$",
    )
)


def constrained_digital_link(value: str) -> str | None:
    """Return the constrained canonical Digital Link URI of an EPC URI or a Digital Link URI.

    Returns ``None`` when ``value`` is neither (then the hash uses the value as it is).
    """
    if "." not in value:
        return None
    for pattern, convert in _URN_RULES:
        if pattern.match(value):
            return convert(value)
    if not _ANY_DIGITAL_LINK.match(value):
        return None
    uri = value.split("?", 1)[0]
    for short, ai in _SHORT_NAMES:
        uri = uri.replace(short, ai)
    if not _CANONICAL_DOMAIN.match(uri):
        for key in _PRIMARY_KEYS:
            at = uri.find(f"/{key}/")
            if at != -1:
                uri = _ROOT + uri[at:]
                break
    for digits, padding in _GTIN_PADDING:
        if re.match(rf"^https:\/\/id.gs1.org\/01\/{digits}", uri):
            uri = uri.replace("/01/", "/01/" + padding)
            break
    after_cpv = uri[uri.find("/22/") + 4 :]
    if any(p.match(uri) for p in _CPV_ONLY):
        uri = uri[: uri.find("/22/")] + after_cpv[after_cpv.find("/") : -1]
    if any(p.match(uri) for p in _CPV_THEN_MORE):
        uri = uri[: uri.find("/22/")] + after_cpv[after_cpv.find("/") :]
    if any(p.match(uri) for p in _LOT_AND_SERIAL):
        after_lot = uri[uri.find("/10/") + 4 :]
        uri = uri[: uri.find("/10/")] + after_lot[after_lot.find("/") :]
    if any(p.match(uri) for p in _CONSTRAINED):
        return uri
    return None
