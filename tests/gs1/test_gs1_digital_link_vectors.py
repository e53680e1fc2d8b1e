"""The shared GS1 Digital Link vectors (gs1-syntax-engine dl.c unit tests): every case, exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from provenance.gs1 import (
    DigitalLinkError,
    generate_digital_link,
    parse_digital_link,
    validate_path_sequence,
)

VECTORS = Path(__file__).parents[1] / "vectors" / "digital-link"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


PARSE_CASES: list[dict[str, Any]] = _load("parse-dl-uri.json")["cases"]
GENERATE_CASES: list[dict[str, Any]] = _load("generate-dl-uri.json")["cases"]
PATH_SEQUENCES: list[list[str]] = _load("valid-path-ai-sequences.json")["valid_sequences"]

# The rule each invalid parse case breaks, by case index: checked against the comments of
# test_dl_parseDLuri() in dl.c, so that a case cannot pass by failing for an unrelated reason.
INVALID_PARSE_RULES = {
    0: "uri-characters", 1: "uri-scheme", 2: "uri-domain", 3: "uri-domain", 4: "uri-domain",
    5: "no-primary-key", 6: "no-primary-key", 7: "no-primary-key", 12: "uri-scheme",
    13: "no-primary-key", 23: "uri-domain", 24: "uri-domain", 25: "uri-domain",
    26: "uri-characters", 27: "uri-characters", 28: "uri-characters", 29: "uri-characters",
    30: "uri-characters", 31: "uri-characters", 32: "uri-characters", 36: "no-primary-key",
    40: "no-primary-key", 41: "no-primary-key", 43: "value-length", 45: "value-length",
    47: "value-length", 49: "value-length", 51: "value-length", 57: "value-length",
    59: "no-primary-key", 64: "empty-value", 65: "unknown-ai", 78: "character-set",
    104: "belongs-in-path", 106: "duplicate-ai", 107: "duplicate-ai", 108: "duplicate-ai",
    109: "no-primary-key", 110: "unknown-ai", 111: "not-data-attribute", 113: "no-primary-key",
    114: "nul-character", 115: "nul-character", 116: "empty-value", 117: "key-qualifier-order",
}  # fmt: skip

# The generate cases that fail, and why: (8200) and (235) are not data attributes; (89) is unknown.
INVALID_GENERATE_RULES = {
    5: "no-primary-key", 15: "not-data-attribute", 16: "not-data-attribute",
    17: "not-data-attribute", 18: "not-data-attribute", 20: "not-data-attribute",
}  # fmt: skip


def options(flags: dict[str, str]) -> dict[str, bool]:
    """Map the vectors' gs1_encoder settings onto keyword options (absent = the default)."""
    kwargs: dict[str, bool] = {}
    for name, value in flags.items():
        if name == "permitConvenienceAlphas":
            kwargs["permit_convenience_alphas"] = value == "true"
        elif name == "PermitZeroSuppressedGTINinDLuris":
            kwargs["permit_zero_suppressed_gtin"] = value == "true"
        elif name == "PermitUnknownAIs":
            kwargs["permit_unknown_ais"] = value == "true"
        elif name == "ValidationEnabled":
            validation, enabled = (part.strip() for part in value.split(","))
            assert validation == "gs1_encoder_vUNKNOWN_AI_NOT_DL_ATTR"
            kwargs["permit_unknown_ai_attributes"] = enabled == "false"
        elif name == "DataStr":
            # An extraction artefact of the last generate case (a setDataStr call in the C test
            # that followed it); it sets no option.
            continue
        else:
            raise AssertionError(f"unmapped vector option {name!r}")
    return kwargs


def _parse_id(index: int, case: dict[str, Any]) -> str:
    flags = ",".join(sorted(case["parser_options"]))
    return f"{index:03d}:{case['uri']}" + (f"[{flags}]" if flags else "")


def test_vector_counts() -> None:
    assert len(PARSE_CASES) == 118
    assert sum(case["valid"] for case in PARSE_CASES) == 73
    assert len(GENERATE_CASES) == 22
    assert len(PATH_SEQUENCES) == 37
    assert set(INVALID_PARSE_RULES) == {i for i, c in enumerate(PARSE_CASES) if not c["valid"]}
    assert set(INVALID_GENERATE_RULES) == {
        i for i, c in enumerate(GENERATE_CASES) if not c["valid"]
    }


@pytest.mark.parametrize(
    ("index", "case"),
    list(enumerate(PARSE_CASES)),
    ids=[_parse_id(i, c) for i, c in enumerate(PARSE_CASES)],
)
def test_parse_vector(index: int, case: dict[str, Any]) -> None:
    kwargs = options(case["parser_options"])
    if not case["valid"]:
        with pytest.raises(DigitalLinkError) as raised:
            parse_digital_link(case["uri"], **kwargs)
        assert raised.value.rule == INVALID_PARSE_RULES[index]
        return
    link = parse_digital_link(case["uri"], **kwargs)
    assert link.element_string() == case["expected_element_string"]

    # The canonical form parses back to the same identity and data (attributes may be reordered).
    again = parse_digital_link(link.canonical(), **kwargs)
    assert again.path == link.path
    assert sorted(again.attributes) == sorted(link.attributes)


@pytest.mark.parametrize(
    ("index", "case"),
    list(enumerate(GENERATE_CASES)),
    ids=[f"{i:02d}:{c['ai_data_bracketed']}" for i, c in enumerate(GENERATE_CASES)],
)
def test_generate_vector(index: int, case: dict[str, Any]) -> None:
    kwargs = options(case["encoder_flags"])
    if not case["valid"]:
        with pytest.raises(DigitalLinkError) as raised:
            generate_digital_link(case["ai_data_bracketed"], case["stem"], **kwargs)
        assert raised.value.rule == INVALID_GENERATE_RULES[index]
        return
    uri = generate_digital_link(case["ai_data_bracketed"], case["stem"], **kwargs)
    assert uri == case["expected_dl_uri"]
    # What is generated is a valid Digital Link.
    parse_digital_link(uri, **kwargs)


@pytest.mark.parametrize("sequence", PATH_SEQUENCES, ids="/".join)
def test_valid_path_sequence_vector(sequence: list[str]) -> None:
    assert validate_path_sequence(sequence)
