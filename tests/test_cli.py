"""The `provenance` command: keys, verify (naming the first bad index), rebuild, db upgrade."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from factories import attestation, governance, register, submit
from provenance.cli import main
from provenance.keyfiles import LOG_KEY, LOG_VKEY, OPERATOR_KEY, OperatorKeys
from provenance.ledger import Ledger
from provenance.note import NoteVerifier
from provenance.projections import rebuild

REPO = Path(__file__).parents[1]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_keys_init_creates_private_keys_mode_0600_and_prints_the_verifier_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys_dir = tmp_path / "keys"
    code, out, _ = run(
        capsys, "--keys-dir", str(keys_dir), "keys", "init", "--origin", "a.example/log"
    )
    assert code == 0
    for name in (LOG_KEY, OPERATOR_KEY):
        assert stat.S_IMODE((keys_dir / name).stat().st_mode) == 0o600
    vkey = (keys_dir / LOG_VKEY).read_text().strip()
    assert vkey in out
    assert NoteVerifier.from_vkey(vkey).name == "a.example/log"
    first = (keys_dir / LOG_KEY).read_bytes()
    code, out, _ = run(capsys, "--keys-dir", str(keys_dir), "keys", "init")
    assert code == 0
    assert "already present" in out
    assert (keys_dir / LOG_KEY).read_bytes() == first, "keys init must never replace a key"


def test_private_keys_are_ignored_by_git() -> None:
    for name in ("keys/log.key", "keys/operator.key", "keys/farm.pem"):
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", name], cwd=REPO, check=False
        ).returncode
        assert ignored == 0, f"{name} would be committed"


def test_keys_new_writes_a_supplier_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "farm.key"
    code, out, _ = run(capsys, "keys", "new", str(path))
    assert code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "keyid:" in out


def verify_args(ledger: Ledger, tmp_path: Path) -> list[str]:
    return ["--database", ledger.log.store.url, "--keys-dir", str(tmp_path / "keys"), "verify"]


def test_verify_passes_then_names_the_first_bad_index(
    ledger: Ledger, operator_keys: OperatorKeys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = register(ledger, operator_keys, "farm")
    for _ in range(5):
        submit(ledger, attestation("farm", key))
    code, out, _ = run(capsys, *verify_args(ledger, tmp_path), "--quiet")
    assert code == 0
    assert "OK: 7 entries" in out
    with ledger.log.store.writer.begin() as connection:
        connection.execute(
            text("UPDATE log_entry SET leaf = leaf || :x WHERE idx = 4"), {"x": b"!"}
        )
    code, _, err = run(capsys, *verify_args(ledger, tmp_path), "--quiet")
    assert code == 1
    assert "FAILED at index 4" in err


def test_verify_as_a_separate_process_with_a_published_key(
    ledger: Ledger, operator_keys: OperatorKeys, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "provenance.cli", "--database", ledger.log.store.url, "verify",
         "--key", operator_keys.log_signer.verifier_key()],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "OK: 1 entries" in result.stdout


def test_rebuild_replays_identical_projections(
    ledger: Ledger, operator_keys: OperatorKeys, capsys: pytest.CaptureFixture[str]
) -> None:
    register(ledger, operator_keys, "farm")
    register(ledger, operator_keys, "mill")
    submit(ledger, governance(operator_keys, "party.suspend", party="mill", reason="breach"))
    with ledger.log.store.read() as reader:
        before = (reader.parties(), reader.party_keys())
    with ledger.log.store.writer.begin() as connection:
        connection.execute(text("UPDATE party SET name = 'vandalised'"))
        connection.execute(text("DELETE FROM party_key"))
    code, out, _ = run(capsys, "--database", ledger.log.store.url, "rebuild")
    assert code == 0
    assert "3 parties" in out
    with ledger.log.store.read() as reader:
        assert (reader.parties(), reader.party_keys()) == before
    assert rebuild(ledger.log.store).parties == ledger.registry.parties


def test_errors_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys_dir = tmp_path / "keys"
    run(capsys, "--keys-dir", str(keys_dir), "keys", "init")
    code, _, err = run(
        capsys, "--database", "mysql://nowhere/x", "--keys-dir", str(keys_dir), "verify"
    )
    assert code == 2
    assert err.startswith("error: unsupported database")
