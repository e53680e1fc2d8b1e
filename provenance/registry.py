"""The registry of parties and their keys, as a state machine over the log.

The registry's state is a pure function of the log: :meth:`Registry.apply` folds one registry entry
into it, and the same :meth:`Registry.admit` rules decide, at append time and again at replay, whether
a statement may be appended at a given index. Because both paths share this code, a log that
verifies is exactly a log that the rules would have accepted entry by entry.

Rules (each raises a specific :class:`~provenance.errors.AppendRefused`):

1. At least one signature must be by a key of the party named in ``by``, and must verify
   (otherwise UnknownKeyError, or NotAuthorizedError when only other parties' keys signed).
2. That key must not be revoked (RevokedKeyError) and its party must not be suspended
   (SuspendedPartyError).
3. Governance statements (register, suspend, reinstate) are the operator's; a party may add keys to
   itself and revoke its own keys; the operator may do both for anyone (NotAuthorizedError).
4. Ids and keys are unique (ConflictError); an operator cannot be suspended, nor lose its last key.
5. The very first registration, into an empty registry, is the operator registering itself, signed
   by one of the keys it registers: the log's trust root.

This module does no I/O and verifies no signatures itself: callers pass the keyids whose signatures
they verified, so that verification can run in parallel, outside the append lock.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from provenance import statements as st
from provenance.errors import (
    ConflictError,
    InvalidStatementError,
    NotAuthorizedError,
    RevokedKeyError,
    SuspendedPartyError,
    UnknownKeyError,
)
from provenance.keys import keyid as keyid_of
from provenance.statements import Statement


@dataclass
class PartyState:
    """A party as the registry knows it at some log index."""

    id: str
    role: str
    name: str
    gln: str | None
    country: str | None
    website: str | None
    status: str
    status_reason: str | None
    registered_at: int
    updated_at: int


@dataclass
class KeyState:
    """A party's key, with the log index it was added at and, if revoked, revoked at."""

    keyid: str
    party_id: str
    public_key: bytes
    added_at: int
    revoked_at: int | None = None
    revoke_reason: str | None = None


