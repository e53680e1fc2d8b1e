"""The shared transparency-dev/merkle proof vectors: every probe must verify or fail as it says."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from provenance.errors import ProofError, RootMismatchError
from provenance.merkle.verify import verify_consistency, verify_inclusion

VECTORS = Path(__file__).parents[2] / "tests" / "vectors" / "merkle"
INCLUSION = sorted(VECTORS.glob("inclusion/**/*.json"))
CONSISTENCY = sorted(VECTORS.glob("consistency/**/*.json"))


def _id(path: Path) -> str:
    return path.relative_to(VECTORS).as_posix()


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _proof(value: list[str] | None) -> list[bytes]:
    return [_b64(h) for h in value or []]


def test_all_vectors_found() -> None:
    # A wrong path would otherwise leave both parametrized tests empty and silently passing.
    assert len(INCLUSION) + len(CONSISTENCY) >= 190


@pytest.mark.parametrize("path", INCLUSION, ids=_id)
def test_inclusion_vector(path: Path) -> None:
    v = _load(path)
    args = (v["leafIdx"], v["treeSize"], _b64(v["leafHash"]), _proof(v["proof"]), _b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises((ProofError, RootMismatchError)):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=_id)
def test_consistency_vector(path: Path) -> None:
    v = _load(path)
    args = (v["size1"], v["size2"], _proof(v["proof"]), _b64(v["root1"]), _b64(v["root2"]))
    if v["wantErr"]:
        with pytest.raises((ProofError, RootMismatchError)):
            verify_consistency(*args)
    else:
        verify_consistency(*args)
