"""Opening a ledger from settings: the store, the keys, the log, and the founding entry.

A new log's entry 0 is the operator registering itself with its governance key, signed by that key:
the root of trust every later registration descends from.
"""

from __future__ import annotations

import base64

from provenance.config import CoreSettings
from provenance.keyfiles import OperatorKeys, init_keys
from provenance.keys import public_key_bytes
from provenance.ledger import Ledger
from provenance.log import Log
from provenance.statements import PARTY_REGISTER, sign_statement
from provenance.store.sql import SqlStore

OPERATOR_ID = "operator"


def founding_statement(keys: OperatorKeys, name: str = "Ledger operator") -> bytes:
    """Return the signed registration by which the operator founds an empty log."""
    public_key = base64.b64encode(public_key_bytes(keys.operator_key)).decode()
    body = {
        "type": PARTY_REGISTER,
        "by": OPERATOR_ID,
        "party": {"id": OPERATOR_ID, "role": "operator", "name": name},
        "keys": [public_key],
    }
    return sign_statement(body, [keys.operator_key])


def open_ledger(settings: CoreSettings, *, found: bool = True) -> tuple[Ledger, OperatorKeys]:
    """Open (creating where needed) the store, keys and log named by ``settings``; with ``found``,
    append the founding registration to an empty log."""
    keys, _ = init_keys(settings.keys_dir, settings.origin)
    store = SqlStore.open(settings.database_url)
    log = Log(store, keys.log_signer, max_payload=settings.max_payload)
    ledger = Ledger(log)
    if found and log.size() == 0:
        ledger.commit([ledger.prepare(founding_statement(keys))])
    return ledger, keys