class Registry:
    """Parties and keys, and the rules for who may append what."""

    def __init__(self) -> None:
        self.parties: dict[str, PartyState] = {}
        self.keys: dict[str, KeyState] = {}
        self.dirty_parties: set[str] = set()
        self.dirty_keys: set[str] = set()

    def copy(self) -> Registry:
        """Return an independent copy, so that a batch can be tried without touching this one."""
        clone = Registry()
        clone.parties = copy.deepcopy(self.parties)
        clone.keys = copy.deepcopy(self.keys)
        clone.dirty_parties = set(self.dirty_parties)
        clone.dirty_keys = set(self.dirty_keys)
        return clone

    def resolve_party(self, statement: Statement) -> Statement:
        """Return ``statement`` with its party set: for an EPCIS capture, which names none, the
        owner of the first registered key that signed it; other statements are returned as they are."""
        if statement.by:
            return statement
        for signature in statement.envelope.signatures:
            key = self.keys.get(signature.keyid)
            if key is not None:
                return dataclasses.replace(statement, by=key.party_id)
        names = ", ".join(s.keyid for s in statement.envelope.signatures)
        raise UnknownKeyError(f"no signature is by a registered key (keyids: {names})")

    # --- Signature keys -------------------------------------------------------------------------

    def signing_keys(self, statement: Statement) -> dict[str, bytes]:
        """Return the public keys that may have signed ``statement``, by keyid.

        These are the registered keys named by its signatures and, for the self-registration that
        founds an empty registry, the keys that statement registers.
        """
        wanted = {s.keyid for s in statement.envelope.signatures}
        found = {k: self.keys[k].public_key for k in wanted if k in self.keys}
        if self._is_founding(statement):
            for value in statement.body["keys"]:
                key = st.public_key_of(value)
                if keyid_of(key) in wanted:
                    found[keyid_of(key)] = key
        return found

    def _is_founding(self, statement: Statement) -> bool:
        return (
            not self.parties
            and statement.type == st.PARTY_REGISTER
            and statement.body["party"]["id"] == statement.by
            and statement.body["party"]["role"] == "operator"
        )

    # --- Admission ------------------------------------------------------------------------------

    def admit(self, statement: Statement, verified: set[str], index: int) -> None:
        """Raise unless ``statement``, whose signatures by ``verified`` keyids verified, may be
        appended at ``index``; change nothing."""
        if self._is_founding(statement):
            own = {keyid_of(st.public_key_of(k)) for k in statement.body["keys"]}
            if not verified & own:
                raise UnknownKeyError(
                    "the founding registration must be signed by a key it registers"
                )
            return
        self._check_signer(statement, verified, index)
        rule = _RULES.get(statement.type)
        if rule is not None:
            rule(self, statement)

    def _check_signer(self, statement: Statement, verified: set[str], index: int) -> None:
        signed_by = [self.keys[k] for k in verified if k in self.keys]
        if not signed_by:
            names = ", ".join(s.keyid for s in statement.envelope.signatures)
            raise UnknownKeyError(f"no signature is by a registered key (keyids: {names})")
        own = [k for k in signed_by if k.party_id == statement.by]
        if not own:
            raise NotAuthorizedError(
                f"statement is made by {statement.by!r} but signed only by keys of "
                + ", ".join(sorted({k.party_id for k in signed_by}))
            )
        active = [k for k in own if k.revoked_at is None or k.revoked_at > index]
        if not active:
            revoked = own[0]
            raise RevokedKeyError(revoked.keyid, revoked.revoked_at or 0)
        party = self.parties[statement.by]
        if party.status == "suspended":
            raise SuspendedPartyError(party.id, party.status_reason or "")

    def _require_operator(self, statement: Statement) -> None:
        if self.parties[statement.by].role != "operator":
            raise NotAuthorizedError(f"only an operator may make a {statement.type} statement")

    def _target(self, statement: Statement) -> PartyState:
        party = self.parties.get(statement.body["party"])
        if party is None:
            raise InvalidStatementError(f"party {statement.body['party']!r} is not registered")
        return party

    def _rule_register(self, statement: Statement) -> None:
        self._require_operator(statement)
        party_id = statement.body["party"]["id"]
        if party_id in self.parties:
            raise ConflictError(f"party {party_id!r} is already registered")
        self._check_new_keys(statement.body["keys"])

    def _check_new_keys(self, values: list[Any]) -> None:
        ids = [keyid_of(st.public_key_of(v)) for v in values]
        if len(set(ids)) != len(ids):
            raise InvalidStatementError("the same key is listed twice")
        for kid in ids:
            if kid in self.keys:
                raise ConflictError(f"key {kid} is already registered")

    def _rule_status(self, statement: Statement) -> None:
        self._require_operator(statement)
        party = self._target(statement)
        if statement.type == st.PARTY_SUSPEND:
            if party.role == "operator":
                raise NotAuthorizedError("an operator cannot be suspended")
            if party.status == "suspended":
                raise ConflictError(f"party {party.id!r} is already suspended")
        elif party.status != "suspended":
            raise ConflictError(f"party {party.id!r} is not suspended")

    def _rule_key_add(self, statement: Statement) -> None:
        self._may_manage_keys_of(statement)
        self._target(statement)
        self._check_new_keys([statement.body["public_key"]])

    def _rule_key_revoke(self, statement: Statement) -> None:
        self._may_manage_keys_of(statement)
        party = self._target(statement)
        key = self.keys.get(statement.body["keyid"])
        if key is None or key.party_id != party.id:
            raise InvalidStatementError(
                f"key {statement.body['keyid']} is not a key of {party.id!r}"
            )
        if key.revoked_at is not None:
            raise ConflictError(f"key {key.keyid} is already revoked")
        if party.role == "operator" and len(self.active_keys(party.id)) <= 1:
            raise NotAuthorizedError("an operator's last active key cannot be revoked")

    def _may_manage_keys_of(self, statement: Statement) -> None:
        if statement.body["party"] != statement.by:
            self._require_operator(statement)

    def active_keys(self, party_id: str) -> list[KeyState]:
        """Return the keys of ``party_id`` that are not revoked."""
        return [k for k in self.keys.values() if k.party_id == party_id and k.revoked_at is None]

    # --- State changes --------------------------------------------------------------------------

    def apply(self, statement: Statement, index: int) -> None:
        """Fold an admitted registry statement at ``index`` into the state; others change nothing."""
        body = statement.body
        if statement.type == st.PARTY_REGISTER:
            p = body["party"]
            self.parties[p["id"]] = PartyState(
                p["id"], p["role"], p["name"], p.get("gln"), p.get("country"), p.get("website"),
                "active", None, index, index,
            )  # fmt: skip
            self.dirty_parties.add(p["id"])
            for value in body["keys"]:
                self._add_key(p["id"], st.public_key_of(value), index)
        elif statement.type in (st.PARTY_SUSPEND, st.PARTY_REINSTATE):
            party = self.parties[body["party"]]
            party.status = "suspended" if statement.type == st.PARTY_SUSPEND else "active"
            party.status_reason = body["reason"]
            party.updated_at = index
            self.dirty_parties.add(party.id)
        elif statement.type == st.KEY_ADD:
            self._add_key(body["party"], st.public_key_of(body["public_key"]), index)
        elif statement.type == st.KEY_REVOKE:
            key = self.keys[body["keyid"]]
            key.revoked_at = index
            key.revoke_reason = body["reason"]
            self.dirty_keys.add(key.keyid)

    def _add_key(self, party_id: str, public_key: bytes, index: int) -> None:
        kid = keyid_of(public_key)
        self.keys[kid] = KeyState(kid, party_id, public_key, index)
        self.dirty_keys.add(kid)

    # --- Projection rows ------------------------------------------------------------------------

    def take_dirty_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Return the party and key rows changed since the last call, and forget them."""
        parties = [vars(self.parties[p]).copy() for p in sorted(self.dirty_parties)]
        keys = [vars(self.keys[k]).copy() for k in sorted(self.dirty_keys)]
        self.dirty_parties.clear()
        self.dirty_keys.clear()
        return parties, keys

    @classmethod
    def from_rows(cls, parties: list[dict[str, Any]], keys: list[dict[str, Any]]) -> Registry:
        """Restore a registry from its projection rows."""
        registry = cls()
        for row in parties:
            registry.parties[row["id"]] = PartyState(**row)
        for row in keys:
            registry.keys[row["keyid"]] = KeyState(
                **{**row, "public_key": bytes(row["public_key"])}
            )
        return registry


def _rule_role(*roles: str) -> Callable[[Registry, Statement], None]:
    """A rule that only parties of ``roles`` may make a statement of its type."""

    def rule(registry: Registry, statement: Statement) -> None:
        role = registry.parties[statement.by].role
        if role not in roles:
            raise NotAuthorizedError(
                f"a {statement.type} statement is for {' or '.join(roles)} parties, not a {role}"
            )

    return rule


_RULES = {
    "review": _rule_role("operator"),
    "review.answer": _rule_role("brand", "supplier"),
    "review.hide": _rule_role("moderator"),
    "review.erase": _rule_role("operator"),
    "review.status": _rule_role("operator"),
    st.PARTY_REGISTER: Registry._rule_register,
    st.PARTY_SUSPEND: Registry._rule_status,
    st.PARTY_REINSTATE: Registry._rule_status,
    st.KEY_ADD: Registry._rule_key_add,
    st.KEY_REVOKE: Registry._rule_key_revoke,
}
