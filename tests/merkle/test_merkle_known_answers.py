"""RFC 6962 known answers, copied from transparency-dev/merkle (``rfc6962/rfc6962_test.go``,
``testonly/constants.go``, ``testonly/reference_test.go``).
"""

from __future__ import annotations

import pytest

from provenance.merkle.compact import CompactRange
from provenance.merkle.hashing import EMPTY_ROOT, hash_children, hash_leaf
from provenance.merkle.proof import consistency_proof, inclusion_proof
from provenance.merkle.verify import verify_consistency, verify_inclusion
from rfc6962_reference import NodeReader, mth, path, proof

# testonly.LeafInputs(): the sample tree of RFC 6962's examples.
LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]

# testonly.RootHashes(), indexed by tree size.
ROOT_HASHES = [
    bytes.fromhex(h)
    for h in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]

# testonly.NodeHashes(): [level][index] for the complete subtrees of the 8-leaf tree.
NODE_HASHES = [
    [
        bytes.fromhex(h)
        for h in [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
            "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
        ]
    ],
    [
        bytes.fromhex(h)
        for h in [
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        ]
    ],
    [
        bytes.fromhex(h)
        for h in [
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ]
    ],
    [bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]
NH = NODE_HASHES

# testonly.CompactTrees(): the right edge of the sample tree at each size.
COMPACT_TREES: list[list[bytes]] = [
    [],
    [NH[0][0]],
    [NH[1][0]],
    [NH[1][0], NH[0][2]],
    [NH[2][0]],
    [NH[2][0], NH[0][4]],
    [NH[2][0], NH[1][2]],
    [NH[2][0], NH[1][2], NH[0][6]],
    [NH[3][0]],
]


def test_hasher_known_answers() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert hash_leaf(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert hash_leaf(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert hash_children(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


@pytest.mark.parametrize("size", range(9))
def test_sample_tree_roots(size: int) -> None:
    assert mth(LEAF_INPUTS[:size]) == ROOT_HASHES[size]
    compact = CompactRange()
    for entry in LEAF_INPUTS[:size]:
        compact.append(hash_leaf(entry))
    assert compact.root() == ROOT_HASHES[size]
    assert compact.hashes == COMPACT_TREES[size]


def test_sample_tree_completed_nodes() -> None:
    compact = CompactRange()
    for entry in LEAF_INPUTS:
        for node, value in compact.append(hash_leaf(entry)):
            assert value == NODE_HASHES[node.level][node.index]


# testonly.TestRefInclusionProof: (index, size) -> proof.
INCLUSION_PROOFS = [
    (0, 1, []),
    (0, 2, [NH[0][1]]),
    (1, 2, [NH[0][0]]),
    (2, 3, [NH[1][0]]),
    (1, 5, [NH[0][0], NH[1][1], NH[0][4]]),
    (0, 8, [NH[0][1], NH[1][1], NH[2][1]]),
    (5, 8, [NH[0][4], NH[1][3], NH[2][0]]),
]

# testonly.TestRefConsistencyProof: (size1, size2) -> proof.
CONSISTENCY_PROOFS = [
    (1, 1, []),
    (1, 8, [NH[0][1], NH[1][1], NH[2][1]]),
    (2, 5, [NH[1][1], NH[0][4]]),
    (6, 8, [NH[1][2], NH[1][3], NH[2][0]]),
]


@pytest.mark.parametrize(("index", "size", "want"), INCLUSION_PROOFS)
def test_sample_inclusion_proofs(index: int, size: int, want: list[bytes]) -> None:
    assert path(index, LEAF_INPUTS[:size]) == want
    assert inclusion_proof(index, size, NodeReader(LEAF_INPUTS[:size])) == want
    verify_inclusion(index, size, hash_leaf(LEAF_INPUTS[index]), want, ROOT_HASHES[size])


@pytest.mark.parametrize(("size1", "size2", "want"), CONSISTENCY_PROOFS)
def test_sample_consistency_proofs(size1: int, size2: int, want: list[bytes]) -> None:
    assert proof(size1, LEAF_INPUTS[:size2]) == want
    assert consistency_proof(size1, size2, NodeReader(LEAF_INPUTS[:size2])) == want
    verify_consistency(size1, size2, want, ROOT_HASHES[size1], ROOT_HASHES[size2])
