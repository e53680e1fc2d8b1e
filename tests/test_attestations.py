"""Attestations: schemas, item identifiers, corrections and retractions, and their read models."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from factories import item, origin_body, register, submit
from provenance import errors
from provenance.attestations import ATTESTATION_TYPES, schema, validate_attestation
from provenance.keyfiles import OperatorKeys
from provenance.ledger import Ledger
from provenance.projections import rebuild
from provenance.replay import verify_log
from provenance.statements import sign_statement


@pytest.mark.parametrize("statement_type", ATTESTATION_TYPES)
def test_every_schema_is_published_with_a_valid_example(statement_type: str) -> None:
    published = schema(statement_type)
    assert published["$id"] == f"https://provenance.dev/schemas/{statement_type}/v1.json"
    assert published["description"]
    for example in published["examples"]:
        validate_attestation(example)


def bad(body: dict[str, Any], match: str) -> None:
    with pytest.raises(errors.InvalidStatementError, match=match):
        validate_attestation(body)


def test_schema_refusals_name_the_field() -> None:
    bad({**origin_body("farm"), "items": []}, r"origin\.items")
    bad({**origin_body("farm"), "date": "14/07/2026"}, r"origin\.date")
    bad({**origin_body("farm"), "place": {}}, r"origin\.place")
    bad({**origin_body("farm"), "colour": "red"}, "colour")
    bad({k: v for k, v in origin_body("farm").items() if k != "producer"}, "producer")
    bad({"type": "custody", "by": "x", "items": [item("A")], "event": "teleport",
         "from": "a", "to": "b", "date": "2026-01-01"}, r"custody\.event")  # fmt: skip


def test_items_need_a_gtin_with_a_valid_check_digit() -> None:
    bad({**origin_body("farm"), "items": [item("A", gtin="09506000134353")]}, "check-digit")
    bad({**origin_body("farm"), "items": ["https://id.gs1.org/01/0950600013435/10/A"]}, "items")


def test_a_bad_item_is_named_by_its_exact_field() -> None:
    broken = item("X", gtin="09506000134353")
    good = item("A")
    bad({**origin_body("farm"), "items": [good, broken]}, r"^items\[1\]: ")
    flow = {"type": "transformation", "by": "mill", "process": "milling", "date": "2026-07-20"}
    bad({**flow, "inputs": [{"item": broken, "quantity": {"value": 1, "unit": "kg"}}],
         "outputs": [{"item": good, "quantity": {"value": 1, "unit": "kg"}}]},
        r"^inputs\[0\]\.item: ")  # fmt: skip
    bad({**flow, "inputs": [{"item": good, "quantity": {"value": 1, "unit": "kg"}}],
         "outputs": [{"item": good, "quantity": {"value": 1, "unit": "kg"}},
                     {"item": broken, "quantity": {"value": 1, "unit": "kg"}}]},
        r"^outputs\[1\]\.item: ")  # fmt: skip
    certification = schema("certification")["examples"][0]
    subject = {**certification["subject"], "items": [good, item("B"), broken]}
    bad({**certification, "subject": subject}, r"^subject\.items\[2\]: ")


def attest(ledger: Ledger, by: str, key: object, body: dict[str, Any]) -> int:
    return submit(ledger, sign_statement({"by": by, **body}, [key])).index  # type: ignore[list-item]


def test_refusals_append_nothing(ledger: Ledger, operator_keys: OperatorKeys) -> None:
    key = register(ledger, operator_keys, "farm")
    size = ledger.log.size()
    for body in (
        {**origin_body("farm"), "items": [item("A", gtin="09506000134353")]},
        {**origin_body("farm"), "quantity": "lots"},
    ):
        with pytest.raises(errors.InvalidStatementError):
            submit(ledger, sign_statement(body, [key]))
    assert ledger.log.size() == size


def test_corrections_and_retractions_are_the_authors_own(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    farm = register(ledger, operator_keys, "farm")
    mill = register(ledger, operator_keys, "mill")
    original = submit(ledger, sign_statement(origin_body("farm"), [farm])).index
    correction = {"type": "correction", "corrects": original, "reason": "re-weighed",
                  "replacement": {"quantity": {"value": 1180, "unit": "kg"}}}  # fmt: skip
    with pytest.raises(errors.NotAuthorizedError, match="only its author"):
        submit(ledger, sign_statement({"by": "mill", **correction}, [mill]))
    fixed = submit(ledger, sign_statement({"by": "farm", **correction}, [farm])).index
    with pytest.raises(errors.InvalidStatementError, match="correct the original"):
        submit(ledger, sign_statement({"by": "farm", **correction, "corrects": fixed}, [farm]))
    with pytest.raises(errors.InvalidStatementError, match="not an attestation"):
        submit(ledger, sign_statement({"by": "farm", **correction, "corrects": 0}, [farm]))
    with pytest.raises(errors.InvalidStatementError, match="earlier"):
        submit(ledger, sign_statement({"by": "farm", **correction, "corrects": 999}, [farm]))
    retraction = {"type": "retraction", "by": "farm", "retracts": original, "reason": "duplicate"}
    submit(ledger, sign_statement(retraction, [farm]))
    assert verify_log(ledger.log.store, [operator_keys.log_verifier]).ok


def test_replay_catches_a_correction_of_someone_elses_entry(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    farm = register(ledger, operator_keys, "farm")
    mill = register(ledger, operator_keys, "mill")
    original = submit(ledger, sign_statement(origin_body("farm"), [farm])).index
    forged = sign_statement(
        {"type": "retraction", "by": "mill", "retracts": original, "reason": "rival"}, [mill]
    )
    from provenance.statements import parse_envelope, parse_statement

    statement = parse_statement(parse_envelope(forged))
    with ledger.log.batch() as batch:  # past the ledger's rules, as a rogue sequencer would
        batch.add(statement.type, forged, statement.digest)
    error = verify_log(ledger.log.store, [operator_keys.log_verifier]).error
    assert error is not None
    assert (error.index, error.what) == (original + 1, "registry")
    assert "only its author" in error.detail


def test_read_models_index_items_and_lineage_and_rebuild_identically(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    farm = register(ledger, operator_keys, "farm")
    mill = register(ledger, operator_keys, "mill")
    cherry, green = item("CHERRY-1"), item("GREEN-1", gtin="09506000134369")
    submit(ledger, sign_statement(origin_body("farm", items=[cherry]), [farm]))
    transformation = {"type": "transformation", "by": "mill", "process": "washing",
                      "inputs": [{"item": cherry}], "outputs": [{"item": green}],
                      "date": "2026-08-01"}  # fmt: skip
    made = submit(ledger, sign_statement(transformation, [mill])).index

    def snapshot() -> dict[str, list[tuple[Any, ...]]]:
        with ledger.log.store.read() as reader:
            return {
                table: [tuple(r) for r in reader.connection.execute(text(f"SELECT * FROM {table}"))]
                for table in ("statement", "item_ref", "lineage_edge", "party", "party_key")
            }

    before = snapshot()
    assert ("/01/09506000134352/10/CHERRY-1", "/01/09506000134369/10/GREEN-1", made) in before[
        "lineage_edge"
    ]
    assert {r[2] for r in before["item_ref"] if r[1] == made} == {"input", "output"}
    with ledger.log.store.writer.begin() as connection:
        for table in ("statement", "item_ref", "lineage_edge"):
            connection.execute(text(f"DELETE FROM {table}"))
    rebuild(ledger.log.store)
    after = snapshot()
    assert {k: sorted(v) for k, v in after.items()} == {k: sorted(v) for k, v in before.items()}
