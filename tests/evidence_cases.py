"""A log that exercises every rule of a page's evidence, and the ways to tamper with its bundle.

Shared by ``tests/test_evidence.py`` (the Python reference verifier) and
``tests/web/test_verifier_browser.py`` (``web/static/verify.js`` in Chromium): each tamper names the
rule that both verifiers must report, so the two cannot drift apart.

Some rules can only fail on entries the ledger would never admit (a statement signed by another
party's key, a signature that does not verify, a payload that is no statement); those are appended
to the log directly, below the ledger, as a log operator gone rogue could.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factories import attestation, b64key, item, kid, origin_body, register, submit
from provenance.bootstrap import founding_statement
from provenance.dsse import Envelope, Signature, sign_envelope
from provenance.evidence import build_evidence
from provenance.keyfiles import OperatorKeys, init_keys
from provenance.keys import generate_private_key, public_key_bytes
from provenance.ledger import Ledger
from provenance.log import Log
from provenance.note import NoteSigner, parse_note, sign_note
from provenance.reviews import ReviewContent, evidence_contents, new_review, reviews
from provenance.statements import KEY_ADD, KEY_REVOKE, PAYLOAD_TYPE, sign_statement
from provenance.store.sql import SqlStore

EPCIS_DOCUMENT = Path(__file__).parent / "vectors" / "epcis" / "Example_9.6.1-ObjectEvent.jsonld"
HOSTILE_TEXT = "</script><script>alert(1)</script> <!-- & > \u2028 \u2029 ünïcödé"
"""Text that would break out of a <script> element if the bundle were not escaped."""


@dataclass
class Scenario:
    """The log, its bundle, and which claim is which."""

    evidence: dict[str, Any]
    log_signer: NoteSigner
    registered: dict[str, int]
    """Party id -> index of its party.register entry."""
    keyids: dict[str, str]
    """``alice``, ``alice-added`` (added by key.add, revoked later), ``bob`` -> DSSE keyid."""
    claims: dict[str, int]
    """Name -> index of each claim, in the order the bundle lists them."""
    expected: dict[str, str | None] = field(default_factory=dict)
    """Name -> the rule each claim breaks untampered (None: it verifies)."""

    def index_of(self, evidence: dict[str, Any], name: str) -> int:
        """Position in ``evidence["claims"]`` of the claim called ``name``."""
        return [c["index"] for c in evidence["claims"]].index(self.claims[name])


def build_scenario(ledger: Ledger, operator: OperatorKeys) -> Scenario:
    """Fill the founded ``ledger`` with the claims below and return the bundle for them all."""
    alice = register(ledger, operator, "alice")
    bob = register(ledger, operator, "bob")
    claims = {"alice": submit(ledger, attestation("alice", alice)).index}
    claims["bob"] = submit(ledger, attestation("bob", bob)).index
    added = generate_private_key()
    add = {"type": KEY_ADD, "by": "alice", "party": "alice", "public_key": b64key(added)}
    submit(ledger, sign_statement(add, [alice]))
    claims["alice-added-key"] = submit(ledger, attestation("alice", added)).index
    revoke = {"type": KEY_REVOKE, "by": "alice", "party": "alice", "keyid": kid(added)}
    submit(ledger, sign_statement({**revoke, "reason": "rotated"}, [alice]))
    capture = sign_envelope("application/ld+json", EPCIS_DOCUMENT.read_bytes(), [bob])
    claims["bob-capture"] = submit(ledger, capture.to_json()).index
    # A signature by a key nobody registered is ignored by the ledger, so its keyid (a free
    # string) reaches the page as written; the statement's note carries the same text.
    hostile = sign_envelope(
        PAYLOAD_TYPE, json.dumps(origin_body("alice", note=HOSTILE_TEXT)).encode(), [alice]
    )
    with_hostile_keyid = Envelope(
        hostile.payload_type,
        hostile.payload,
        (*hostile.signatures, Signature(HOSTILE_TEXT, bytes(64))),
    )
    claims["escaped"] = submit(ledger, with_hostile_keyid.to_json()).index
    review = new_review(ReviewContent(item("LOT-1").removeprefix("https://id.gs1.org"),
                                      "experience", 5, "Good", HOSTILE_TEXT))  # fmt: skip
    signed_review = sign_statement(
        {"by": "operator", **review.statement()}, [operator.operator_key]
    )
    (outcome,) = ledger.commit([ledger.prepare(signed_review, on_admit=review.admit)])
    assert not isinstance(outcome, Exception), outcome
    claims["review"] = outcome.index

    # Below the ledger: entries its rules would have refused.
    signed = sign_envelope(PAYLOAD_TYPE, json.dumps(origin_body("alice")).encode(), [alice])
    broken = Envelope(
        signed.payload_type,
        signed.payload,
        (Signature(signed.signatures[0].keyid, flip(signed.signatures[0].sig)),),
    )
    (by_other,) = ledger.log.append([("origin", attestation("alice", bob))])
    (bad_signature,) = ledger.log.append([("origin", broken.to_json())])
    (not_statement,) = ledger.log.append([("origin", b'{"hello": "world"}')])
    claims |= {
        "signed-by-other-party": by_other.index,
        "bad-signature": bad_signature.index,
        "not-a-statement": not_statement.index,
    }
    with ledger.log.store.read() as reader:
        evidence = build_evidence(reader, claims.values(), ledger.log.signer.verifier_key())
        evidence["reviews"] = evidence_contents(reviews(reader, indexes=[claims["review"]]))
    return Scenario(
        evidence=evidence,
        log_signer=ledger.log.signer,
        registered={"operator": 0, "alice": 1, "bob": 2},
        keyids={"alice": kid(alice), "alice-added": kid(added), "bob": kid(bob)},
        claims=claims,
        expected={
            "alice": None,
            "bob": None,
            "alice-added-key": None,
            "bob-capture": None,
            "escaped": None,
            "review": None,
            "signed-by-other-party": "party",
            "bad-signature": "signature",
            "not-a-statement": "statement",
        },
    )


def sqlite_scenario(directory: Path) -> Scenario:
    """Build the scenario in a new SQLite ledger under ``directory``."""
    keys, _ = init_keys(directory / "keys", "test.example/log")
    store = SqlStore.open(f"sqlite:///{directory / 'scenario.db'}")
    ledger = Ledger(Log(store, keys.log_signer))
    try:
        ledger.commit([ledger.prepare(founding_statement(keys))])
        return build_scenario(ledger, keys)
    finally:
        ledger.close()
        store.close()


# --- Tampering ----------------------------------------------------------------------------------


def flip(data: bytes, position: int = 0) -> bytes:
    """``data`` with the low bit of one byte flipped."""
    return data[:position] + bytes([data[position] ^ 1]) + data[position + 1 :]


def flip_b64(text: str, position: int = 0) -> str:
    """A base64 string whose decoded bytes have one bit flipped."""
    return base64.b64encode(flip(base64.b64decode(text), position)).decode()


def resign(scenario: Scenario, evidence: dict[str, Any], edit: Callable[[str], str]) -> None:
    """Replace the checkpoint by ``edit`` of its text, signed by the real log key."""
    body = edit(parse_note(evidence["checkpoint"]).body)
    evidence["checkpoint"] = sign_note(body, [scenario.log_signer])


@dataclass(frozen=True)
class Tamper:
    """One way to alter a bundle, and the rule that must catch it.

    ``where`` is ``"panel"`` when the whole bundle fails (no claim can verify), ``"all"`` when
    every claim fails with ``rule``, else the names of the claims that now fail with ``rule``;
    ``others`` names claims the same change makes fail by another rule. The rest keep their
    untampered outcome.
    """

    name: str
    edit: Callable[[Scenario, dict[str, Any]], None]
    rule: str
    where: str | tuple[str, ...]
    others: dict[str, str] = field(default_factory=dict)

    def apply(self, scenario: Scenario) -> dict[str, Any]:
        """Return a tampered copy of the scenario's bundle."""
        evidence = copy.deepcopy(scenario.evidence)
        self.edit(scenario, evidence)
        return evidence

    def expected(self, scenario: Scenario) -> dict[str, str | None]:
        """Claim name -> the rule it must now break (None: it still verifies), in bundle order."""
        names = scenario.claims if self.where in ("panel", "all") else self.where
        return {**scenario.expected, **self.others, **dict.fromkeys(names, self.rule)}


