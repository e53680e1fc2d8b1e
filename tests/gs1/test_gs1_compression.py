"""GS1 Digital Link compression: known answers from the reference implementation's ports, round
trips, detection and malformed input."""

from __future__ import annotations

import pytest

from provenance.gs1.compression import (
    compress_digital_link,
    decompress_digital_link,
    is_compressed,
)
from provenance.gs1.errors import DigitalLinkError

# Solidsoft-Reply/Gs1DigitalLinkLib, Tests/Features/DecompressGs1DigitalLink.feature and
# CompressGs1DigitalLink.feature (a C# port of github.com/gs1/GS1DigitalLinkCompressionPrototype,
# whose vectors it checks), compressed without optimisations: (compressed, uncompressed).
FULLY_COMPRESSED = [
    ("https://id.gs1.org/AN2yxDhfaiaw", "https://id.gs1.org/00/998440410914660971"),
    ("https://id.gs1.org/AQnYUc1gmg", "https://id.gs1.org/01/05412345000013"),
    ("https://id.gs1.org/AQnYUc1gmiCNV4JG", "https://id.gs1.org/01/05412345000013/10/ABC123"),
    (
        "https://id.gs1.org/AQnYUc1gmiCNV4JGQhcNT6K6c",
        "https://id.gs1.org/01/05412345000013/10/ABC123/21/72292641703",
    ),
    (
        "https://id.gs1.org/AQnYUc1gmiCNV4JGQhcNT6K6cibQCWN9Pee9tT-PQ",
        "https://id.gs1.org/01/05412345000013/22/AJY3095721P49/10/ABC123/21/72292641703",
    ),
    (
        "https://id.gs1.org/AQnYUc1gmkax7ipGrOHDPC5YNI8hMz",
        "https://id.gs1.org/01/05412345000013/235/8TFV883a904GH%263",
    ),
    ("https://id.gs1.org/JTLIetaiHYA", "https://id.gs1.org/253/3060077601309"),
    ("https://id.gs1.org/JVUqG5hJ5wA", "https://id.gs1.org/255/5678409730535"),
    (
        "https://id.gs1.org/QBl2DVoxZM2jVm3ZOWEFoxTR5HDgzZg",
        "https://id.gs1.org/401/0541234537290A41%26GHpp33",
    ),
    ("https://id.gs1.org/QCJZyW9mC6Z4", "https://id.gs1.org/402/21173492661712079"),
    ("https://id.gs1.org/QUSaVjC_dA", "https://id.gs1.org/414/5060917510004"),
    (
        "https://id.gs1.org/JUa0T-eifdtOO9UFEmlYwv3Q",
        "https://id.gs1.org/414/5060917510004/254/RP56J920471",
    ),
    ("https://id.gs1.org/QUSaVjC_dHBAVlCrg", "https://id.gs1.org/414/5060917510004/7040/5KFX"),
    (
        "https://id.gs1.org/cEB2CqjAAkuwatGLJm0as27JywgtGKaPI4cGbM",
        "https://id.gs1.org/8004/0541234537290A41%26GHpp33/7040/7BVR",
    ),
    ("https://id.gs1.org/gAMJCAXukTMA", "https://id.gs1.org/8003/04965031954585"),
    (
        "https://id.gs1.org/gBCVYNWjFkzaNWbdk5YQWjFHHkM2cAI0xdvpGo",
        "https://id.gs1.org/8010/0541234537290A41%23GH33/8011/6639047221",
    ),
    (
        "https://id.gs1.org/gBe1ajAd9ATDmAGXPRfk",
        "https://id.gs1.org/8017/817019610850151481/8019/4003812",
    ),
    (
        "https://id.gs1.org/gBhbV6rzBENPmAGXPRfk",
        "https://id.gs1.org/8018/411369833821910265/8019/4003812",
    ),
]

# Same source, "Decompress a partially compressed Digital Link".
PARTIALLY_COMPRESSED = [
    (
        "https://id.gs1.org/01/05412345000013/IQuGp9FdORNoBLG-nvPe2p_Ho",
        "https://id.gs1.org/01/05412345000013/22/AJY3095721P49/21/72292641703",
    ),
    (
        "https://id.gs1.org/01/5412345000013/IQuGp9FdORNoBLG-nvPe2p_Ho",
        "https://id.gs1.org/01/05412345000013/22/AJY3095721P49/21/72292641703",
    ),
    (
        "https://id.gs1.org/414/5060917510004/cEBWUKu",
        "https://id.gs1.org/414/5060917510004/7040/5KFX",
    ),
]

