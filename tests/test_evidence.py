"""Tests for provenance.evidence: the bundle a page carries so that its claims verify offline.

The bundle is built from real ledgers (SQLite and PostgreSQL) and checked twice: with the core's own
primitives (signed note, RFC 9162 inclusion, DSSE), and with the reference verifier, which must
name the rule each tamper of ``evidence_cases.TAMPERS`` breaks.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from evidence_cases import (
    HOSTILE_TEXT,
    TAMPERS,
    Scenario,
    Tamper,
    build_scenario,
    sqlite_scenario,
)
from factories import attestation, register, submit
from provenance.checkpoint import open_checkpoint
from provenance.dsse import Envelope, verify_envelope
from provenance.entry import encode_leaf
from provenance.errors import StoreError
from provenance.evidence import (
    RULES,
    EvidenceError,
    build_evidence,
    evidence_json,
    main,
    read_bundle,
    verify_evidence,
)
from provenance.keyfiles import OperatorKeys
from provenance.keys import generate_private_key
from provenance.ledger import Ledger
from provenance.merkle.hashing import hash_leaf
from provenance.merkle.verify import verify_inclusion
from provenance.note import NoteSigner, NoteVerifier


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return sqlite_scenario(tmp_path_factory.mktemp("evidence"))


def bundle_of(ledger: Ledger, indexes: list[int]) -> dict[str, Any]:
    with ledger.log.store.read() as reader:
        return build_evidence(reader, indexes, ledger.log.signer.verifier_key())


def outcomes(scenario: Scenario, evidence: dict[str, Any]) -> dict[str, str | None] | str:
    """Claim name -> rule broken (None if verified), or the rule a bundle-wide failure names."""
    try:
        report = verify_evidence(evidence)
    except EvidenceError as e:
        return e.rule
    return {name: claim.rule for name, claim in zip(scenario.claims, report.claims, strict=True)}


# --- Building -----------------------------------------------------------------------------------


def test_a_bundle_from_a_real_ledger_verifies_with_the_core_primitives(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    alice = register(ledger, operator_keys, "alice")
    claims = [submit(ledger, attestation("alice", alice)).index for _ in range(3)]

    evidence = bundle_of(ledger, claims)

    verifier = NoteVerifier.from_vkey(evidence["log"]["verifier_key"])
    checkpoint = open_checkpoint(evidence["checkpoint"], [verifier], evidence["log"]["origin"])
    assert checkpoint.size == ledger.log.size()
    assert [c["index"] for c in evidence["claims"]] == claims
    keys = {kid: base64.b64decode(k["key"]) for kid, k in evidence["keys"].items()}
    for claim in [*evidence["claims"], *evidence["registrations"]]:
        payload = claim["payload"].encode()
        leaf = encode_leaf(
            claim["index"], claim["time"], claim["kind"], base64.b64decode(claim["prev"]), payload
        )
        proof = [base64.b64decode(h) for h in claim["proof"]]
        verify_inclusion(
            claim["index"], checkpoint.size, hash_leaf(leaf), proof, checkpoint.root_hash
        )
    for claim in evidence["claims"]:
        assert verify_envelope(Envelope.from_json(claim["payload"].encode()), keys)
    (alice_key,) = evidence["keys"].values()
    assert alice_key["party"] == "alice"
    assert alice_key["revoked_at"] is None
    assert [r["index"] for r in evidence["registrations"]] == [alice_key["registered_at"]] == [1]
    report = verify_evidence(evidence, trusted_key=ledger.log.signer.verifier_key())
    assert report.verified
    assert [(c.index, c.party) for c in report.claims] == [(i, "alice") for i in claims]


def test_proofs_are_against_the_latest_checkpoint_and_logarithmic(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    alice = register(ledger, operator_keys, "alice")
    with ledger.log.batch() as batch:  # 300 entries: proofs cross a tile boundary
        for n in range(300):
            batch.add("note", b"entry %d" % n)
    claim = submit(ledger, attestation("alice", alice)).index
    size = ledger.log.size()

    evidence = bundle_of(ledger, [claim, 0, 150, size - 1])

    assert evidence["checkpoint"] == ledger.log.latest_checkpoint()
    for entry in evidence["claims"]:
        want = [
            base64.b64encode(h).decode() for h in ledger.log.inclusion_proof(entry["index"], size)
        ]
        assert entry["proof"] == want
        assert len(entry["proof"]) <= (size - 1).bit_length() == 9
    assert verify_evidence(evidence).claims[0].verified


def test_building_costs_a_fixed_number_of_queries(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    keys = [register(ledger, operator_keys, f"supplier-{n}") for n in range(5)]
    claims = [submit(ledger, attestation(f"supplier-{n}", k)).index for n, k in enumerate(keys)]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = ledger.log.store.reader
    event.listen(engine, "before_cursor_execute", count)
    try:
        bundle_of(ledger, claims[:1])
        one = len(statements)
        statements.clear()
        evidence = bundle_of(ledger, claims)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == one <= 6, statements
    assert len(evidence["keys"]) == len(evidence["registrations"]) == 5


def test_an_empty_log_or_an_index_past_the_checkpoint_is_a_caller_error(
    ledger: Ledger,
) -> None:
    with pytest.raises(ValueError, match="not in the checkpoint's tree"):
        bundle_of(ledger, [1])
    with ledger.log.store.read() as reader:
        reader.connection.execute(text("DELETE FROM log_checkpoint"))
        with pytest.raises(ValueError, match="no checkpoint"):
            build_evidence(reader, [0], ledger.log.signer.verifier_key())


def test_a_changed_stored_byte_fails_that_claim_and_only_that_one(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    alice = register(ledger, operator_keys, "alice")
    first, second = (submit(ledger, attestation("alice", alice)).index for _ in range(2))
    with ledger.log.store.write() as txn:
        leaf = txn.leaf(first)
        assert leaf is not None
        position = leaf.index(b'"payload":"') + 20
        altered = leaf[:position] + bytes([leaf[position] ^ 1]) + leaf[position + 1 :]
        txn.connection.execute(
            text("UPDATE log_entry SET leaf = :leaf WHERE idx = :i"), {"leaf": altered, "i": first}
        )

    report = verify_evidence(bundle_of(ledger, [first, second]))

    assert [(c.index, c.rule) for c in report.claims] == [(first, "proof-root"), (second, None)]


@pytest.mark.parametrize(
    ("altered", "rule"),
    [
        (
            b"\xff",
            "proof-root",
        ),  # no longer UTF-8: carried as payload_base64, still the stored bytes
        (b"prov-entry/v2", "entry"),  # the header no longer decodes
    ],
)
def test_stored_bytes_that_no_longer_decode_are_carried_and_fail(
    ledger: Ledger, operator_keys: OperatorKeys, altered: bytes, rule: str
) -> None:
    alice = register(ledger, operator_keys, "alice")
    claim = submit(ledger, attestation("alice", alice)).index
    with ledger.log.store.write() as txn:
        leaf = txn.leaf(claim)
        assert leaf is not None
        start = 0 if altered.startswith(b"prov") else len(leaf) - 1
        txn.connection.execute(
            text("UPDATE log_entry SET leaf = :leaf WHERE idx = :i"),
            {"leaf": leaf[:start] + altered + leaf[start + len(altered) :], "i": claim},
        )

    evidence = bundle_of(ledger, [claim])

    assert ("payload_base64" in evidence["claims"][0]) == (rule == "proof-root")
    assert [c.rule for c in verify_evidence(evidence).claims] == [rule]


# --- Escaping -----------------------------------------------------------------------------------


def test_evidence_json_cannot_close_the_script_element(scenario: Scenario) -> None:
    embedded = evidence_json(scenario.evidence)

    assert not set("<>&\u2028\u2029") & set(embedded)
    assert json.loads(embedded) == scenario.evidence
    raw = json.dumps(scenario.evidence, ensure_ascii=False)
    assert "</script>" in raw, "the scenario must carry the hostile text unescaped"
    assert HOSTILE_TEXT in json.loads(embedded)["claims"][4]["payload"]


def test_a_saved_page_is_read_and_checked_from_the_command_line(
    scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<!doctype html><p>claims</p>\n"
        f'<script type="application/json" id="evidence">{evidence_json(scenario.evidence)}</script>'
        '\n<script src="/static/verify.js" defer></script>',
        "utf-8",
    )
    assert read_bundle(page.read_text("utf-8")) == scenario.evidence

    key = scenario.log_signer.verifier_key()
    assert main([str(page), "--key", key]) == 1  # the adversarial claims fail
    out = capsys.readouterr().out
    assert f"entry {scenario.claims['alice']}: verified, signed by alice" in out
    assert f"entry {scenario.claims['signed-by-other-party']}: NOT VERIFIED: party:" in out

    alone = dict(scenario.evidence, claims=scenario.evidence["claims"][:1])
    page.write_text(json.dumps(alone), "utf-8")
    assert main([str(page), "--key", key]) == 0
    other = NoteSigner(scenario.log_signer.name, generate_private_key()).verifier_key()
    assert main([str(page), "--key", other]) == 1
    assert "FAILED: log-key:" in capsys.readouterr().err


# --- The rules ----------------------------------------------------------------------------------


def test_the_untampered_scenario_verifies_where_it_should(scenario: Scenario) -> None:
    assert outcomes(scenario, scenario.evidence) == scenario.expected


def test_the_scenario_gives_the_same_outcomes_on_either_database(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    built = build_scenario(ledger, operator_keys)

    assert outcomes(built, built.evidence) == built.expected


def test_every_rule_has_a_tamper() -> None:
    assert {t.rule for t in TAMPERS} | {"party", "statement"} == set(RULES)


@pytest.mark.parametrize("tamper", TAMPERS, ids=lambda t: t.name)
def test_each_tamper_breaks_its_rule(scenario: Scenario, tamper: Tamper) -> None:
    got = outcomes(scenario, tamper.apply(scenario))

    assert got == (tamper.rule if tamper.where == "panel" else tamper.expected(scenario))


def test_a_bundle_naming_another_key_than_the_trusted_one_fails(scenario: Scenario) -> None:
    with pytest.raises(EvidenceError) as caught:
        verify_evidence(scenario.evidence, trusted_key="other+00000000+AQ==")
    assert caught.value.rule == "log-key"


def test_missing_tiles_are_a_store_error(ledger: Ledger, operator_keys: OperatorKeys) -> None:
    register(ledger, operator_keys, "alice")
    with ledger.log.store.write() as txn:
        txn.connection.execute(text("DELETE FROM merkle_tile"))

    with pytest.raises(StoreError, match="proof"):
        bundle_of(ledger, [0])
