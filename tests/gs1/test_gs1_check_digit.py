"""GS1 check digits: known answers from GS1 examples, error detection, GTIN normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.gs1 import GS1Error
from provenance.gs1.check_digit import (
    compute_check_digit,
    compute_check_pair,
    has_valid_check_digit,
    has_valid_check_pair,
    is_valid_gtin,
    normalize_gtin,
    verify_check_digit,
)

# Keys from the examples of the GS1 Digital Link standard and the GS1 Syntax Engine's tests
# (dl.c, "Examples from DL specification"), each with the check digit printed there.
KNOWN_KEYS = [
    pytest.param("09520123456788", id="GTIN-14 (DL spec)"),
    pytest.param("9520123456788", id="GTIN-13 (DL spec)"),
    pytest.param("9520123456788", id="GLN (DL spec, AI 414)"),
    pytest.param("952012345678912345", id="SSCC (DL spec)"),
    pytest.param("006141411234567890", id="SSCC (dl.c)"),
    pytest.param("416000336108", id="GTIN-12 (dl.c)"),
    pytest.param("02345673", id="GTIN-8 (dl.c)"),
    pytest.param("2112345678900", id="GTIN-13 (dl.c)"),
    pytest.param("04065093955756", id="GTIN-14 (dl.c)"),
    pytest.param("123456789012345675", id="GSRN (dl.c)"),
    pytest.param("795260646688514634", id="GSRN-P (dl.c)"),
    pytest.param("1231231231232", id="GDTI document type (dl.c)"),
]


@pytest.mark.parametrize("key", KNOWN_KEYS)
def test_known_keys_have_valid_check_digits(key: str) -> None:
    assert compute_check_digit(key[:-1]) == key[-1]
    assert has_valid_check_digit(key)
    verify_check_digit(key)


@pytest.mark.parametrize("key", KNOWN_KEYS)
def test_known_keys_with_wrong_check_digit_fail(key: str) -> None:
    wrong = key[:-1] + str((int(key[-1]) + 1) % 10)
    assert not has_valid_check_digit(wrong)
    with pytest.raises(GS1Error) as raised:
        verify_check_digit(wrong)
    assert raised.value.rule == "check-digit"
    assert f"expected {key[-1]}" in str(raised.value)


@given(st.text(alphabet="0123456789", min_size=1, max_size=17), st.data())
def test_any_single_digit_change_is_detected(payload: str, data: st.DataObject) -> None:
    key = payload + compute_check_digit(payload)
    position = data.draw(st.integers(0, len(key) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != key[position]]))
    assert has_valid_check_digit(key)
    assert not has_valid_check_digit(key[:position] + digit + key[position + 1 :])


@pytest.mark.parametrize(
    ("gtin", "gtin14"),
    [
        ("02345673", "00000002345673"),
        ("416000336108", "00416000336108"),
        ("9520123456788", "09520123456788"),
        ("09520123456788", "09520123456788"),
    ],
)
def test_normalize_gtin(gtin: str, gtin14: str) -> None:
    assert normalize_gtin(gtin) == gtin14
    assert is_valid_gtin(gtin)


@pytest.mark.parametrize(
    ("gtin", "rule"),
    [
        ("9520123456789", "check-digit"),
        ("95201234567", "length"),
        ("95201234567A8", "character-set"),
        ("", "character-set"),
        ("９５２０１２３４５６７８８", "character-set"),  # full-width digits are not ASCII digits
    ],
)
def test_normalize_gtin_refuses(gtin: str, rule: str) -> None:
    with pytest.raises(GS1Error) as raised:
        normalize_gtin(gtin)
    assert raised.value.rule == rule
    assert str(raised.value).startswith(f"{rule}:")
    assert not is_valid_gtin(gtin)


# Values with valid check character pairs, from the GS1 Syntax Engine's lint_csumalpha.c tests.
@pytest.mark.parametrize(
    "gmn", ["1987654Ad4X4bL5ttr2310c2K", "12345678901234567890123NT", "00000!HV", "22"]
)
def test_check_character_pair_known_answers(gmn: str) -> None:
    assert compute_check_pair(gmn[:-2]) == gmn[-2:]
    assert has_valid_check_pair(gmn)


@pytest.mark.parametrize(
    "gmn", ["1987654Ad4X4bL5ttr2310cXK", "33", "2", " 2345678901234567890123NT"]
)
def test_wrong_check_character_pair(gmn: str) -> None:
    assert not has_valid_check_pair(gmn)