def _claim(scenario: Scenario, evidence: dict[str, Any], name: str = "alice") -> dict[str, Any]:
    claim: dict[str, Any] = evidence["claims"][scenario.index_of(evidence, name)]
    return claim


def _registration(scenario: Scenario, evidence: dict[str, Any], party: str) -> dict[str, Any]:
    index = scenario.registered[party]
    (found,) = [r for r in evidence["registrations"] if r["index"] == index]
    registration: dict[str, Any] = found
    return registration


def _set(path: tuple[str, ...], value: Any) -> Callable[[Scenario, dict[str, Any]], None]:
    def edit(_: Scenario, evidence: dict[str, Any]) -> None:
        target = evidence
        for name in path[:-1]:
            target = target[name]
        target[path[-1]] = value

    return edit


def _edit_claim(
    change: Callable[[Scenario, dict[str, Any]], None], name: str = "alice"
) -> Callable[[Scenario, dict[str, Any]], None]:
    def edit(scenario: Scenario, evidence: dict[str, Any]) -> None:
        change(scenario, _claim(scenario, evidence, name))

    return edit


def _edit_key(
    keyname: str, change: Callable[[Scenario, dict[str, Any]], None]
) -> Callable[[Scenario, dict[str, Any]], None]:
    def edit(scenario: Scenario, evidence: dict[str, Any]) -> None:
        change(scenario, evidence["keys"][scenario.keyids[keyname]])

    return edit