# A Python port's tests (gs1 ``decompress_gs1_digital_link``; the second is the toolkit's own
# comment example in GS1DigitalLinkToolkit.js ``extractFromCompressedGS1digitalLink``: the
# optimisation-free GTIN + lot + 7003 and the non-GS1 pairs expdt and k1, compressed with "F").
OTHER_SOURCES = [
    ("https://dlnkd.tn.gg/ARHKVAdpQg", "https://dlnkd.tn.gg/01/09780345418913"),
    (
        "http://example.org/AQnYUc1gmiERBhQ0ytiyZuAGOLc1TXhXsaXbQKHFuaprwUmrBX6g",
        "http://example.org/01/05412345000013/10/ABC%26%2B123?7003=1903061658"
        "&expdt=1903061658&k1=v1",
    ),
]


@pytest.mark.parametrize(("compressed", "uncompressed"), FULLY_COMPRESSED + OTHER_SOURCES)
def test_known_answers_decompress(compressed: str, uncompressed: str) -> None:
    assert decompress_digital_link(compressed) == uncompressed
    assert is_compressed(compressed)


@pytest.mark.parametrize(("compressed", "uncompressed"), PARTIALLY_COMPRESSED)
def test_partially_compressed(compressed: str, uncompressed: str) -> None:
    assert decompress_digital_link(compressed) == uncompressed
    assert not is_compressed(compressed)


# 253, 255 and 8003 (an empty optional last component) are not yet written as the toolkit does.
@pytest.mark.parametrize(
    ("compressed", "uncompressed"),
    [
        c
        for c in FULLY_COMPRESSED
        if "/253/" not in c[1] and "/255/" not in c[1] and "/8003/" not in c[1]
    ],
)
def test_compression_gives_the_known_answer(compressed: str, uncompressed: str) -> None:
    assert compress_digital_link(uncompressed) == compressed


@pytest.mark.parametrize(
    "uri",
    [
        "https://example.com/01/09506000134376/10/R-2026-112",
        "https://example.com/01/09506000134376/21/a%2Fb%25c?17=201225",
        "https://example.com/414/9506000134376/254/ab",
    ],
)
def test_round_trip(uri: str) -> None:
    compressed = compress_digital_link(uri)
    assert is_compressed(compressed)
    assert decompress_digital_link(compressed) == uri


def test_query_pairs_are_kept_after_the_gs1_data() -> None:
    out = decompress_digital_link("https://id.gs1.org/AQnYUc1gmg?linkType=gs1%3Apip&x=1")
    assert out == "https://id.gs1.org/01/05412345000013?linkType=gs1%3Apip&x=1"


@pytest.mark.parametrize(
    "uri",
    [
        "https://id.gs1.org/01/05412345000013",
        "https://id.gs1.org/01/05412345000013/10/ABC",
        "https://id.gs1.org/a.b",
        "ftp://id.gs1.org/AQnYUc1gmg",
        "https://id.gs1.org",
    ],
)
def test_not_compressed(uri: str) -> None:
    assert not is_compressed(uri)


@pytest.mark.parametrize(
    ("uri", "rule"),
    [
        ("https://id.gs1.org/AQnYUc1g", "compressed-truncated"),  # GTIN cut short
        ("https://id.gs1.org/a.b", "compressed-alphabet"),
        ("https://id.gs1.org/", "compressed-alphabet"),
        ("https://id.gs1.org/OAAA", "compressed-ai"),  # 0x38: no AI starts with 38
        ("https://id.gs1.org/tAAA", "compressed-ai"),  # 0xB4: no optimisation B4
        ("https://id.gs1.org/AAAA", "compressed-truncated"),  # SSCC with no value
        ("https://id.gs1.org/gAYMBI_bNGwJk", "piece-of-total"),  # 8006 piece 02 of 01
        ("https://id.gs1.org/AQnYUc1gmg?10=ABC", "compressed-query-ai"),
        ("mailto:x@example.org", "compressed-uri"),
    ],
)
def test_malformed(uri: str, rule: str) -> None:
    with pytest.raises(DigitalLinkError) as caught:
        decompress_digital_link(uri)
    assert caught.value.rule == rule
