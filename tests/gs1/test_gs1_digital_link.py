"""GS1 Digital Link behaviour: a tamper test per rule, levels, parents, canonical form, round trips."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.errors import MalformedError
from provenance.gs1 import (
    CANONICAL_STEM,
    DigitalLink,
    DigitalLinkError,
    GS1Error,
    compute_check_digit,
    generate_digital_link,
    gtin_link,
    parse_digital_link,
)

GTIN = "09520123456788"  # the GS1 Digital Link standard's example GTIN
BASE = f"https://example.com/01/{GTIN}/10/ABC123/21/S1?17=201225"
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"


def test_the_untampered_base_is_valid() -> None:
    link = parse_digital_link(BASE)
    assert link.element_string() == f"^01{GTIN}10ABC123^21S1^17201225"


# Each URI breaks exactly one rule of the base; the error must name that rule.
TAMPERED = [
    ("uri-characters", f"https://example.com/01/{GTIN}/10/AB C123"),
    ("uri-characters", ""),
    ("uri-scheme", f"ftp://example.com/01/{GTIN}"),
    ("uri-scheme", f"Https://example.com/01/{GTIN}"),
    ("uri-domain", f"https://exa$mple.com/01/{GTIN}"),
    ("uri-domain", f"https:///01/{GTIN}"),
    ("no-primary-key", f"https://example.com/gtin/{GTIN}/10/ABC123"),
    ("no-primary-key", f"https://example.com/01/{GTIN}/10/ABC123/"),
    ("empty-value", f"https://example.com/01/{GTIN}/10/"),
    ("empty-value", f"https://example.com/01/{GTIN}/10/ABC123?17="),
    ("nul-character", f"https://example.com/01/{GTIN}/10/ABC%00123"),
    ("unknown-ai", f"https://example.com/01/{GTIN}/10/ABC123?999=1"),
    ("value-length", f"https://example.com/01/{GTIN}/10/ABCDEFGHIJKLMNOPQRSTU"),
    ("value-length", "https://example.com/01/0952012345678"),
    ("value-length", f"https://example.com/01/{GTIN}/10/ABC123?17=20122"),
    ("character-set", "https://example.com/01/0952012345678A"),
    ("character-set", f"https://example.com/01/{GTIN}/10/ABC%7C123"),
    ("character-set", f"https://example.com/01/{GTIN}/10/ABC123?17=20122A"),
    ("check-digit", "https://example.com/01/09520123456789/10/ABC123"),
    ("check-digit", "https://example.com/414/9520123456789"),
    ("check-digit", "https://example.com/00/952012345678912346"),
    ("check-digit", "https://example.com/8013/1987654Ad4X4bL5ttr2310cXK"),
    ("key-qualifier-order", f"https://example.com/01/{GTIN}/21/S1/10/ABC123"),
    ("key-qualifier-order", f"https://example.com/01/{GTIN}/10/ABC123/99/X"),
    ("duplicate-ai", f"https://example.com/01/{GTIN}/10/ABC123?17=201225&17=201225"),
    ("not-data-attribute", f"https://example.com/01/{GTIN}/10/ABC123?8200=abc"),
    ("belongs-in-path", f"https://example.com/01/{GTIN}?10=ABC123"),
    ("company-prefix", "https://example.com/8004/A123456"),
    ("date", f"https://example.com/01/{GTIN}/10/ABC123?17=201325"),
    ("date", f"https://example.com/01/{GTIN}/10/ABC123?17=210229"),
    ("time", f"https://example.com/01/{GTIN}?8008=20122525"),
    ("piece-of-total", "https://example.com/8006/095201234567880302"),
    ("zero-prefix", "https://example.com/8010/0200/8011/0123"),
    ("exclusive-ai", f"https://example.com/01/{GTIN}?3103=000195&3102=000100"),
    ("requisite-ai", "https://example.com/00/952012345678912345?10=ABC123"),
    ("digital-signature", "https://example.com/253/1231231231232?8030=AAAA"),
]


@pytest.mark.parametrize(("rule", "uri"), TAMPERED, ids=[f"{r}:{u}" for r, u in TAMPERED])
def test_each_rule_is_enforced(rule: str, uri: str) -> None:
    with pytest.raises(DigitalLinkError) as raised:
        parse_digital_link(uri)
    assert raised.value.rule == rule
    assert str(raised.value).startswith(f"{rule}: ")


def test_every_rule_has_a_tamper_test() -> None:
    rules = {
        "uri-characters", "uri-scheme", "uri-domain", "no-primary-key", "empty-value",
        "nul-character", "unknown-ai", "value-length", "character-set", "check-digit",
        "key-qualifier-order", "duplicate-ai", "not-data-attribute", "belongs-in-path",
        "company-prefix", "date", "time", "piece-of-total", "zero-prefix", "exclusive-ai",
        "requisite-ai", "digital-signature",
    }  # fmt: skip
    assert {rule for rule, _ in TAMPERED} == rules


def test_errors_name_the_ai_and_the_values() -> None:
    with pytest.raises(DigitalLinkError) as raised:
        parse_digital_link("https://example.com/01/09520123456789")
    error = raised.value
    assert (error.rule, error.ai) == ("check-digit", "01")
    assert "AI (01)" in str(error)
    assert "expected 8" in str(error)
    assert isinstance(error, GS1Error)
    assert isinstance(error, MalformedError)
    assert error.status == 400
    assert error.code == "malformed-digital-link"
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.rule, copy.ai, str(copy)) == (
        type(error),
        error.rule,
        "01",
        str(error),
    )


def test_requisites_can_be_skipped() -> None:
    uri = "https://example.com/00/952012345678912345?10=ABC123"
    assert parse_digital_link(uri, validate_requisites=False).lot == "ABC123"


# --- What a link identifies -------------------------------------------------------------------


def test_levels_and_parents() -> None:
    serial = parse_digital_link(f"https://example.com/01/{GTIN}/10/L1/21/S1?17=201225&linkType=all")
    assert (serial.gtin, serial.lot, serial.serial, serial.level) == (GTIN, "L1", "S1", "serial")
    lot = serial.parent()
    assert lot == DigitalLink(("01", GTIN), (("10", "L1"),), stem="https://example.com")
    assert lot.level == "lot"
    assert lot.serial is None
    gtin = lot.parent()
    assert gtin is not None
    assert gtin.level == "gtin"
    assert gtin.lot is None
    assert gtin.parent() is None
    assert gtin.canonical() == f"https://id.gs1.org/01/{GTIN}"


def test_serial_without_lot_has_the_gtin_as_parent() -> None:
    link = parse_digital_link(f"https://id.gs1.org/01/{GTIN}/21/S1")
    assert link.level == "serial"
    assert link.parent() == DigitalLink(("01", GTIN))


@pytest.mark.parametrize(
    ("uri", "level"),
    [
        ("https://id.gs1.org/414/9520123456788", "gln"),
        ("https://id.gs1.org/414/9520123456788/254/32a%2Fb", "glnx"),
        ("https://id.gs1.org/00/952012345678912345", "sscc"),
        (f"https://id.gs1.org/01/{GTIN}/22/2A", "cpv"),
        (f"https://id.gs1.org/01/{GTIN}/235/XYZ", "tpx"),
        ("https://id.gs1.org/8004/9520614141234567", "giai"),
    ],
)
def test_levels_of_other_keys(uri: str, level: str) -> None:
    link = parse_digital_link(uri)
    assert link.level == level
    assert link.gtin is None or link.primary_key[0] == "01"


def test_lot_as_an_attribute_of_a_logistic_unit() -> None:
    link = parse_digital_link(f"https://id.gs1.org/00/952012345678912345?02={GTIN}&37=25&10=ABC")
    assert link.lot == "ABC"
    assert link.level == "sscc"
    assert link.gtin is None


def test_stem_and_other_query() -> None:
    link = parse_digital_link(
        f"HTTPS://brand.example.com/some/prefix/01/{GTIN}?linkType=gs1%3Apip&q=a+b&flag#frag"
    )
    assert link.stem == "HTTPS://brand.example.com/some/prefix"
    assert link.other_query == (("linkType", "gs1:pip"), ("q", "a b"), ("flag", ""))
    assert str(link) == f"HTTPS://brand.example.com/some/prefix/01/{GTIN}"


# --- Canonical form -----------------------------------------------------------------------------


def test_canonical_form() -> None:
    link = parse_digital_link(
        "https://brand.example.com/01/9520123456788/22/A%2fB/10/a+b%25?99=x%2fy%2Bz&17=201225&linkType=all",
        permit_zero_suppressed_gtin=True,
    )
    assert link.primary_key == ("01", GTIN)
    assert link.qualifiers == (("22", "A/B"), ("10", "a+b%"))
    assert link.attributes == (("99", "x/y+z"), ("17", "201225"))
    assert (
        link.canonical()
        == f"{CANONICAL_STEM}/01/{GTIN}/22/A%2FB/10/a%2Bb%25?17=201225&99=x%2Fy%2Bz"
    )
    assert link.canonical("https://example.com/") == link.canonical().replace(
        CANONICAL_STEM, "https://example.com"
    )


@pytest.mark.parametrize("stem", ["ftp://example.com", "https://example.com/?q", "https://"])
def test_bad_stems_are_refused(stem: str) -> None:
    link = DigitalLink(("01", GTIN))
    with pytest.raises(DigitalLinkError):
        link.canonical(stem)
    with pytest.raises(DigitalLinkError):
        generate_digital_link(f"(01){GTIN}", stem)


@pytest.mark.parametrize(
    ("link", "rule"),
    [
        (DigitalLink(("01", "123")), "value-length"),
        (DigitalLink(("01", GTIN), (("21", "S"), ("10", "L"))), "key-qualifier-order"),
        (DigitalLink(("01", GTIN), (("10", ""),)), "empty-value"),
        (DigitalLink(("01", GTIN), (), (("21", "S"),)), "not-data-attribute"),
        (DigitalLink(("10", "L")), "no-primary-key"),
    ],
)
def test_a_link_built_by_hand_is_checked_before_it_is_formatted(
    link: DigitalLink, rule: str
) -> None:
    with pytest.raises(DigitalLinkError) as raised:
        link.canonical()
    assert raised.value.rule == rule


def test_gtin_link() -> None:
    link = gtin_link("9520123456788", lot="L-1/2", serial="S+1")
    assert link.path == (("01", GTIN), ("10", "L-1/2"), ("21", "S+1"))
    assert link.canonical() == f"{CANONICAL_STEM}/01/{GTIN}/10/L-1%2F2/21/S%2B1"
    with pytest.raises(DigitalLinkError) as raised:
        gtin_link(GTIN, lot="L 1")
    assert raised.value.rule == "character-set"
    with pytest.raises(DigitalLinkError) as raised:
        gtin_link("9520123456789")
    assert raised.value.rule == "check-digit"
    with pytest.raises(DigitalLinkError) as raised:
        gtin_link(GTIN, lot="")
    assert raised.value.rule == "empty-value"


# --- Generating -------------------------------------------------------------------------------


def test_generate_from_an_unbracketed_element_string() -> None:
    uri = generate_digital_link(f"^01{GTIN}10ABC^2112345^17180426")
    assert uri == f"{CANONICAL_STEM}/01/{GTIN}/10/ABC/21/12345?17=180426"


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (f"01){GTIN}", "element-string"),
        (f"(01){GTIN}(10)A(10)B", "repeated-ai"),
        ("(01)09520123456789", "check-digit"),
        ("(99)X", "no-primary-key"),
        (f"(01){GTIN}(89)X", "unknown-ai"),
        (f"(01){GTIN}(10)", "empty-value"),
        ("^", "element-string"),
    ],
)
def test_generate_refuses(data: str, rule: str) -> None:
    with pytest.raises(DigitalLinkError) as raised:
        generate_digital_link(data)
    assert raised.value.rule == rule


# --- Round trips ----------------------------------------------------------------------------------

gtins = st.text(alphabet="0123456789", min_size=13, max_size=13).map(
    lambda payload: payload + compute_check_digit(payload)
)
cset82_values = st.text(alphabet=CSET82, min_size=1, max_size=20)


@given(gtins, cset82_values, cset82_values)
def test_canonical_then_parse_round_trips(gtin: str, lot: str, serial: str) -> None:
    link = DigitalLink(("01", gtin), (("10", lot), ("21", serial)))
    assert parse_digital_link(link.canonical()) == link
    assert gtin_link(gtin, lot=lot, serial=serial) == link
    uri = generate_digital_link(link.element_string())
    assert uri == link.canonical()


@given(gtins, cset82_values, st.text(alphabet=CSET82, min_size=1, max_size=90))
def test_attributes_round_trip(gtin: str, lot: str, internal: str) -> None:
    link = DigitalLink(("01", gtin), (("10", lot),), (("99", internal), ("17", "251231")))
    again = parse_digital_link(link.canonical(), permit_zero_suppressed_gtin=True)
    assert again.path == link.path
    assert sorted(again.attributes) == sorted(link.attributes)