def _alter_checkpoint_signature(_: Scenario, evidence: dict[str, Any]) -> None:
    note = parse_note(evidence["checkpoint"])
    (signature,) = note.signatures
    raw = signature.key_id + signature.signature
    line = f"— {signature.name} {base64.b64encode(flip(raw, 10)).decode()}\n"
    evidence["checkpoint"] = note.body + "\n" + line


def _alter_root_unsigned(_: Scenario, evidence: dict[str, Any]) -> None:
    lines = evidence["checkpoint"].split("\n")
    lines[2] = flip_b64(lines[2])
    evidence["checkpoint"] = "\n".join(lines)


def _alter_root_resigned(scenario: Scenario, evidence: dict[str, Any]) -> None:
    def edit(body: str) -> str:
        origin, size, root, *rest = body.split("\n")
        return "\n".join([origin, size, flip_b64(root), *rest])

    resign(scenario, evidence, edit)


def _malformed_size_resigned(scenario: Scenario, evidence: dict[str, Any]) -> None:
    def edit(body: str) -> str:
        origin, size, *rest = body.split("\n")
        return "\n".join([origin, "0" + size, *rest])

    resign(scenario, evidence, edit)


def _another_log_key(scenario: Scenario, evidence: dict[str, Any]) -> None:
    other = NoteSigner(scenario.log_signer.name, generate_private_key())
    evidence["log"]["verifier_key"] = other.verifier_key()


def _malformed_log_key(_: Scenario, evidence: dict[str, Any]) -> None:
    name, key_id, key = evidence["log"]["verifier_key"].split("+", 2)
    evidence["log"]["verifier_key"] = f"{name}+{int(key_id, 16) ^ 1:08x}+{key}"


def _sibling_index(scenario: Scenario, claim: dict[str, Any]) -> None:
    size = int(parse_note(scenario.evidence["checkpoint"]).body.split("\n")[1])
    sibling = claim["index"] ^ 1
    # The sibling's proof has the same length, so only the root can tell the two apart.
    assert _proof_length(sibling, size) == _proof_length(claim["index"], size)
    claim["index"] = sibling


def _proof_length(index: int, size: int) -> int:
    inner = (index ^ (size - 1)).bit_length()  # RFC 9162: below the fork, then the right border
    return inner + (index >> inner).bit_count()


def _unreadable(scenario: Scenario, evidence: dict[str, Any]) -> None:
    # What build_evidence gives for a stored leaf whose header no longer decodes.
    position = scenario.index_of(evidence, "alice")
    evidence["claims"][position] = {"index": scenario.claims["alice"], "unreadable": "bad header"}


def _change_payload_byte(_: Scenario, claim: dict[str, Any]) -> None:
    payload = claim["payload"]
    position = payload.index('"payload":"') + 20
    replacement = "A" if payload[position] != "A" else "B"
    claim["payload"] = payload[:position] + replacement + payload[position + 1 :]


def _replace_key(_: Scenario, key: dict[str, Any]) -> None:
    key["key"] = base64.b64encode(public_key_bytes(generate_private_key())).decode()


def _point_at_bob_registration(scenario: Scenario, key: dict[str, Any]) -> None:
    key["registered_at"] = scenario.registered["bob"]


def _registered_at_claim(scenario: Scenario, key: dict[str, Any]) -> None:
    key["registered_at"] = scenario.claims["alice"]


def _revoked_at_claim(scenario: Scenario, key: dict[str, Any]) -> None:
    key["revoked_at"] = scenario.claims["alice"]


def _alter_registration_proof(scenario: Scenario, evidence: dict[str, Any]) -> None:
    registration = _registration(scenario, evidence, "alice")
    registration["proof"][0] = flip_b64(registration["proof"][0])


def _drop_registrations(_: Scenario, evidence: dict[str, Any]) -> None:
    evidence["registrations"] = []


