"""Who answers for an item: statements at its level or above, EPCIS events naming it, a brand's
products; never the operator for the reviews it records, never a statement its party retracted."""

from __future__ import annotations

import json

import pytest

from factories import GTIN, governance, item, register, review, submit
from provenance.concerned import parties_concerned
from provenance.dsse import sign_envelope
from provenance.errors import MalformedError
from provenance.keyfiles import OperatorKeys
from provenance.ledger import Ledger
from provenance.statements import sign_statement

LOT = f"/01/{GTIN}/10/LOT-1"
SERIAL = f"{LOT}/21/S-1"
OTHER_LOT = f"/01/{GTIN}/10/LOT-2"
OTHER_GTIN = "09506000134369"


def epcis_observing(uri: str) -> bytes:
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-07-20T00:00:00Z",
        "epcisBody": {
            "eventList": [
                {
                    "type": "ObjectEvent",
                    "action": "OBSERVE",
                    "bizStep": "shipping",
                    "eventTime": "2026-07-20T00:00:00Z",
                    "eventTimeZoneOffset": "+00:00",
                    "epcList": [uri],
                }
            ]
        },
    }
    return json.dumps(document).encode()


@pytest.fixture
def chain(ledger: Ledger, operator_keys: OperatorKeys) -> Ledger:
    """farm attests LOT-1, brand names the product, packer attests one serial, a scanner's EPCIS
    event names another serial, other attests LOT-2, and mistaken attested LOT-1 but retracted it;
    the operator recorded complaints about all of them."""
    farm = register(ledger, operator_keys, "farm")
    brand = register(ledger, operator_keys, "brand", "brand")
    packer = register(ledger, operator_keys, "packer")
    scanner = register(ledger, operator_keys, "scanner")
    other = register(ledger, operator_keys, "other")
    mistaken = register(ledger, operator_keys, "mistaken")
    origin = {"place": {"country": "CO"}, "producer": "Farm", "date": "2026-07-14"}
    submit(ledger, sign_statement({"type": "origin", "by": "farm", "items": [item("LOT-1")],
                                   **origin}, [farm]))  # fmt: skip
    submit(ledger, sign_statement({"type": "product", "by": "brand", "name": "Coffee",
                                   "items": [f"https://id.gs1.org/01/{GTIN}"]}, [brand]))  # fmt: skip
    submit(ledger, sign_statement({"type": "custody", "by": "packer", "event": "receiving",
                                   "items": [f"https://id.gs1.org{SERIAL}"], "date": "2026-07-15",
                                   "from": "farm", "to": "packer"},
                                  [packer]))  # fmt: skip
    submit(ledger, sign_envelope("application/ld+json",
                                 epcis_observing(f"https://id.gs1.org{LOT}/21/S-2"),
                                 [scanner]).to_json())  # fmt: skip
    submit(ledger, sign_statement({"type": "origin", "by": "other", "items": [item("LOT-2")],
                                   **origin}, [other]))  # fmt: skip
    wrong = submit(ledger, sign_statement({"type": "origin", "by": "mistaken",
                                           "items": [item("LOT-1")], **origin}, [mistaken]))  # fmt: skip
    submit(ledger, sign_statement({"type": "retraction", "by": "mistaken", "retracts": wrong.index,
                                   "reason": "wrong lot number"}, [mistaken]))  # fmt: skip
    for key in (SERIAL, f"{LOT}/21/S-2", LOT, OTHER_LOT, f"/01/{GTIN}"):
        review(ledger, operator_keys, key)
    return ledger


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (SERIAL, {"farm", "brand", "packer"}),
        (f"{LOT}/21/S-2", {"farm", "brand", "scanner"}),
        (f"{LOT}/21/S-3", {"farm", "brand"}),
        (LOT, {"farm", "brand"}),
        (OTHER_LOT, {"other", "brand"}),
        (f"/01/{GTIN}", {"brand"}),
        (f"/01/{OTHER_GTIN}/10/LOT-1", set()),
        (f"https://id.gs1.org{SERIAL}", {"farm", "brand", "packer"}),
    ],
)
def test_parties_answer_for_their_items_and_the_levels_below(
    chain: Ledger, key: str, expected: set[str]
) -> None:
    with chain.log.store.read() as reader:
        assert parties_concerned(reader, key) == expected


def test_a_suspended_party_still_answers_for_what_it_said(
    chain: Ledger, operator_keys: OperatorKeys
) -> None:
    submit(chain, governance(operator_keys, "party.suspend", party="farm", reason="audit"))
    with chain.log.store.read() as reader:
        assert "farm" in parties_concerned(reader, LOT)


def test_a_key_that_names_no_item_is_refused(chain: Ledger) -> None:
    with chain.log.store.read() as reader, pytest.raises(MalformedError):
        parties_concerned(reader, "/not/an/item")
