"""EPC URIs in GS1 Digital Link form, so that EPCIS events and the ledger's statements share item keys.

EPCIS 2.0 names things either with EPC URNs (GS1 Tag Data Standard, e.g.
``urn:epc:id:sgtin:0614141.107346.2017``) or with GS1 Digital Link URIs
(``https://id.gs1.org/01/10614141073464/21/2017``). The ledger's statements use Digital Link, so this
module converts the URN schemes that name products, lots, places, parties and logistic units:

=========================================  ===================================================
``urn:epc:id:sgtin:CP.IR.serial``          ``https://id.gs1.org/01/<GTIN-14>/21/<serial>``
``urn:epc:class:lgtin:CP.IR.lot``          ``https://id.gs1.org/01/<GTIN-14>/10/<lot>``
``urn:epc:idpat:sgtin:CP.IR.*``            ``https://id.gs1.org/01/<GTIN-14>``
``urn:epc:id:sgln:CP.LR.ext``              ``https://id.gs1.org/414/<GLN>[/254/<ext>]`` (``0``: none)
``urn:epc:id:pgln:CP.PR``                  ``https://id.gs1.org/417/<GLN>``
``urn:epc:id:sscc:CP.SR``                  ``https://id.gs1.org/00/<SSCC-18>``
=========================================  ===================================================

The check digit is computed (GS1 General Specifications 7.9.1). Serials, lots and extensions are
decoded from the URN's percent-escapes and re-encoded for a URI path segment (everything outside
RFC 3986's unreserved characters is percent-encoded). Digital Link URIs are returned unchanged:
canonicalising custom domains and short names belongs to the GS1 Digital Link module, not here.
This module does no I/O.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from provenance.epcis.errors import EPCIdentifierError

DIGITAL_LINK_ROOT = "https://id.gs1.org"

# One character of a TDS "GS3A3" component (serial, lot, extension): the characters that may stand
# unescaped in an EPC URN, or a percent-escape.
_GS3A3 = r"(?:[A-Za-z0-9!'()*+,\-.:;=_]|%[0-9A-Fa-f]{2})"
# GS1 AI encodable character set 82, which every decoded serial, lot and extension must keep to.
_CSET82 = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+")

_URN = re.compile(
    rf"urn:epc:(?P<kind>id:sgtin|class:lgtin|idpat:sgtin|id:sgln|id:pgln|id:sscc):"
    rf"(?P<cp>\d+)\.(?P<ref>\d*)(?:\.(?P<rest>{_GS3A3}+|\*))?"
)

# (digits of company prefix + reference, whether the third component is present) per scheme.
_SHAPES: dict[str, tuple[int, bool]] = {
    "id:sgtin": (13, True),
    "class:lgtin": (13, True),
    "idpat:sgtin": (13, True),
    "id:sgln": (12, True),
    "id:pgln": (12, False),
    "id:sscc": (17, False),
}


def gs1_check_digit(digits: str) -> str:
    """Return the GS1 mod-10 check digit of ``digits``, a GS1 key (ASCII digits) without one."""
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"a GS1 key is ASCII digits, got {digits!r}")
    # Weights alternate 3, 1, 3, ... starting from the rightmost digit.
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str(-total % 10)


def epc_to_digital_link(uri: str) -> str:
    """Return the Digital Link URI of an SGTIN, LGTIN, SGTIN pattern, SGLN, PGLN or SSCC URN.

    Raises EPCIdentifierError for any other URI and for a malformed URN of those schemes.
    """
    m = _URN.fullmatch(uri)
    if m is None:
        raise EPCIdentifierError(uri, "not an SGTIN, LGTIN, SGTIN pattern, SGLN, PGLN or SSCC URN")
    kind, cp, ref, rest = m["kind"], m["cp"], m["ref"], m["rest"] or ""
    total, has_rest = _SHAPES[kind]
    if not 6 <= len(cp) <= 12:
        raise EPCIdentifierError(uri, f"company prefix has {len(cp)} digits, not 6 to 12")
    if len(cp) + len(ref) != total:
        raise EPCIdentifierError(
            uri, f"company prefix and reference have {len(cp) + len(ref)} digits, not {total}"
        )
    if has_rest != bool(rest):
        raise EPCIdentifierError(uri, "wrong number of components")
    if (rest == "*") != (kind == "idpat:sgtin"):
        raise EPCIdentifierError(uri, "'*' is only a pattern's last component")

    if kind in ("id:sgtin", "class:lgtin", "idpat:sgtin"):
        # The item reference's first digit is the GTIN's indicator digit.
        body = ref[:1] + cp + ref[1:]
        gtin = body + gs1_check_digit(body)
        if kind == "idpat:sgtin":
            return f"{DIGITAL_LINK_ROOT}/01/{gtin}"
        qualifier = "21" if kind == "id:sgtin" else "10"
        return f"{DIGITAL_LINK_ROOT}/01/{gtin}/{qualifier}/{_component(uri, rest)}"
    if kind == "id:sscc":
        # The serial reference's first digit is the SSCC's extension digit.
        body = ref[:1] + cp + ref[1:]
        return f"{DIGITAL_LINK_ROOT}/00/{body}{gs1_check_digit(body)}"
    gln = cp + ref + gs1_check_digit(cp + ref)
    if kind == "id:pgln":
        return f"{DIGITAL_LINK_ROOT}/417/{gln}"
    if rest == "0":
        return f"{DIGITAL_LINK_ROOT}/414/{gln}"
    return f"{DIGITAL_LINK_ROOT}/414/{gln}/254/{_component(uri, rest)}"


def item_key(identifier: str) -> str:
    """Return the key under which the ledger indexes an identifier.

    That is its Digital Link form when it is a URN that has one, else the identifier unchanged.
    """
    if identifier.startswith("urn:epc:"):
        try:
            return epc_to_digital_link(identifier)
        except EPCIdentifierError:
            return identifier
    return identifier


def _component(uri: str, escaped: str) -> str:
    """Decode a URN component (serial, lot, extension) and encode it for a Digital Link path segment."""
    try:
        value = unquote(escaped, errors="strict")
    except UnicodeDecodeError as e:
        raise EPCIdentifierError(uri, "a percent-escape does not decode to UTF-8") from e
    if len(value) > 20 or _CSET82.fullmatch(value) is None:
        raise EPCIdentifierError(
            uri, f"{value!r} is not 1 to 20 characters of GS1 character set 82"
        )
    return quote(value, safe="")
