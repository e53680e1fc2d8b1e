"""The ledger admits signed statements and refuses bad ones without appending anything."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest

from factories import attestation, b64key, governance, kid, register, registration, submit
from provenance import errors
from provenance.checkpoint import open_checkpoint
from provenance.dsse import Envelope, Signature
from provenance.keyfiles import OperatorKeys
from provenance.keys import generate_private_key
from provenance.ledger import Ledger
from provenance.log import Receipt
from provenance.merkle.verify import verify_inclusion
from provenance.statements import sign_statement


def assert_receipt_verifies(receipt: object, operator_keys: OperatorKeys) -> None:
    checkpoint = open_checkpoint(receipt.checkpoint, [operator_keys.log_verifier])  # type: ignore[attr-defined]
    assert checkpoint.size == receipt.tree_size  # type: ignore[attr-defined]
    verify_inclusion(
        receipt.index,  # type: ignore[attr-defined]
        receipt.tree_size,  # type: ignore[attr-defined]
        receipt.leaf_hash,  # type: ignore[attr-defined]
        receipt.inclusion_proof,  # type: ignore[attr-defined]
        checkpoint.root_hash,
    )


def test_founding_entry_registers_the_operator(ledger: Ledger) -> None:
    assert ledger.log.size() == 1
    assert ledger.registry.parties["operator"].role == "operator"


def test_attestation_gets_a_receipt_that_verifies(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    key = register(ledger, operator_keys, "farm")
    receipt = submit(ledger, attestation("farm", key))
    assert receipt.index == 2
    assert_receipt_verifies(receipt, operator_keys)


def test_group_commit_serves_concurrent_submitters(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    key = register(ledger, operator_keys, "farm")
    statements = [attestation("farm", key) for _ in range(64)]
    receipts: list[object] = [None] * len(statements)

    def worker(position: int) -> None:
        receipts[position] = ledger.submit(statements[position])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(statements))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    indexes = sorted(r.index for r in receipts)  # type: ignore[attr-defined]
    assert indexes == list(range(2, 66))
    for receipt in receipts:
        assert_receipt_verifies(receipt, operator_keys)


def test_a_lingering_committer_is_woken_by_the_submitter_it_awaits(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    key = register(ledger, operator_keys, "farm")
    ledger.linger = 60.0  # in this test only a returning submitter may end a wait
    statements = [attestation("farm", key) for _ in range(5)]
    inside, gate = threading.Event(), threading.Event()

    def hold(_txn: object, _index: int, _time_ms: int) -> None:
        inside.set()
        gate.wait(10)

    first = ledger.enqueue(ledger.prepare(statements[0], on_admit=hold))
    assert inside.wait(10), "the committer never took the first submission"
    queued = [ledger.enqueue(ledger.prepare(s)) for s in statements[1:4]]
    gate.set()
    first.result(timeout=10)
    # One answered and three queued meanwhile: the committer waits for a fourth, the answered
    # submitter's next, before it commits the three.
    time.sleep(0.3)
    assert not any(f.done() for f in queued)
    fourth = ledger.enqueue(ledger.prepare(statements[4]))
    outcomes = [f.result(timeout=10) for f in [*queued, fourth]]  # well before the 60 s linger
    assert sorted(o.index for o in outcomes) == list(range(3, 7))  # type: ignore[union-attr]


def test_same_envelope_twice_returns_the_first_receipt(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    key = register(ledger, operator_keys, "farm")
    data = attestation("farm", key)
    first = submit(ledger, data)
    size = ledger.log.size()
    again = submit(ledger, data)
    assert again == first
    assert ledger.log.size() == size
    # Twice in one batch: one entry, one receipt for both.
    other = attestation("farm", key)
    outcomes = ledger.commit([ledger.prepare(other), ledger.prepare(other)])
    assert outcomes[0] == outcomes[1]
    assert ledger.log.size() == size + 1


def test_reserialized_envelope_of_the_same_statement_is_the_same_submission(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    key = register(ledger, operator_keys, "farm")
    data = attestation("farm", key)
    first = submit(ledger, data)
    spaced = json.dumps(json.loads(data), indent=2).encode()
    assert submit(ledger, spaced) == first


# --- Refusals: each names its reason and appends nothing ----------------------------------------


def refused(ledger: Ledger, data: bytes, error: type[errors.AppendRefused]) -> errors.AppendRefused:
    size = ledger.log.size()
    with pytest.raises(error) as caught:
        submit(ledger, data)
    assert ledger.log.size() == size, "a refused submission must append nothing"
    return caught.value


def test_refuses_wrong_signature(ledger: Ledger, operator_keys: OperatorKeys) -> None:
    key = register(ledger, operator_keys, "farm")
    envelope = Envelope.from_json(attestation("farm", key))
    bad = bytearray(envelope.signatures[0].sig)
    bad[0] ^= 1
    forged = Envelope(envelope.payload_type, envelope.payload, (Signature(kid(key), bytes(bad)),))
    refused(ledger, forged.to_json(), errors.BadEnvelopeSignatureError)


def test_refuses_changed_payload(ledger: Ledger, operator_keys: OperatorKeys) -> None:
    key = register(ledger, operator_keys, "farm")
    envelope = Envelope.from_json(attestation("farm", key, n=10))
    changed = envelope.payload.replace(b'"n":10', b'"n":99')
    tampered = Envelope(envelope.payload_type, changed, envelope.signatures)
    refused(ledger, tampered.to_json(), errors.BadEnvelopeSignatureError)


def test_refuses_unknown_key(ledger: Ledger, operator_keys: OperatorKeys) -> None:
    register(ledger, operator_keys, "farm")
    stranger = generate_private_key()
    refused(ledger, attestation("farm", stranger), errors.UnknownKeyError)


def test_refuses_revoked_key(ledger: Ledger, operator_keys: OperatorKeys) -> None:
    key = register(ledger, operator_keys, "farm")
    submit(ledger, attestation("farm", key))
    spare = generate_private_key()
    submit(ledger, governance(operator_keys, "key.add", party="farm", public_key=b64key(spare)))
    revoke = governance(operator_keys, "key.revoke", party="farm", keyid=kid(key), reason="lost")
    revocation = submit(ledger, revoke)
    error = refused(ledger, attestation("farm", key), errors.RevokedKeyError)
    assert error.revoked_at == revocation.index  # type: ignore[attr-defined]
    submit(ledger, attestation("farm", spare))  # the party's other key still works


def test_refuses_suspended_party_and_reinstates(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    key = register(ledger, operator_keys, "farm")
    submit(ledger, governance(operator_keys, "party.suspend", party="farm", reason="breach 4.2"))
    error = refused(ledger, attestation("farm", key), errors.SuspendedPartyError)
    assert error.reason == "breach 4.2"  # type: ignore[attr-defined]
    assert ledger.registry.parties["farm"].status == "suspended"
    submit(ledger, governance(operator_keys, "party.reinstate", party="farm", reason="remedied"))
    submit(ledger, attestation("farm", key))


def test_refuses_empty_payload(ledger: Ledger) -> None:
    refused(ledger, b"", errors.EmptyPayloadError)


def test_refuses_oversized_payload(ledger: Ledger, operator_keys: OperatorKeys) -> None:
    key = register(ledger, operator_keys, "farm")
    limit = ledger.log.max_payload
    error = refused(ledger, attestation("farm", key, note="x" * limit), errors.PayloadTooLargeError)
    assert error.limit == limit  # type: ignore[attr-defined]


def test_refuses_statement_made_in_another_partys_name(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    register(ledger, operator_keys, "farm")
    mill_key = register(ledger, operator_keys, "mill")
    refused(ledger, attestation("farm", mill_key), errors.NotAuthorizedError)


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"payloadType": "x", "payload": "e30=", "signatures": []}',
        b'{"payloadType": "application/vnd.provenance.statement+json", "payload": "!!"}',
    ],
    ids=["not-json", "not-object", "no-signatures", "bad-base64"],
)
def test_refuses_malformed_envelopes(ledger: Ledger, data: bytes) -> None:
    refused(ledger, data, errors.InvalidStatementError)


def test_refuses_wrong_payload_type_and_unknown_statement_type(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    key = register(ledger, operator_keys, "farm")
    body = json.dumps({"type": "origin", "by": "farm"}).encode()
    from provenance.dsse import sign_envelope

    wrong_type = sign_envelope("application/json", body, [key]).to_json()
    refused(ledger, wrong_type, errors.InvalidStatementError)
    unknown = sign_statement({"type": "teleportation", "by": "farm"}, [key])
    error = refused(ledger, unknown, errors.InvalidStatementError)
    assert "teleportation" in str(error)


def test_only_the_operator_governs(ledger: Ledger, operator_keys: OperatorKeys) -> None:
    farm_key = register(ledger, operator_keys, "farm")
    register(ledger, operator_keys, "mill")
    stranger = generate_private_key()
    by_farm = {
        "type": "party.register",
        "by": "farm",
        "party": {"id": "ghost", "role": "supplier", "name": "Ghost"},
        "keys": [b64key(stranger)],
    }
    refused(ledger, sign_statement(by_farm, [farm_key]), errors.NotAuthorizedError)
    suspend = {"type": "party.suspend", "by": "farm", "party": "mill", "reason": "rival"}
    refused(ledger, sign_statement(suspend, [farm_key]), errors.NotAuthorizedError)


def test_a_party_rotates_its_own_keys(ledger: Ledger, operator_keys: OperatorKeys) -> None:
    old = register(ledger, operator_keys, "farm")
    new = generate_private_key()
    add = {"type": "key.add", "by": "farm", "party": "farm", "public_key": b64key(new)}
    submit(ledger, sign_statement(add, [old]))
    revoke = {"type": "key.revoke", "by": "farm", "party": "farm", "keyid": kid(old)}
    submit(ledger, sign_statement({**revoke, "reason": "rotation"}, [new]))
    refused(ledger, attestation("farm", old), errors.RevokedKeyError)
    submit(ledger, attestation("farm", new))


def test_registry_conflicts(ledger: Ledger, operator_keys: OperatorKeys) -> None:
    key = register(ledger, operator_keys, "farm")
    again = registration(operator_keys, "farm", generate_private_key())
    refused(ledger, again, errors.ConflictError)
    reused_key = registration(operator_keys, "mill", key)
    refused(ledger, reused_key, errors.ConflictError)
    refused(
        ledger,
        governance(operator_keys, "party.suspend", party="operator", reason="self"),
        errors.NotAuthorizedError,
    )
    last_key = kid(operator_keys.operator_key)
    refused(
        ledger,
        governance(operator_keys, "key.revoke", party="operator", keyid=last_key, reason="x"),
        errors.NotAuthorizedError,
    )


def test_a_batch_answers_each_submission(ledger: Ledger, operator_keys: OperatorKeys) -> None:
    key = register(ledger, operator_keys, "farm")
    first = ledger.prepare(attestation("farm", key))
    second = ledger.prepare(attestation("farm", key))
    suspend = ledger.prepare(
        governance(operator_keys, "party.suspend", party="farm", reason="breach")
    )
    after = ledger.prepare(attestation("farm", key))
    outcomes = ledger.commit([first, second, suspend, after])
    assert [type(o).__name__ for o in outcomes] == [
        "Receipt",
        "Receipt",
        "Receipt",
        "SuspendedPartyError",
    ]


def test_invalid_registration_bodies_are_refused(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    key = generate_private_key()
    base = {"type": "party.register", "by": "operator", "keys": [b64key(key)]}
    cases = [
        {"id": "Bad Id", "role": "supplier", "name": "x"},
        {"id": "farm", "role": "wizard", "name": "x"},
        {"id": "farm", "role": "supplier", "name": ""},
        {"id": "farm", "role": "supplier", "name": "x", "gln": "1234567890123"},
        {"id": "farm", "role": "supplier", "name": "x", "country": "colombia"},
    ]
    for party in cases:
        data = sign_statement({**base, "party": party}, [operator_keys.operator_key])
        refused(ledger, data, errors.InvalidStatementError)
    bad_key = {
        **base,
        "party": cases[0] | {"id": "farm"},
        "keys": [base64.b64encode(b"x").decode()],
    }
    refused(
        ledger, sign_statement(bad_key, [operator_keys.operator_key]), errors.InvalidStatementError
    )


def test_a_submitter_that_gives_up_while_queued_appends_nothing_and_stops_nothing(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    """An HTTP request cancelled by a timeout or a shutdown cancels the future it awaits. While
    queued, that submission is dropped; once taken, it can no longer be cancelled. Either way the
    committer lives on and answers everyone else."""
    supplier = register(ledger, operator_keys, "farm")
    submit(ledger, attestation("farm", supplier))  # the committer thread is running
    before = ledger.log.size()
    with ledger.log.batch():  # the committer's next transaction waits for this one
        first = ledger.enqueue(ledger.prepare(attestation("farm", supplier)))
        deadline = time.monotonic() + 5
        while first.running() is False and time.monotonic() < deadline:
            time.sleep(0.001)  # the committer took it and is waiting for the append lock
        assert not first.cancel(), "a submission being appended cannot be cancelled"
        queued = ledger.enqueue(ledger.prepare(attestation("farm", supplier)))
        assert queued.cancel(), "a queued submission can be given up"
    receipt = first.result(timeout=10)
    assert isinstance(receipt, Receipt)
    assert receipt.index == before
    answered = submit(ledger, attestation("farm", supplier))
    assert answered.index == before + 1, "the cancelled submission appended nothing"
    assert ledger.log.size() == before + 2
