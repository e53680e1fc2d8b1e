"""EPC URNs to GS1 Digital Link: known answers from the GS1 Tag Data Standard, and malformed URNs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.epcis import EPCIdentifierError, epc_to_digital_link, gs1_check_digit, item_key
from provenance.epcis._hash_normaliser import constrained_digital_link
from provenance.errors import MalformedError

# GS1 Tag Data Standard 2.x worked examples (EPC URI ↔ GS1 element string), written as Digital Link.
TDS_EXAMPLES = [
    ("urn:epc:id:sgtin:0614141.812345.6789", "https://id.gs1.org/01/80614141123458/21/6789"),
    ("urn:epc:id:sgtin:0614141.712345.32a%2Fb", "https://id.gs1.org/01/70614141123451/21/32a%2Fb"),
    ("urn:epc:id:sscc:0614141.1234567890", "https://id.gs1.org/00/106141412345678908"),
    ("urn:epc:id:sgln:0614141.12345.400", "https://id.gs1.org/414/0614141123452/254/400"),
    ("urn:epc:id:sgln:0614141.12345.0", "https://id.gs1.org/414/0614141123452"),
    ("urn:epc:class:lgtin:4012345.012345.998877", "https://id.gs1.org/01/04012345123456/10/998877"),
    ("urn:epc:id:pgln:0614141.00001", "https://id.gs1.org/417/0614141000012"),
    ("urn:epc:idpat:sgtin:4012345.066666.*", "https://id.gs1.org/01/04012345666663"),
    # The EPCIS vectors' identifiers.
    ("urn:epc:id:sgtin:0614141.107346.2017", "https://id.gs1.org/01/10614141073464/21/2017"),
    ("urn:epc:id:sgln:0614141.07346.1234", "https://id.gs1.org/414/0614141073467/254/1234"),
    ("urn:epc:id:sgln:4012345.00001.0", "https://id.gs1.org/414/4012345000016"),
    # Company prefixes of every length: 6 and 12 digits.
    ("urn:epc:id:sgtin:061414.1123456.7", "https://id.gs1.org/01/10614141234568/21/7"),
    ("urn:epc:id:sgtin:061414112345.1.7", "https://id.gs1.org/01/10614141123459/21/7"),
    ("urn:epc:id:sgln:061414112345..7", "https://id.gs1.org/414/0614141123452/254/7"),
    # Serial characters that a URI path must escape.
    (
        "urn:epc:id:sgtin:0614141.812345.A!B(1)*+,:;='",
        "https://id.gs1.org/01/80614141123458/21/A%21B%281%29%2A%2B%2C%3A%3B%3D%27",
    ),
    (
        "urn:epc:id:sgtin:0614141.812345.%22%25%26%3C%3E%3F",
        "https://id.gs1.org/01/80614141123458/21/%22%25%26%3C%3E%3F",
    ),
]


@pytest.mark.parametrize(("urn", "digital_link"), TDS_EXAMPLES)
def test_known_answers(urn: str, digital_link: str) -> None:
    assert epc_to_digital_link(urn) == digital_link
    assert item_key(urn) == digital_link


@pytest.mark.parametrize(
    ("digits", "check"),
    [
        ("0950600013435", "2"),  # GTIN 09506000134352
        ("8061414112345", "8"),
        ("061414112345", "2"),  # GLN
        ("10614141234567890", "8"),  # SSCC
        ("629104150021", "3"),  # GTIN-13 6291041500213
        ("0000000", "0"),
    ],
)
def test_check_digits(digits: str, check: str) -> None:
    assert gs1_check_digit(digits) == check


@pytest.mark.parametrize("digits", ["", "12a4", "١٢٣"])
def test_check_digit_needs_ascii_digits(digits: str) -> None:
    with pytest.raises(ValueError, match="ASCII digits"):
        gs1_check_digit(digits)


@given(st.text("0123456789", min_size=1, max_size=17))
def test_a_key_with_its_check_digit_sums_to_a_multiple_of_ten(digits: str) -> None:
    key = digits + gs1_check_digit(digits)
    assert sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(reversed(key))) % 10 == 0


@pytest.mark.parametrize(
    ("urn", "detail"),
    [
        ("urn:epc:id:grai:4012345.55555.987", "not an SGTIN"),
        ("urn:epc:id:sgtin:0614141.81234.6789", "12 digits, not 13"),
        ("urn:epc:id:sgtin:06141.8123456.6789", "5 digits, not 6 to 12"),
        ("urn:epc:id:sgtin:0614141.812345", "wrong number of components"),
        ("urn:epc:id:pgln:0614141.00001.0", "wrong number of components"),
        ("urn:epc:id:sgtin:0614141.812345.*", "only a pattern"),
        ("urn:epc:idpat:sgtin:0614141.812345.1", "only a pattern"),
        ("urn:epc:id:sgtin:0614141.812345.123456789012345678901", "1 to 20 characters"),
        ("urn:epc:id:sgtin:0614141.812345.%FF", "UTF-8"),
        ("urn:epc:id:sgtin:0614141.812345.%C3%A9", "character set 82"),
        ("urn:epc:id:sgtin:0614141.812345.a/b", "not an SGTIN"),
        ("https://id.gs1.org/01/80614141123458/21/6789", "not an SGTIN"),
    ],
)
def test_malformed_urns_are_refused(urn: str, detail: str) -> None:
    with pytest.raises(EPCIdentifierError, match=detail) as caught:
        epc_to_digital_link(urn)
    assert isinstance(caught.value, MalformedError)
    assert caught.value.uri == urn


@pytest.mark.parametrize(
    "identifier",
    [
        "urn:epc:id:grai:4012345.55555.987",
        "urn:epc:id:sgtin:0614141.81234.6789",
        "https://brand.example/01/80614141123458/21/6789",
        "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8",
    ],
)
def test_item_keys_of_other_identifiers_are_the_identifiers(identifier: str) -> None:
    assert item_key(identifier) == identifier


@pytest.mark.parametrize(("urn", "digital_link"), [(u, d) for u, d in TDS_EXAMPLES if "%" not in d])
def test_item_keys_agree_with_the_event_hash_normalisation_where_no_escaping_is_involved(
    urn: str, digital_link: str
) -> None:
    # Two purposes, two modules: the hash follows the reference's escaping, item keys follow TDS.
    # For plain serials both must give the same Digital Link URI.
    assert constrained_digital_link(urn) == digital_link
