"""The audit trail's Merkle tree against RFC 6962's definitions, on every small tree: the
incremental frontier gives MTH, every proof verifies, and every altered proof or leaf fails."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.audit.merkle import (
    Frontier,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

SIZES = range(1, 34)


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


def test_the_tree_head_is_rfc_6962s() -> None:
    # RFC 6962 2.1: the empty tree is SHA-256 of nothing; three leaves split 2 + 1.
    assert root([]) == hashlib.sha256(b"").digest()
    a, b, c = leaves(3)
    ab = hashlib.sha256(b"\x01" + a + b).digest()
    assert root([a, b, c]) == hashlib.sha256(b"\x01" + ab + c).digest()
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()


@pytest.mark.parametrize("n", SIZES)
def test_the_frontier_grows_the_same_tree(n: int) -> None:
    frontier = Frontier()
    for leaf in leaves(n):
        frontier.append(leaf)
    assert frontier.root() == root(leaves(n))
    again = Frontier.from_json(frontier.size, frontier.as_json())
    extra = leaf_hash(b"next")
    again.append(extra)
    assert again.root() == root([*leaves(n), extra])


@pytest.mark.parametrize("n", SIZES)
def test_every_inclusion_proof_verifies_and_no_other_leaf_does(n: int) -> None:
    tree = leaves(n)
    head = root(tree)
    for index in range(n):
        proof = inclusion_proof(index, tree)
        verify_inclusion(index, n, tree[index], proof, head)
        with pytest.raises(ProofError):
            verify_inclusion(index, n, leaf_hash(b"forged"), proof, head)
        if n > 1:
            with pytest.raises(ProofError):
                verify_inclusion((index + 1) % n, n, tree[index], proof, head)


@pytest.mark.parametrize("n", SIZES)
def test_every_consistency_proof_verifies(n: int) -> None:
    tree = leaves(n)
    for m in range(1, n + 1):
        proof = consistency_proof(m, tree)
        verify_consistency(m, n, root(tree[:m]), root(tree), proof)
        if m < n:
            rewritten = [leaf_hash(b"rewritten"), *tree[1:]]
            with pytest.raises(ProofError):
                verify_consistency(m, n, root(tree[:m]), root(rewritten), proof)


@given(st.integers(1, 200), st.data())
def test_a_changed_proof_hash_is_refused(n: int, data: st.DataObject) -> None:
    tree = leaves(n)
    m = data.draw(st.integers(1, n))
    proof = consistency_proof(m, tree)
    index = data.draw(st.integers(0, n - 1))
    path = inclusion_proof(index, tree)
    if path:
        k = data.draw(st.integers(0, len(path) - 1))
        path[k] = bytes(32)
        with pytest.raises(ProofError):
            verify_inclusion(index, n, tree[index], path, root(tree))
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        proof[k] = bytes(32)
        with pytest.raises(ProofError):
            verify_consistency(m, n, root(tree[:m]), root(tree), proof)