def _edit_review(
    edit: Callable[[dict[str, Any]], None],
) -> Callable[[Scenario, dict[str, Any]], None]:
    """Edit the content or salt the bundle shows for the review claim."""

    def apply(scenario: Scenario, evidence: dict[str, Any]) -> None:
        edit(evidence["reviews"][str(scenario.claims["review"])])

    return apply


SIGNED_BY_REGISTERED_KEYS = ("alice", "bob", "alice-added-key", "bob-capture", "escaped", "review")

TAMPERS = [
    Tamper("unknown-version", _set(("version",), 2), "evidence", "panel"),
    Tamper("claims-not-a-list", _set(("claims",), {}), "evidence", "panel"),
    Tamper("log-key-id-altered", _malformed_log_key, "log-key", "panel"),
    Tamper(
        "log-key-not-ed25519", _set(("log", "verifier_key"), "x+00000000+AgA="), "log-key", "panel"
    ),
    Tamper("another-log-key", _another_log_key, "checkpoint-signature", "panel"),
    Tamper(
        "checkpoint-signature-altered", _alter_checkpoint_signature, "checkpoint-signature", "panel"
    ),
    Tamper("checkpoint-root-altered", _alter_root_unsigned, "checkpoint-signature", "panel"),
    Tamper(
        "checkpoint-not-a-note", _set(("checkpoint",), "test\n1\n"), "checkpoint-signature", "panel"
    ),
    Tamper("checkpoint-size-malformed", _malformed_size_resigned, "checkpoint", "panel"),
    Tamper(
        "checkpoint-other-origin",
        _set(("log", "origin"), "other.example/log"),
        "checkpoint",
        "panel",
    ),
    Tamper("checkpoint-root-altered-and-resigned", _alter_root_resigned, "proof-root", "all"),
    Tamper("kind-invalid", _edit_claim(lambda _, c: c.update(kind="Origin!")), "entry", ("alice",)),
    Tamper("entry-unreadable", _unreadable, "entry", ("alice",)),
    Tamper("payload-missing", _edit_claim(lambda _, c: c.pop("payload")), "entry", ("alice",)),
    Tamper(
        "index-beyond-tree",
        _edit_claim(lambda _, c: c.update(index=10**6)),
        "proof-size",
        ("alice",),
    ),
    Tamper("proof-too-short", _edit_claim(lambda _, c: c["proof"].pop()), "proof-size", ("alice",)),
    Tamper(
        "proof-too-long",
        _edit_claim(lambda _, c: c["proof"].append(c["proof"][0])),
        "proof-size",
        ("alice",),
    ),
    Tamper(
        "proof-hash-altered",
        _edit_claim(lambda _, c: c["proof"].__setitem__(0, flip_b64(c["proof"][0]))),
        "proof-root",
        ("alice",),
    ),
    Tamper("index-altered", _edit_claim(_sibling_index), "proof-root", ("alice",)),
    Tamper(
        "time-altered",
        _edit_claim(lambda _, c: c.update(time=c["time"] + 1)),
        "proof-root",
        ("alice",),
    ),
    Tamper(
        "prev-altered",
        _edit_claim(lambda _, c: c.update(prev=flip_b64(c["prev"]))),
        "proof-root",
        ("alice",),
    ),
    Tamper("payload-byte-changed", _edit_claim(_change_payload_byte), "proof-root", ("alice",)),
    Tamper(
        "signer-key-replaced", _edit_key("alice", _replace_key), "signature", ("alice", "escaped")
    ),
    Tamper(
        "key-registered-at-claim",
        _edit_key("alice", _registered_at_claim),
        "signature",
        ("alice",),
        # a later claim by the key now points at an entry that registers nothing
        others={"escaped": "key-registration"},
    ),
    Tamper(
        "registration-names-another-key",
        _edit_key("alice", _point_at_bob_registration),
        "key-registration",
        ("alice", "escaped"),
    ),
    Tamper(
        "registration-proof-altered",
        _alter_registration_proof,
        "key-registration",
        ("alice", "escaped"),
    ),
    Tamper(
        "registrations-missing", _drop_registrations, "key-registration", SIGNED_BY_REGISTERED_KEYS
    ),
    Tamper(
        "review-content-altered",
        _edit_review(lambda r: r.update(content=r["content"][:-2] + "}")),
        "commitment",
        ("review",),
    ),
    Tamper(
        "review-salt-altered",
        _edit_review(lambda r: r.update(salt=flip_b64(r["salt"]))),
        "commitment",
        ("review",),
    ),
    Tamper(
        "key-revoked-at-claim",
        _edit_key("alice", _revoked_at_claim),
        "key-revoked",
        ("alice", "escaped"),
    ),
]
"""Every bundle-wide and per-claim rule, each caught by at least one tamper."""
