"""GS1 element strings: the values of Application Identifiers and the rules between them.

Owns: validating one AI value against its table entry (length, character set per component, and
the component linters listed in :data:`ENFORCED_LINTERS`); reading element strings in bracketed form
``(01)09520123456788(10)ABC`` and in unbracketed form ``^0109520123456788^10ABC`` (``^`` = FNC1);
writing the unbracketed form; and the rules over a whole set of AIs (``ex`` mutually exclusive AIs,
``req`` requisite AIs, repeated AIs with different values, a digital signature needing a serialised
key). The rules follow the GS1 General Specifications as implemented by the GS1 Barcode Syntax Engine
(``src/c-lib/ai.c`` and ``src/c-lib/syntax/lint_*.c``). Every failure is a :class:`GS1Error` whose
``rule`` names what was broken. Pure functions, no I/O.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from provenance.gs1.ai import CHARSET_NAMES, AIEntry, Component, lookup_ai, lookup_ai_prefix
from provenance.gs1.check_digit import compute_check_digit, has_valid_check_pair
from provenance.gs1.errors import GS1Error

FNC1: Final = "^"

_CHARSETS: Final = {
    "N": frozenset("0123456789"),
    "X": frozenset(
        "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
    ),
    "Y": frozenset("#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    "Z": frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
}

# YY is read as 19YY, 20YY or 21YY around this year, as lint_yymmd0.c does by default; it only
# matters for 29 February.
_CURRENT_YY: Final = 21
_GCP_MIN_LENGTH: Final = 4


@dataclass(frozen=True)
class Element:
    """One AI and its value, as it appears in an element string or a Digital Link URI."""

    entry: AIEntry
    value: str

    @property
    def ai(self) -> str:
        """The numeric Application Identifier."""
        return self.entry.ai


# --- Linters ------------------------------------------------------------------------------------
# Each takes one component's text (already in its character set) and returns None or (rule, detail).

LintResult = tuple[str, str] | None


def _lint_csum(data: str) -> LintResult:
    expected = compute_check_digit(data[:-1]) if len(data) > 1 else None
    if expected is None or data[-1] != expected:
        return "check-digit", f"check digit of {data} is {data[-1]}, expected {expected}"
    return None


def _lint_csumalpha(data: str) -> LintResult:
    if not has_valid_check_pair(data):
        return "check-digit", f"check character pair of {data!r} is wrong"
    return None


def _lint_gcppos1(data: str) -> LintResult:
    prefix = data[:_GCP_MIN_LENGTH]
    if len(prefix) < _GCP_MIN_LENGTH or not prefix.isdigit():
        return "company-prefix", f"{data!r} does not start with a GS1 Company Prefix (4+ digits)"
    return None


def _lint_gcppos2(data: str) -> LintResult:
    return _lint_gcppos1(data[1:])


def _date(yyyy: int, mm: int, dd: int, *, day_zero: bool) -> LintResult:
    if not 1 <= mm <= 12:
        return "date", f"month {mm:02d} does not exist"
    if (dd == 0 and not day_zero) or dd > calendar.monthrange(yyyy, mm)[1]:
        return "date", f"day {dd:02d} does not exist in {yyyy:04d}-{mm:02d}"
    return None


def _yymmdd(data: str, *, day_zero: bool) -> LintResult:
    yy = int(data[:2])
    century = 1900 if yy - _CURRENT_YY >= 51 else 2000 if yy - _CURRENT_YY > -50 else 2100
    return _date(century + yy, int(data[2:4]), int(data[4:6]), day_zero=day_zero)


def _lint_hh(data: str) -> LintResult:
    return None if int(data) <= 23 else ("time", f"hour {data} does not exist")


def _lint_mi(data: str) -> LintResult:
    return None if int(data) <= 59 else ("time", f"minute {data} does not exist")


def _lint_hhmi(data: str) -> LintResult:
    return _lint_hh(data[:2]) or _lint_mi(data[2:])


def _lint_pieceoftotal(data: str) -> LintResult:
    half = len(data) // 2
    piece, total = data[:half], data[half:]
    if len(data) % 2 or not data:
        return "piece-of-total", f"{data} does not split into piece and total of equal width"
    if int(piece) == 0 or int(total) == 0 or piece > total:
        return "piece-of-total", f"piece {piece} of total {total} is not a valid piece number"
    return None


def _lint_nozeroprefix(data: str) -> LintResult:
    return ("zero-prefix", f"{data} starts with zero") if data.startswith("0") else None


_LINTERS: Final[dict[str, Callable[[str], LintResult]]] = {
    "csum": _lint_csum,
    "csumalpha": _lint_csumalpha,
    "gcppos1": _lint_gcppos1,
    "gcppos2": _lint_gcppos2,
    "yymmd0": lambda d: _yymmdd(d, day_zero=True),
    "yymmdd": lambda d: _yymmdd(d, day_zero=False),
    "yyyymmdd": lambda d: _date(int(d[:4]), int(d[4:6]), int(d[6:8]), day_zero=False),
    "hh": _lint_hh,
    "mi": _lint_mi,
    "ss": _lint_mi,
    "hhmi": _lint_hhmi,
    "pieceoftotal": _lint_pieceoftotal,
    "nozeroprefix": _lint_nozeroprefix,
}

#: The dictionary's linters that are applied. The others (code lists such as ISO 3166 / 4217, IBAN,
#: coupon codes, ...) stay in the table but are not checked here.
ENFORCED_LINTERS: Final = frozenset(_LINTERS)


# --- One value ----------------------------------------------------------------------------------


def check_value_length(entry: AIEntry, value: str) -> None:
    """Raise :class:`GS1Error` (``value-length``) unless ``value`` fits the AI's overall length."""
    if len(value) < entry.min_length:
        raise GS1Error(
            "value-length",
            f"value {value!r} is too short (minimum {entry.min_length})",
            ai=entry.ai,
        )
    if len(value) > entry.max_length:
        raise GS1Error(
            "value-length", f"value {value!r} is too long (maximum {entry.max_length})", ai=entry.ai
        )


