"""The compact-JSON fast decoder (:mod:`provenance.compact_json`) against the strict decoders it
stands in front of: whatever it takes must decode to the same value there, and every ambiguity the
strict decoders refuse (a duplicate key above all) must fall through to them, never be taken."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import origin_body
from provenance.compact_json import loads_compact, object_without_duplicates
from provenance.dsse import Envelope
from provenance.errors import InvalidStatementError, MalformedError
from provenance.keys import generate_private_key
from provenance.statements import PAYLOAD_TYPE, parse_envelope, parse_statement, sign_statement

STRICT = json.JSONDecoder(object_pairs_hook=object_without_duplicates)


def compact(value: Any) -> bytes:
    """How this service writes JSON: compact, UTF-8, not ASCII-escaped."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def test_a_statement_as_the_service_writes_it_is_taken_with_the_strict_value() -> None:
    body = origin_body("farm", place={"geo": {"lat": 2.195, "lon": -75.627}, "region": "Huila"})
    data = compact(body)
    taken = loads_compact(data)
    assert _same(taken, STRICT.decode(data.decode()))
    assert taken == body


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b'{"a":1,"a":2}', "duplicate key"),
        (b'{"x":{"b":1,"b":1}}', "duplicate key inside"),
        (b'[{"k":"v","k":"w"}]', "duplicate key in a list"),
        (b'{"a": 1}', "whitespace"),
        (b' {"a":1}', "leading whitespace"),
        (b'{"a":1}\n', "trailing newline"),
        (b'{"a":"\\u0041"}', "an escape orjson does not write"),
        (b'{"a":1E5}', "another spelling of a number"),
        (b'{"a":-0}', "minus zero"),
        (b'{"a":-0.00}', "minus zero, spelt long"),
        (b'{"a":1.50}', "a trailing zero"),
        (b'{"a":"\\ud800"}', "a lone surrogate"),
        (b'{"a":123456789012345678901234567890}', "an integer beyond 64 bits"),
        (b'{"a":NaN}', "not JSON"),
        (b'{"a":1', "cut short"),
        (b"\xef\xbb\xbf{}", "a byte order mark"),
        (b'{"a":"\xff"}', "not UTF-8"),
        (b"[" * 300 + b"]" * 300, "deeper than orjson writes"),
        ('{"a":1}'.encode("utf-16"), "UTF-16"),
    ],
)
def test_anything_but_compact_json_falls_through(data: bytes, why: str) -> None:
    assert loads_compact(data) is None, why


def _json_values() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text()
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=4), children, max_size=4)
        ),
        max_leaves=20,
    )


@settings(max_examples=400, deadline=None)
@given(_json_values())
def test_what_is_taken_decodes_as_the_strict_decoder_decodes(value: Any) -> None:
    data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )
    taken = loads_compact(data)
    if taken is None:
        return  # left to the strict decoder: nothing to compare
    strict = STRICT.decode(data.decode("utf-8", "surrogatepass"))
    assert _same(taken, strict)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=40) | st.text(alphabet='{}[]":,01a\\u ', max_size=30).map(str.encode))
def test_arbitrary_bytes_are_taken_only_as_the_strict_decoder_reads_them(data: bytes) -> None:
    taken = loads_compact(data)
    if taken is None:
        return
    assert _same(taken, STRICT.decode(data.decode("utf-8")))


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same JSON types (1 and 1.0 and True are equal in Python)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):  # -0.0 == 0.0 in Python: the sign is compared too
        return (a == b and math.copysign(1, a) == math.copysign(1, b)) or (
            math.isnan(a) and math.isnan(b)
        )
    return bool(a == b)


# --- The strict decoders behind it still refuse what it lets through ----------------------------


def test_an_envelope_naming_its_payload_twice_is_refused() -> None:
    key = generate_private_key()
    good = json.loads(sign_statement(origin_body("farm"), [key]))
    other = base64.b64encode(compact(origin_body("mill"))).decode()
    data = (
        f'{{"payloadType":"{good["payloadType"]}","payload":"{good["payload"]}",'
        f'"payload":"{other}","signatures":{compact(good["signatures"]).decode()}}}'
    ).encode()
    with pytest.raises(MalformedError, match="duplicate key 'payload'"):
        Envelope.from_json(data)


def test_a_statement_naming_a_field_twice_is_refused() -> None:
    payload = b'{"type":"origin","by":"farm","by":"mill"}'
    envelope = Envelope(PAYLOAD_TYPE, payload, ())
    with pytest.raises(InvalidStatementError, match="duplicate key 'by'"):
        parse_statement(envelope)


def test_envelopes_in_other_spellings_parse_to_the_same_envelope() -> None:
    key = generate_private_key()
    data = sign_statement(origin_body("farm"), [key])
    assert loads_compact(data) is not None  # the service's own form takes the fast way
    pretty = json.dumps(json.loads(data), indent=2).encode()
    assert loads_compact(pretty) is None
    assert parse_envelope(pretty) == parse_envelope(data)
    assert parse_statement(parse_envelope(pretty)) == parse_statement(parse_envelope(data))
