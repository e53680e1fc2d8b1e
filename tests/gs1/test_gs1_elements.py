"""GS1 element strings: reading both forms, writing with FNC1, and the rules between AIs."""

from __future__ import annotations

import pytest

from provenance.gs1 import GS1Error
from provenance.gs1.ai import AI_TABLE
from provenance.gs1.elements import (
    ENFORCED_LINTERS,
    Element,
    parse_bracketed,
    parse_element_string,
    render_element_string,
    validate_associations,
    validate_value,
)

GTIN = "09520123456788"


def _elements(*pairs: tuple[str, str]) -> list[Element]:
    return [Element(AI_TABLE[ai], value) for ai, value in pairs]


def test_fnc1_follows_only_variable_length_values() -> None:
    elements = _elements(("01", GTIN), ("3103", "000195"), ("3922", "0299"), ("17", "201225"))
    assert render_element_string(elements) == f"^01{GTIN}310300019539220299^17201225"


def test_both_forms_read_the_same() -> None:
    bracketed = parse_bracketed(f"(01){GTIN}(10)AB\\(C(17)201225")
    unbracketed = parse_element_string(f"^01{GTIN}10AB(C^17201225")
    assert bracketed == unbracketed
    assert [(e.ai, e.value) for e in bracketed] == [("01", GTIN), ("10", "AB(C"), ("17", "201225")]


@pytest.mark.parametrize(
    ("ai", "value", "rule"),
    [
        ("01", "0952012345678", "value-length"),
        ("01", "09520123456789", "check-digit"),
        ("10", "ABC|", "character-set"),
        ("8010", "0200a", "character-set"),
        ("8030", "ABC=", "character-set"),
        ("17", "200230", "date"),
        ("8003", "09520123456789X", "check-digit"),
        ("8008", "2012252400", "time"),
    ],
)
def test_value_rules(ai: str, value: str, rule: str) -> None:
    with pytest.raises(GS1Error) as raised:
        validate_value(AI_TABLE[ai], value)
    assert raised.value.rule == rule


@pytest.mark.parametrize(
    ("ai", "value"),
    [("17", "200600"), ("17", "240229"), ("8030", "AB="), ("8003", "095201234567880X")],
)
def test_valid_values(ai: str, value: str) -> None:
    validate_value(AI_TABLE[ai], value)


def test_requisites_may_be_satisfied_by_a_group() -> None:
    # (8030) DIGSIG requires e.g. (01) together with (21): (01) alone is not enough.
    with pytest.raises(GS1Error) as raised:
        validate_associations(_elements(("01", GTIN), ("8030", "AAAA")))
    assert raised.value.rule == "requisite-ai"
    validate_associations(_elements(("01", GTIN), ("21", "S"), ("8030", "AAAA")))


def test_a_repeated_ai_with_the_same_value_is_allowed() -> None:
    validate_associations(_elements(("01", GTIN), ("01", GTIN), ("3103", "1"), ("3103", "1")))


def test_enforced_linters_are_named_in_the_table() -> None:
    named = {linter for e in AI_TABLE.values() for c in e.components for linter in c.linters}
    assert named >= ENFORCED_LINTERS
    assert {"csum", "csumalpha", "gcppos1", "gcppos2", "yymmd0"} <= ENFORCED_LINTERS