def _check_charset(entry: AIEntry, component: Component, data: str) -> None:
    allowed = _CHARSETS[component.charset]
    body = data
    if component.charset == "Z":  # base64url with optional '=' padding to a multiple of 3
        body = data.rstrip("=")
        pads = len(data) - len(body)
        if pads > 2 or (pads and len(data) % 3):
            raise GS1Error("character-set", f"{data!r} has bad CSET 64 padding", ai=entry.ai)
    for position, char in enumerate(body):
        if char not in allowed:
            raise GS1Error(
                "character-set",
                f"{char!r} at position {position + 1} of {data!r} is not "
                f"{CHARSET_NAMES[component.charset]}",
                ai=entry.ai,
            )


def validate_value(entry: AIEntry, value: str) -> None:
    """Raise :class:`GS1Error` unless ``value`` is a valid value of the AI of ``entry``.

    Checks, in order: overall length (``value-length``), then each component's length
    (``value-length``), character set (``character-set``) and enforced linters (``check-digit``,
    ``company-prefix``, ``date``, ``time``, ``piece-of-total``, ``zero-prefix``).
    """
    check_value_length(entry, value)
    position = 0
    for component in entry.components:
        data = value[position : position + component.max_length]
        if component.optional and not data:
            continue
        if len(data) < component.min_length:
            raise GS1Error(
                "value-length",
                f"component {data!r} of {value!r} is shorter than {component.min_length}",
                ai=entry.ai,
            )
        _check_charset(entry, component, data)
        for name in component.linters:
            linter = _LINTERS.get(name)
            failure = linter(data) if linter is not None else None
            if failure is not None:
                raise GS1Error(failure[0], failure[1], ai=entry.ai)
        position += len(data)
    if position != len(value):  # cannot happen while only the last component varies in length
        raise GS1Error("value-length", f"value {value!r} is too long", ai=entry.ai)


# --- Element strings ----------------------------------------------------------------------------


def _element(ai: str, value: str, *, permit_unknown_ais: bool) -> Element:
    entry = lookup_ai(ai, permit_unknown=permit_unknown_ais)
    if entry is None:
        raise GS1Error("unknown-ai", "is not a known Application Identifier", ai=ai)
    if not value:
        raise GS1Error("empty-value", "has an empty value", ai=ai)
    check_value_length(entry, value)
    return Element(entry, value)


