"""JSON in compact form, decoded by orjson and proven unambiguous by encoding it back.

Signed bytes must mean one thing to every reader, so the strict decoders of envelopes and
statements refuse an object that names a key twice (parsers resolve that differently: first or
last wins). Python's ``json`` can refuse it only through a per-object Python hook, and takes 5 to
13 µs for a typical statement or envelope; orjson (a C extension) takes 1.5 µs, but keeps the last
of two equal keys without a word. This module has orjson's speed without its ambiguity: a document
is taken only if orjson's compact encoding of the value it decoded is the document itself, byte
for byte. A duplicate key would be missing from that encoding, and so would whitespace, escapes
orjson does not write, and other spellings of a number.

Everything else (pretty-printed JSON, lone surrogates, integers beyond 64 bits, which orjson
reads as floats, duplicate keys, anything invalid) gets None, and the caller decodes it with its
strict decoder, which accepts the documents taken here with the same values and names what is
wrong with the others. The service writes its envelopes in this form, and statements signed with
Python's ``json`` in compact form (``sign_statement``, the CLI) nearly always are; other writers'
spellings (floats below 1e-4, escaped ``<>&``) take the strict way, correctly and more slowly.
:func:`loads_unambiguous` is that pairing for UTF-8 documents (envelopes, batch bodies): the
fast way, else the strict decoder. This module owns the rule that signed JSON must decode one way
(:func:`object_without_duplicates`); it never decides what a value must contain, its callers do.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import orjson


def loads_compact(data: bytes) -> Any | None:
    """Return the value of ``data`` if it is UTF-8 JSON exactly as orjson writes that value
    (compact, keys in document order, each once), otherwise None."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError:  # decoded, but not writable back (nested over 254 deep)
        return None
    return value if encoded == data else None


def loads_unambiguous(data: bytes) -> Any:
    """Return the value of UTF-8 JSON ``data`` that names no key twice and holds no NaN or
    Infinity; UnicodeDecodeError if it is not UTF-8, ValueError naming what else is wrong."""
    value = loads_compact(data)
    if value is not None:
        return value
    text = data.decode("utf-8")
    try:
        return _decode_strict(text)
    except RecursionError as e:
        raise ValueError(f"nested too deeply: {e}") from e


def object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A ``json.loads`` object hook that refuses an object naming one key twice, which JSON
    parsers would resolve differently (first or last wins): signed bytes must mean one thing."""
    result = dict(pairs)
    if len(result) == len(pairs):  # the usual case, in two C calls rather than a Python loop
        return result
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen.add(key)
    raise AssertionError("unreachable: fewer keys than pairs means a duplicate")


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


# Built once: json.loads with hooks builds a new decoder per call, which costs as much as decoding
# a small envelope. A decoder keeps no state between calls (json.loads shares one the same way).
_decode_strict = json.JSONDecoder(
    object_pairs_hook=object_without_duplicates, parse_constant=_no_constant
).decode
