"""The ``provenance`` command: keys, verification and maintenance of a ledger.

A thin layer over the public core: it parses arguments, calls one function, and turns any
:class:`~provenance.errors.ProvenanceError` into one readable line and a non-zero exit, in one place.
"""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import Sequence
from pathlib import Path

from provenance.config import CoreSettings
from provenance.errors import ProvenanceError
from provenance.keyfiles import init_keys, load_log_verifier
from provenance.keys import generate_private_key, keyid, public_key_bytes, save_private_key
from provenance.note import NoteVerifier
from provenance.projections import rebuild
from provenance.replay import VerifyResult, verify_log
from provenance.store.sql import SqlStore


def _settings(args: argparse.Namespace) -> CoreSettings:
    settings = CoreSettings.from_env()
    overrides = {}
    if getattr(args, "database", None):
        overrides["database_url"] = args.database
    if getattr(args, "keys_dir", None):
        overrides["keys_dir"] = Path(args.keys_dir)
    if getattr(args, "origin", None):
        overrides["origin"] = args.origin
    return CoreSettings(**{**vars(settings), **overrides})


def cmd_keys_init(args: argparse.Namespace) -> int:
    settings = _settings(args)
    keys, created = init_keys(settings.keys_dir, settings.origin)
    state = "created" if created else "already present"
    print(f"log and operator keys {state} in {settings.keys_dir}/ (private keys mode 0600)")
    print(keys.log_signer.verifier_key())
    return 0


def cmd_keys_new(args: argparse.Namespace) -> int:
    key = generate_private_key()
    save_private_key(Path(args.path), key)
    public = public_key_bytes(key)
    print(f"private key written to {args.path} (mode 0600)")
    print(f"public key: {base64.b64encode(public).decode()}")
    print(f"keyid: {keyid(public)}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    settings = _settings(args)
    verifier = (
        NoteVerifier.from_vkey(args.key) if args.key else load_log_verifier(settings.keys_dir)
    )
    store = SqlStore.open(settings.database_url, migrate_schema=False)
    try:
        result = _verify_with_progress(store, verifier, args)
    finally:
        store.close()
    if result.error is not None:
        error = result.error
        print(f"FAILED at index {error.index}: {error.what}: {error.detail}", file=sys.stderr)
        return 1
    print(
        f"OK: {result.size} entries, {result.checkpoints} checkpoints, "
        f"{result.signatures} signatures verified"
    )
    return 0


def _verify_with_progress(
    store: SqlStore, verifier: NoteVerifier, args: argparse.Namespace
) -> VerifyResult:
    from rich.progress import Progress

    quiet = args.quiet or not sys.stderr.isatty()
    with Progress(transient=True, disable=quiet) as progress:
        task = progress.add_task("verifying", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return verify_log(
            store, [verifier], origin=args.origin, workers=args.workers, progress=report
        )


def cmd_submit(args: argparse.Namespace) -> int:
    # The one command that talks to a server; the stdlib client is imported here only, so the
    # core's modules never load one.
    import json
    import urllib.error
    import urllib.request

    from provenance.checkpoint import open_checkpoint
    from provenance.dsse import sign_envelope
    from provenance.keys import load_private_key
    from provenance.merkle.verify import verify_inclusion
    from provenance.statements import sign_statement

    key = load_private_key(args.key)
    data = Path(args.file).read_bytes()
    base = args.url.rstrip("/")
    if args.epcis:
        envelope, path = (
            sign_envelope("application/ld+json", data, [key]).to_json(),
            "/epcis/capture",
        )
    else:
        body = json.loads(data)
        if args.by:
            body.setdefault("by", args.by)
        envelope, path = sign_statement(body, [key]), "/api/v1/statements"

    def fetch(url: str, payload: bytes | None = None) -> bytes:
        request = urllib.request.Request(url, data=payload, method="POST" if payload else "GET")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer: bytes = response.read()
                return answer
        except urllib.error.HTTPError as e:
            problem = e.read().decode(errors="replace")
            raise SubmitError(f"{e.code} from {url}: {problem}") from e
        except urllib.error.URLError as e:
            raise SubmitError(f"cannot reach {url}: {e.reason}") from e

    answer = json.loads(fetch(base + path, envelope))
    receipt = answer.get("receipt", answer)
    vkey = args.log_key or fetch(base + "/api/v1/log/key").decode().strip()
    checkpoint = open_checkpoint(receipt["checkpoint"], [NoteVerifier.from_vkey(vkey)])
    proof = [base64.b64decode(h) for h in receipt["inclusion_proof"]]
    verify_inclusion(
        receipt["index"], checkpoint.size, base64.b64decode(receipt["leaf_hash"]), proof,
        checkpoint.root_hash,
    )  # fmt: skip
    print(json.dumps(answer, indent=2))
    print(
        f"receipt verified: entry {receipt['index']} is in the log of {checkpoint.size} entries "
        f"signed by {checkpoint.origin}",
        file=sys.stderr,
    )
    return 0


class SubmitError(ProvenanceError):
    """The server refused a submission or could not be reached."""

    code = "submit-failed"


def cmd_rebuild(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = SqlStore.open(settings.database_url)
    try:
        registry = rebuild(store)
    finally:
        store.close()
    print(f"rebuilt: {len(registry.parties)} parties, {len(registry.keys)} keys")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)
    SqlStore.open(settings.database_url).close()
    print("database schema is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="provenance", description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="database URL (default: $PROVENANCE_DATABASE_URL)")
    parser.add_argument("--keys-dir", help="key folder (default: $PROVENANCE_KEYS_DIR or keys/)")
    commands = parser.add_subparsers(dest="command", required=True)

    keys = commands.add_parser("keys", help="make keys").add_subparsers(dest="keys", required=True)
    init = keys.add_parser("init", help="create the log key and the operator key under keys/")
    init.add_argument("--origin", help="the log's origin (default: $PROVENANCE_ORIGIN)")
    init.set_defaults(func=cmd_keys_init)
    new = keys.add_parser("new", help="create a supplier's Ed25519 key")
    new.add_argument("path", help="where to write the private key (PEM, mode 0600)")
    new.set_defaults(func=cmd_keys_new)

    verify = commands.add_parser("verify", help="replay the whole log and check everything")
    verify.add_argument("--key", help="the log's verifier key (default: keys/log.vkey)")
    verify.add_argument("--origin", help="the origin every checkpoint must name")
    verify.add_argument("--workers", type=int, help="processes to use (default: one per core)")
    verify.add_argument("--quiet", action="store_true", help="no progress bar")
    verify.set_defaults(func=cmd_verify)

    submit = commands.add_parser("submit", help="sign a statement and submit it to a ledger")
    submit.add_argument("file", help="the statement (JSON), or an EPCIS document with --epcis")
    submit.add_argument("--key", required=True, help="the supplier's private key (PEM)")
    submit.add_argument("--by", help="your party id, if the statement does not say")
    submit.add_argument("--url", default="http://127.0.0.1:8000", help="the ledger's base URL")
    submit.add_argument("--epcis", action="store_true", help="FILE is an EPCIS 2.0 document")
    submit.add_argument("--log-key", help="pin the log's verifier key instead of fetching it")
    submit.set_defaults(func=cmd_submit)

    commands.add_parser("rebuild", help="drop and replay the projections").set_defaults(
        func=cmd_rebuild
    )
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="apply pending migrations").set_defaults(func=cmd_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ProvenanceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