def parse_bracketed(text: str, *, permit_unknown_ais: bool = False) -> list[Element]:
    """Return the elements of a bracketed element string such as ``(01)09520123456788(10)AB\\(1``.

    A ``(`` inside a value is written ``\\(``. Values are length-checked but not linted (see
    :func:`validate_value`). Raises :class:`GS1Error` (``element-string``, ``unknown-ai``, ...).
    """
    elements: list[Element] = []
    position = 0
    while position < len(text):
        if text[position] != "(":
            raise GS1Error("element-string", f"expected '(' at position {position + 1} of {text!r}")
        close = text.find(")", position)
        if close < 0:
            raise GS1Error("element-string", f"unterminated AI in {text!r}")
        ai = text[position + 1 : close]
        value, position = "", close + 1
        while position < len(text) and text[position] != "(":
            if text.startswith("\\(", position):
                value, position = value + "(", position + 2
            else:
                value, position = value + text[position], position + 1
        elements.append(_element(ai, value, permit_unknown_ais=permit_unknown_ais))
    if not elements:
        raise GS1Error("element-string", "the element string is empty")
    return elements


def parse_element_string(text: str, *, permit_unknown_ais: bool = False) -> list[Element]:
    """Return the elements of an unbracketed element string ``^AIvalue[^AIvalue...]`` (``^`` = FNC1).

    Values are length-checked but not linted. Raises :class:`GS1Error` (``element-string``, ...).
    """
    if not text.startswith(FNC1) or len(text) == 1:
        raise GS1Error("element-string", f"{text!r} does not start with FNC1 ('^') and data")
    elements: list[Element] = []
    position = 1
    while position < len(text):
        entry = lookup_ai_prefix(text[position:], permit_unknown=permit_unknown_ais)
        if entry is None:
            raise GS1Error("unknown-ai", f"no known AI starts {text[position:]!r}")
        start = position + len(entry.ai)
        end = text.find(FNC1, start)
        end = len(text) if end < 0 else end
        if not entry.fnc1_required:
            end = min(end, start + entry.max_length)
        elements.append(_element(entry.ai, text[start:end], permit_unknown_ais=True))
        position = end + 1 if text.startswith(FNC1, end) else end
    return elements


def render_element_string(elements: Iterable[Element]) -> str:
    """Return the unbracketed element string of ``elements`` in the given order: FNC1 first, then an
    FNC1 after each value whose AI needs one, unless it is the last."""
    out = [FNC1]
    separate = False
    for element in elements:
        if separate:
            out.append(FNC1)
        out += [element.ai, element.value]
        separate = element.entry.fnc1_required
    return "".join(out)


# --- Rules over a set of AIs --------------------------------------------------------------------


def _matches(pattern: str, ai: str) -> bool:
    # A pattern such as "310n" or "31nn" stands for every AI of its length with its digit prefix.
    fixed = pattern.rstrip("n")
    return len(ai) == len(pattern) and ai.startswith(fixed)


def _present(pattern: str, elements: Sequence[Element], *, besides: str) -> Element | None:
    return next((e for e in elements if e.ai != besides and _matches(pattern, e.ai)), None)


def validate_associations(elements: Sequence[Element], *, requisites: bool = True) -> None:
    """Raise :class:`GS1Error` unless the AIs of ``elements`` may appear together.

    Rules: no two mutually exclusive AIs (``exclusive-ai``); each AI's requisites present, when
    ``requisites`` (``requisite-ai``); a repeated AI always with the same value (``repeated-ai``); a
    digital signature (8030) only with a serialised GDTI, GCN or GRAI (``digital-signature``).
    """
    for element in elements:
        for pattern in element.entry.exclusions:
            other = _present(pattern, elements, besides=element.ai)
            if other is not None:
                raise GS1Error(
                    "exclusive-ai", f"must not appear together with AI ({other.ai})", ai=element.ai
                )
    if requisites:
        for element in elements:
            for alternatives in element.entry.requisites:
                if not any(
                    all(_present(p, elements, besides=element.ai) for p in group)
                    for group in alternatives
                ):
                    wanted = " or ".join("+".join(group) for group in alternatives)
                    raise GS1Error("requisite-ai", f"requires AI {wanted}", ai=element.ai)
    seen: dict[str, str] = {}
    for element in elements:
        if seen.setdefault(element.ai, element.value) != element.value:
            raise GS1Error("repeated-ai", "appears twice with different values", ai=element.ai)
    if "8030" in seen:
        for element in elements:
            if (
                element.ai in ("253", "255", "8003")
                and len(element.value) == element.entry.min_length
            ):
                raise GS1Error(
                    "digital-signature", "needs its serial component with AI (8030)", ai=element.ai
                )
