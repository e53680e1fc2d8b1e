"""The Application Identifier table: facts from the GS1 Barcode Syntax Dictionary, lookups, paths."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from provenance.gs1.ai import (
    AI_TABLE,
    ai_from_alpha,
    lookup_ai,
    lookup_ai_prefix,
    path_sequences_for,
    valid_path_sequences,
    validate_path_sequence,
)

VECTORS = Path(__file__).parents[1] / "vectors" / "digital-link"


def test_the_table_is_complete_enough() -> None:
    assert len(AI_TABLE) == 536
    # Every AI named in the parse and generate vectors is in the table, except the deliberately
    # unknown (89) and (999).
    names = ("parse-dl-uri.json", "generate-dl-uri.json", "valid-path-ai-sequences.json")
    text = "".join((VECTORS / name).read_text(encoding="utf-8") for name in names)
    named = set(re.findall(r"\((\d{2,4})\)", text)) | set(re.findall(r"[/?&](\d{2,4})[/=]", text))
    named |= set(re.findall(r'"(\d{2,4})"', text))
    assert named - set(AI_TABLE) == {"89", "999"}
    assert {"01", "22", "10", "21", "235", "414", "254", "00", "253", "255", "401", "402"} <= named


def test_gtin() -> None:
    gtin = AI_TABLE["01"]
    assert (gtin.title, gtin.min_length, gtin.max_length, gtin.charsets) == ("GTIN", 14, 14, ("N",))
    assert gtin.fixed_length
    assert not gtin.fnc1_required
    assert gtin.has_check_digit
    assert gtin.is_primary_key
    assert gtin.identification_key
    assert gtin.dl_qualifier_paths == (("22", "10", "21"), ("235",))
    assert gtin.dl_data_attribute


def test_lot_serial_and_attributes() -> None:
    lot, serial = AI_TABLE["10"], AI_TABLE["21"]
    assert (lot.min_length, lot.max_length, lot.charsets, lot.fnc1_required) == (
        1,
        20,
        ("X",),
        True,
    )
    assert lot.dl_data_attribute
    assert not lot.is_primary_key
    assert not lot.has_check_digit
    assert not serial.dl_data_attribute  # a serial only ever belongs in the path
    assert lot.requisites == ((("01",), ("02",), ("03",), ("8006",), ("8026",)),)
    assert AI_TABLE["3103"].fixed_length
    assert not AI_TABLE["3103"].fnc1_required
    assert AI_TABLE["3103"].exclusions == ("310n",)
    assert not AI_TABLE["8200"].dl_data_attribute
    assert AI_TABLE["8010"].charsets == ("Y",)
    assert AI_TABLE["8030"].charsets == ("Z",)
    assert AI_TABLE["17"].components[0].linters == ("yymmd0",)


def test_places_and_logistic_units() -> None:
    assert AI_TABLE["414"].dl_qualifier_paths == (("254",), ("7040",))
    assert AI_TABLE["414"].max_length == 13
    assert AI_TABLE["414"].has_check_digit
    assert AI_TABLE["00"].dl_qualifier_paths == ((),)
    assert AI_TABLE["00"].max_length == 18
    assert AI_TABLE["253"].min_length == 13
    assert AI_TABLE["253"].max_length == 30


def test_lookup_ai() -> None:
    assert lookup_ai("01") is AI_TABLE["01"]
    assert lookup_ai("1") is None
    assert lookup_ai("01234") is None
    assert lookup_ai("ab") is None
    assert lookup_ai("89") is None
    unknown = lookup_ai("89", permit_unknown=True)
    assert unknown is not None
    assert unknown.unknown
    assert unknown.fnc1_required
    assert not unknown.dl_data_attribute
    # An unknown AI may not clash with a known one, nor break its prefix's AI length.
    assert lookup_ai("011", permit_unknown=True) is None
    assert lookup_ai("800", permit_unknown=True) is None
    assert lookup_ai("999", permit_unknown=True) is None
    fixed = lookup_ai("3999", permit_unknown=True)
    assert fixed is not None
    assert fixed.unknown
    assert fixed.fnc1_required
    assert lookup_ai_prefix("0109520123456788") is AI_TABLE["01"]
    assert lookup_ai_prefix("8004ABC") is AI_TABLE["8004"]


def test_convenience_alphas() -> None:
    assert (ai_from_alpha("gtin"), ai_from_alpha("ser"), ai_from_alpha("sscc")) == (
        "01",
        "21",
        "00",
    )
    assert ai_from_alpha("zzz") is None


def test_path_sequences_match_the_vectors() -> None:
    listed = json.loads((VECTORS / "valid-path-ai-sequences.json").read_text())["valid_sequences"]
    derived = valid_path_sequences()
    assert {tuple(s) for s in listed} <= derived
    # The dictionary also makes (415) PAY TO a key qualified by (8020), which the vectors predate.
    assert derived - {tuple(s) for s in listed} == {("415",), ("415", "8020")}


@pytest.mark.parametrize(
    "sequence",
    [
        ["01", "21", "10"],
        ["01", "10", "22"],
        ["01", "22", "235"],
        ["01", "235", "21"],
        ["414", "254", "7040"],
        ["10"],
        ["21"],
        ["01", "01"],
        [],
        ["01", "10", "10"],
    ],
    ids="/".join,
)
def test_invalid_path_sequences(sequence: list[str]) -> None:
    assert not validate_path_sequence(sequence)


def test_path_sequences_in_engine_order() -> None:
    assert path_sequences_for("01")[:3] == [("01",), ("01", "10"), ("01", "10", "21")]
    assert path_sequences_for("01")[-1] == ("01", "235")
