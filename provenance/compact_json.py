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
This module never decides what a value must contain; its callers do.
"""

from __future__ import annotations

from typing import Any

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
