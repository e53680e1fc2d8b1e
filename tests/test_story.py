"""An item's story: what each section of a consumer's page draws from the log.

Built on a real ledger (SQLite and PostgreSQL): a farm's cherries become green coffee, then roasted
bags; each test checks one section, including the roll-up of footprint figures over the inputs,
certification validity and withdrawal, recalls reaching downstream, and suspended suppliers.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from factories import governance, item, register, submit
from provenance import queries
from provenance.keyfiles import OperatorKeys
from provenance.ledger import Ledger
from provenance.statements import sign_statement
from provenance.story import Story, item_story

CHERRY = item("C-1", gtin="09506000134352")
GREEN = item("G-1", gtin="09506000134369")
BAGS = item("B-1", gtin="09506000134376")
OTHER_BAGS = item("B-2", gtin="09506000134376")
PRODUCT = "https://id.gs1.org/01/09506000134376"
TODAY = date(2026, 11, 22)


class Chain:
    """A small supply chain on a real ledger, with a helper to sign as each party."""

    def __init__(self, ledger: Ledger, operator: OperatorKeys) -> None:
        self.ledger = ledger
        self.operator = operator
        self.keys: dict[str, Ed25519PrivateKey] = {
            "farm": register(ledger, operator, "farm"),
            "mill": register(ledger, operator, "mill"),
            "roaster": register(ledger, operator, "roaster", role="brand"),
            "cert": register(ledger, operator, "cert", role="certifier"),
        }

    def say(self, by: str, **body: Any) -> int:
        return submit(self.ledger, sign_statement({"by": by, **body}, [self.keys[by]])).index

    def story(self, uri: str, today: date = TODAY) -> Story:
        with self.ledger.log.store.read() as reader:
            found = item_story(reader, queries.item_keys(uri), self.ledger.registry.parties, today)
        assert found is not None
        return found


@pytest.fixture
def chain(ledger: Ledger, operator_keys: OperatorKeys) -> Chain:
    made = Chain(ledger, operator_keys)
    made.say("farm", type="origin", items=[CHERRY], place={"country": "CO"}, producer="Farm",
             date="2026-07-01", quantity={"value": 1000, "unit": "kg"})  # fmt: skip
    made.say("mill", type="transformation", process="washed",
             inputs=[{"item": CHERRY, "quantity": {"value": 1000, "unit": "kg"}}],
             outputs=[{"item": GREEN, "quantity": {"value": 200, "unit": "kg"}}],
             date="2026-08-01")  # fmt: skip
    made.say("roaster", type="transformation", process="roasted",
             inputs=[{"item": GREEN, "quantity": {"value": 200, "unit": "kg"}}],
             outputs=[{"item": BAGS, "quantity": {"value": 500, "unit": "bag"}},
                      {"item": OTHER_BAGS, "quantity": {"value": 300, "unit": "bag"}}],
             date="2026-09-01")  # fmt: skip
    return made


def test_an_unknown_item_has_no_story(chain: Chain) -> None:
    with chain.ledger.log.store.read() as reader:
        keys = queries.item_keys(item("NOPE", gtin="09506000134383"))
        assert item_story(reader, keys, chain.ledger.registry.parties, TODAY) is None


def test_a_lot_inherits_its_origins_and_timeline_from_upstream(chain: Chain) -> None:
    chain.say("roaster", type="custody", items=[BAGS], event="shipping", to="roaster",
              date="2026-09-10", **{"from": "roaster"})  # fmt: skip
    story = chain.story(BAGS)
    assert [v.body["producer"] for v in story.origins] == ["Farm"]
    assert [(s.date, s.kind) for s in story.timeline] == [
        ("2026-07-01", "origin"),
        ("2026-08-01", "transformation"),
        ("2026-09-01", "transformation"),
        ("2026-09-10", "custody"),
    ]
    assert [v.body["process"] for v in story.transformations] == ["washed", "roasted"]
    assert set(story.parties) == {"farm", "mill", "roaster"}
    assert list(story.claims) == sorted(story.claims)


def test_a_serial_is_covered_by_its_lot_and_product(chain: Chain) -> None:
    chain.say("roaster", type="product", items=[PRODUCT], name="Whole bean")
    story = chain.story(BAGS + "/21/0042")
    assert story.level == "serial"
    assert story.product is not None
    assert story.product.body["name"] == "Whole bean"
    assert story.item.covered_by[1:] == tuple(queries.item_keys(u).own for u in (BAGS, PRODUCT))


def test_the_latest_product_statement_names_the_product(chain: Chain) -> None:
    chain.say("roaster", type="product", items=[PRODUCT], name="Old name")
    chain.say("roaster", type="product", items=[PRODUCT], name="New name")
    story = chain.story(BAGS)
    assert story.product is not None
    assert story.product.body["name"] == "New name"


def test_a_product_page_lists_its_lots(chain: Chain) -> None:
    chain.say("roaster", type="product", items=[PRODUCT], name="Whole bean")
    story = chain.story(PRODUCT)
    assert story.level == "product"
    assert story.lots == [queries.item_keys(u).own for u in (BAGS, OTHER_BAGS)]


def test_footprint_rolls_up_a_stage_figure_over_its_inputs(chain: Chain) -> None:
    chain.say("mill", type="footprint", items=[GREEN], unit="kg", per="kg", method="ISO 14067",
              scope="cradle-to-gate", figures={"kg_co2e": 4.0, "water_l": 100})  # fmt: skip
    chain.say("roaster", type="footprint", items=[BAGS, OTHER_BAGS], unit="bag", per="bag",
              method="ISO 14067", scope="gate-to-gate", figures={"kg_co2e": 0.5})  # fmt: skip
    footprint = chain.story(BAGS).footprint
    share = 200 / 800  # kg of green coffee in one bag: 200 kg made 800 bags
    assert footprint.unit == "bag"
    assert [(p.item, p.share) for p in footprint.parts] == [
        (queries.item_keys(BAGS).own, 1.0),
        (queries.item_keys(GREEN).own, share),
    ]
    assert footprint.total == pytest.approx({"kg_co2e": 0.5 + 4.0 * share, "water_l": 100 * share})
    assert footprint.apart == []


def test_a_full_scope_footprint_is_not_added_to_again(chain: Chain) -> None:
    chain.say("mill", type="footprint", items=[GREEN], unit="kg", per="kg", method="m",
              scope="cradle-to-gate", figures={"kg_co2e": 4.0})  # fmt: skip
    chain.say("roaster", type="footprint", items=[BAGS], unit="bag", per="bag", method="m",
              scope="cradle-to-shelf", figures={"kg_co2e": 2.0})  # fmt: skip
    footprint = chain.story(BAGS).footprint
    assert footprint.total == {"kg_co2e": 2.0}
    assert [v.body["scope"] for v in footprint.apart] == ["cradle-to-gate"]


def test_figures_whose_units_do_not_line_up_are_kept_apart(chain: Chain) -> None:
    chain.say("mill", type="footprint", items=[GREEN], unit="t", per="tonne", method="m",
              figures={"kg_co2e": 4000.0})  # fmt: skip
    chain.say("roaster", type="footprint", items=[BAGS], unit="bag", per="bag", method="m",
              scope="gate-to-gate", figures={"kg_co2e": 0.5})  # fmt: skip
    footprint = chain.story(BAGS).footprint
    assert footprint.total == {"kg_co2e": 0.5}
    assert [v.body["per"] for v in footprint.apart] == ["tonne"]


def test_certifications_of_parties_in_the_chain_with_their_validity(chain: Chain) -> None:
    def certify(party: str, valid_from: str, valid_until: str) -> int:
        return chain.say("cert", type="certification", subject={"party": party},
                         standard=f"S-{party}", certificate="C", valid_from=valid_from,
                         valid_until=valid_until)  # fmt: skip

    certify("farm", "2026-01-01", "2027-01-01")
    certify("mill", "2025-01-01", "2026-01-01")
    certify("roaster", "2027-01-01", "2028-01-01")
    withdrawn = certify("farm", "2026-01-01", "2027-12-31")
    chain.say("cert", type="retraction", retracts=withdrawn, reason="audit failed")
    certify("stranger", "2026-01-01", "2027-01-01")  # not in this chain
    states = {(c.covers, c.state) for c in chain.story(BAGS).certifications}
    assert states == {
        ("farm", "valid"),
        ("mill", "expired"),
        ("roaster", "not-yet-valid"),
        ("farm", "withdrawn"),
    }


def test_a_certification_of_an_upstream_lot_is_shown(chain: Chain) -> None:
    chain.say("cert", type="certification", subject={"items": [GREEN]}, standard="Organic",
              certificate="O-1", valid_from="2026-01-01", valid_until="2027-01-01")  # fmt: skip
    (found,) = chain.story(BAGS).certifications
    assert found.covers == queries.item_keys(GREEN).own
    assert found.state == "valid"


def test_risks_and_benefits_are_listed_with_who_declared_them(chain: Chain) -> None:
    index = chain.say("roaster", type="declaration", items=[PRODUCT], risks=["caffeine"],
                      benefits=["shade-grown", "fair price"])  # fmt: skip
    story = chain.story(BAGS)
    assert [(d.text, d.claim.index) for d in story.risks] == [("caffeine", index)]
    assert [d.text for d in story.benefits] == ["shade-grown", "fair price"]


def test_a_recall_of_an_input_reaches_the_lots_made_from_it(chain: Chain) -> None:
    chain.say("mill", type="recall", items=[GREEN], reason="mould")
    (recall,) = chain.story(BAGS).recalls
    assert recall.item == queries.item_keys(GREEN).own
    assert not recall.direct
    (direct,) = chain.story(GREEN).recalls
    assert direct.direct


def test_a_retracted_recall_is_no_longer_shown_but_is_listed_as_amended(chain: Chain) -> None:
    index = chain.say("mill", type="recall", items=[GREEN], reason="mould")
    chain.say("mill", type="retraction", retracts=index, reason="false alarm")
    story = chain.story(BAGS)
    assert story.recalls == []
    assert [v.index for v in story.amended] == [index]


def test_a_corrected_claim_is_marked_and_still_shown(chain: Chain) -> None:
    index = chain.say("farm", type="origin", items=[CHERRY], place={"country": "CO"},
                      producer="Frm", date="2026-07-02")  # fmt: skip
    chain.say("farm", type="correction", corrects=index, reason="typo in the producer's name",
              replacement={"producer": "Farm"})  # fmt: skip
    story = chain.story(BAGS)
    assert [(v.index, v.status) for v in story.amended] == [(index, "corrected")]
    assert index in [v.index for v in story.origins]


def test_a_suspended_supplier_is_marked_with_the_reason(chain: Chain) -> None:
    submit(chain.ledger, governance(chain.operator, "party.suspend", party="mill",
                                    reason="forged certificates"))  # fmt: skip
    story = chain.story(BAGS)
    assert [(p.id, p.status_reason) for p in story.suspended] == [("mill", "forged certificates")]
    assert story.parties["farm"].status == "active"
