"""A small demo supply chain, loaded into an empty log so that the first page tells a real story.

Coffee from a farm in Huila, Colombia: harvested (origin), washed and dried at a washing station
(transformation), exported (custody), certified by a certifier, roasted into retail bags, with
footprint figures, and one lot recalled. Each supplier signs with its own key, kept under
``keys/demo/`` (git-ignored), exactly as a real supplier would.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provenance.keyfiles import OperatorKeys
from provenance.keys import (
    generate_private_key,
    load_private_key,
    public_key_bytes,
    save_private_key,
)
from provenance.ledger import Ledger
from provenance.statements import sign_statement

GTIN_CHERRY = "09506000134352"
GTIN_GREEN = "09506000134369"
GTIN_BAG = "09506000134376"
ID = "https://id.gs1.org"

PARTIES = [
    ("finca-la-esperanza", "supplier", "Finca La Esperanza", "CO"),
    ("beneficio-huila", "supplier", "Beneficio Central Huila", "CO"),
    ("andes-export", "supplier", "Andes Export S.A.S.", "CO"),
    ("bean-roasters", "brand", "Bean & Co. Roasters", "NL"),
    ("fair-cert", "certifier", "FairCert Audits", "DE"),
]


def _key(directory: Path, party: str) -> Ed25519PrivateKey:
    path = directory / f"{party}.key"
    if path.exists():
        return load_private_key(path)
    key = generate_private_key()
    save_private_key(path, key)
    return key


def demo_statements(operator: OperatorKeys, keys: dict[str, Ed25519PrivateKey]) -> list[bytes]:
    """Return the demo's signed statements, registrations first, in log order."""

    def by(party: str, body: dict[str, Any]) -> bytes:
        return sign_statement({"by": party, **body}, [keys[party]])

    out = []
    for party, role, name, country in PARTIES:
        registration = {
            "type": "party.register",
            "by": "operator",
            "party": {"id": party, "role": role, "name": name, "country": country},
            "keys": [base64.b64encode(public_key_bytes(keys[party])).decode()],
        }
        out.append(sign_statement(registration, [operator.operator_key]))
    cherry = f"{ID}/01/{GTIN_CHERRY}/10/H-2026-07"
    green = f"{ID}/01/{GTIN_GREEN}/10/W-2026-031"
    bags = f"{ID}/01/{GTIN_BAG}/10/R-2026-112"
    recalled = f"{ID}/01/{GTIN_BAG}/10/R-2026-113"
    huila = {"country": "CO", "region": "Huila", "geo": {"lat": 2.195, "lon": -75.627}}
    out += [
        by(
            "bean-roasters",
            {
                "type": "product",
                "items": [f"{ID}/01/{GTIN_BAG}"],
                "name": "Huila Washed, whole bean coffee",
                "brand": "Bean & Co.",
                "description": "Medium roast from one farm in Huila: red fruit, panela, cocoa.",
                "net_content": {"value": 250, "unit": "g"},
            },
        ),
        by(
            "beneficio-huila",
            {
                "type": "product",
                "items": [f"{ID}/01/{GTIN_GREEN}"],
                "name": "Green coffee, washed Castillo",
                "description": "Parchment removed, graded.",
            },
        ),
        by(
            "finca-la-esperanza",
            {
                "type": "product",
                "items": [f"{ID}/01/{GTIN_CHERRY}"],
                "name": "Coffee cherries",
            },
        ),
        by(
            "finca-la-esperanza",
            {
                "type": "origin",
                "items": [cherry],
                "place": {**huila, "name": "Finca La Esperanza"},
                "producer": "Finca La Esperanza",
                "date": "2026-07-14",
                "method": "Hand-picked ripe cherries, Castillo variety",
                "quantity": {"value": 1200, "unit": "kg"},
            },
        ),
        by(
            "finca-la-esperanza",
            {
                "type": "custody",
                "items": [cherry],
                "from": "finca-la-esperanza",
                "to": "beneficio-huila",
                "event": "shipping",
                "place": huila,
                "date": "2026-07-15",
            },
        ),
        by(
            "beneficio-huila",
            {
                "type": "transformation",
                "process": "Washed, fermented 36 h, sun-dried 14 days",
                "inputs": [{"item": cherry, "quantity": {"value": 1200, "unit": "kg"}}],
                "outputs": [{"item": green, "quantity": {"value": 240, "unit": "kg"}}],
                "date": "2026-08-02",
                "place": {"country": "CO", "region": "Huila", "name": "Pitalito"},
            },
        ),
        by(
            "beneficio-huila",
            {
                "type": "footprint",
                "items": [green],
                "unit": "kg",
                "per": "kg of green coffee",
                "figures": {"kg_co2e": 3.1, "water_l": 420, "land_m2": 9.5, "energy_kwh": 0.9},
                "method": "ISO 14067, farm and washing station",
                "scope": "cradle-to-gate",
            },
        ),
        by(
            "andes-export",
            {
                "type": "custody",
                "items": [green],
                "from": "beneficio-huila",
                "to": "bean-roasters",
                "event": "shipping",
                "place": {"country": "CO", "region": "Buenaventura"},
                "carrier": "MV Pacific Star",
                "date": "2026-08-20",
            },
        ),
        by(
            "bean-roasters",
            {
                "type": "custody",
                "items": [green],
                "from": "andes-export",
                "to": "bean-roasters",
                "event": "receiving",
                "place": {"country": "NL", "region": "Rotterdam"},
                "date": "2026-08-21",
            },
        ),
        by(
            "fair-cert",
            {
                "type": "certification",
                "subject": {"party": "finca-la-esperanza"},
                "standard": "Fairtrade Coffee",
                "certificate": "FT-CO-2026-0042",
                "valid_from": "2026-01-01",
                "valid_until": "2027-12-31",
            },
        ),
    ]
    organic = len(out) + 1  # the founding entry is index 0, so this is the next entry's index
    out += [
        by("fair-cert", {
            "type": "certification", "subject": {"party": "beneficio-huila"},
            "standard": "EU Organic (Regulation 2018/848)", "certificate": "ORG-CO-2026-0311",
            "valid_from": "2026-03-01", "valid_until": "2027-02-28",
        }),
        by("fair-cert", {
            "type": "retraction", "retracts": organic,
            "reason": "Withdrawn after the 2026 audit found non-organic fertiliser in storage",
        }),
        by("bean-roasters", {
            "type": "transformation", "process": "Roasted (medium), packed in 250 g bags",
            "inputs": [{"item": green, "quantity": {"value": 240, "unit": "kg"}}],
            "outputs": [
                {"item": bags, "quantity": {"value": 400, "unit": "bag"}},
                {"item": recalled, "quantity": {"value": 380, "unit": "bag"}},
            ],
            "date": "2026-09-05", "place": {"country": "NL", "region": "Rotterdam"},
        }),
        by("bean-roasters", {
            "type": "footprint", "items": [bags, recalled], "unit": "bag", "per": "250 g bag",
            "figures": {"kg_co2e": 0.42, "water_l": 2.5, "energy_kwh": 0.6},
            "method": "ISO 14067, roasting, packing and transport to shop", "scope": "gate-to-gate",
        }),
        by("bean-roasters", {
            "type": "declaration", "items": [f"{ID}/01/{GTIN_BAG}"],
            "benefits": ["Shade-grown under native trees", "Premium paid to the farm"],
            "risks": ["Contains caffeine", "Single-use bag: not recyclable yet"],
        }),
        by("bean-roasters", {
            "type": "custody", "items": [bags], "from": "bean-roasters", "to": "bean-roasters",
            "event": "shipping", "place": {"country": "NL", "name": "Bean & Co. shop, Amsterdam"},
            "date": "2026-09-12",
        }),
        by("bean-roasters", {
            "type": "recall", "items": [recalled],
            "reason": "Seal defect on part of the lot: bags may let in moisture",
        }),
    ]  # fmt: skip
    return out


def load_demo(ledger: Ledger, operator: OperatorKeys, keys_dir: Path) -> bool:
    """Append the demo supply chain if the log holds only its founding entry; return whether it did."""
    if ledger.log.size() != 1:
        return False
    keys_dir.mkdir(parents=True, exist_ok=True)
    keys = {party: _key(keys_dir, party) for party, *_ in PARTIES}
    prepared = []
    for data in demo_statements(operator, keys):
        prepared.append(ledger.prepare(data))
        if len(prepared) == len(PARTIES):
            ledger.commit(prepared)  # registrations first, so later signatures verify up front
            prepared = []
    ledger.commit(prepared)
    return True
