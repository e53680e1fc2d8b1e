"""A process that appends signed attestations and prints each receipt as a JSON line once it has it.

Run by the durability and concurrency tests as a separate OS process, so that they can run several
at once against one database, or kill one with SIGKILL at any moment. A line is printed (and flushed)
only after ``Ledger.submit`` returned, i.e. after the receipt was handed out.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import threading
from pathlib import Path

from provenance.keyfiles import load_keys
from provenance.keys import load_private_key
from provenance.ledger import Ledger
from provenance.log import Log
from provenance.statements import sign_statement
from provenance.store.sql import SqlStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--keys-dir", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--party", required=True)
    parser.add_argument("--key", required=True, help="the party's private key file")
    parser.add_argument("--count", type=int, default=0, help="statements per thread; 0: forever")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--tag", default="w")
    args = parser.parse_args()

    keys = load_keys(Path(args.keys_dir), args.origin)
    ledger = Ledger(Log(SqlStore.open(args.url, migrate_schema=False), keys.log_signer))
    party_key = load_private_key(args.key)
    out = threading.Lock()

    def run(thread: int) -> None:
        n = 0
        while args.count == 0 or n < args.count:
            body = {
                "type": "origin",
                "by": args.party,
                "n": f"{args.tag}-{thread}-{n}",
                "items": ["https://id.gs1.org/01/09506000134352/10/LOT-1"],
                "place": {"country": "CO"},
                "producer": "Farm",
                "date": "2026-07-14",
            }
            receipt = ledger.submit(sign_statement(body, [party_key]))
            line = json.dumps(
                {
                    "index": receipt.index,
                    "leaf_hash": base64.b64encode(receipt.leaf_hash).decode(),
                    "tree_size": receipt.tree_size,
                    "proof": [base64.b64encode(h).decode() for h in receipt.inclusion_proof],
                    "checkpoint": receipt.checkpoint,
                }
            )
            with out:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            n += 1

    threads = [threading.Thread(target=run, args=(t,)) for t in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ledger.close()


if __name__ == "__main__":
    main()
