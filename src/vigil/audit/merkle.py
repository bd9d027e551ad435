"""The audit trail as a Merkle tree, hashed as RFC 6962/9162 (Certificate Transparency) do.

Leaf n is SHA-256(0x00 ‖ hash of record n) (the record's hash commits to all its fields);
an interior node is SHA-256(0x01 ‖ left ‖ right); the tree over n leaves splits at the largest
power of two below n. A signed checkpoint then commits to every record up to its size, and:

- an *inclusion proof* (log2 n hashes) shows that one record is in the tree of a checkpoint
  without handing over the others, which is what an export package carries;
- a *consistency proof* shows that a later checkpoint's tree extends an earlier one's, so the
  records an overseer saw at the first were neither changed nor removed by the second.

The standard library only: the package verifier (verify.py of an export) embeds this file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

LEAF = b"\x00"
NODE = b"\x01"


class ProofError(ValueError):
    """A proof does not match the tree head it is checked against."""


def leaf_hash(record_hash: bytes) -> bytes:
    return hashlib.sha256(LEAF + record_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """The tree head over leaf hashes (MTH of RFC 6962 2.1)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root(leaves[:k]), root(leaves[k:]))


class Frontier:
    """The roots of the perfect subtrees that make up a tree of `size` leaves, left to right:
    at most log2(size) hashes, enough to extend the tree and compute its root without the
    leaves. Stored with each checkpoint, so the next one reads only the records after it."""

    def __init__(self, size: int = 0, nodes: Sequence[tuple[int, bytes]] = ()) -> None:
        self.size = size
        self.nodes = list(nodes)  # (height, hash), heights strictly decreasing

    def append(self, leaf: bytes) -> None:
        self.nodes.append((0, leaf))
        self.size += 1
        while len(self.nodes) > 1 and self.nodes[-1][0] == self.nodes[-2][0]:
            (height, left), (_, right) = self.nodes[-2], self.nodes[-1]
            self.nodes[-2:] = [(height + 1, node_hash(left, right))]

    def root(self) -> bytes:
        if not self.nodes:
            return root([])
        head = self.nodes[-1][1]
        for _, left in reversed(self.nodes[:-1]):
            head = node_hash(left, head)
        return head

    def as_json(self) -> list[list[object]]:
        return [[height, value.hex()] for height, value in self.nodes]

    @classmethod
    def from_json(cls, size: int, nodes: Sequence[Sequence[object]]) -> Frontier:
        return cls(size, [(int(str(h)), bytes.fromhex(str(v))) for h, v in nodes])


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]) of RFC 6962 2.1.1: the proof that leaf `index` is in the tree."""
    if not 0 <= index < len(leaves):
        raise ProofError(f"leaf {index} is not in a tree of {len(leaves)} leaves")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(index, leaves[:k]), root(leaves[k:])]
    return [*inclusion_proof(index - k, leaves[k:]), root(leaves[:k])]


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, D[n]) of RFC 6962 2.1.2: the tree of old_size leaves is a prefix."""
    if not 0 < old_size <= len(leaves):
        raise ProofError(f"no consistency proof from {old_size} to {len(leaves)} leaves")
    return _subproof(old_size, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root(leaves[:k])]


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """RFC 9162 2.1.3.2; raises ProofError when the proof does not lead to the root."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} cannot be in a tree of {size} leaves")
    fn, sn, head = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            head = node_hash(sibling, head)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            head = node_hash(head, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or head != expected_root:
        raise ProofError(f"leaf {index} is not in the tree of {size} leaves with that root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 2.1.4.2; raises ProofError unless the new tree extends the old one."""
    if not 0 < old_size <= new_size:
        raise ProofError(f"no consistency between trees of {old_size} and {new_size} leaves")
    if old_size == new_size:
        if proof or old_root != new_root:
            raise ProofError(f"two different trees of {old_size} leaves")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old tree is a node of the new
        path.insert(0, old_root)
    if not path:
        raise ProofError("the consistency proof is empty")
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old, new = path[0], path[0]
    for node in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            old, new = node_hash(node, old), node_hash(node, new)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            new = node_hash(new, node)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or old != old_root or new != new_root:
        raise ProofError(
            f"the tree of {new_size} leaves does not extend the tree of {old_size} leaves: "
            "records up to the first checkpoint were changed or removed"
        )
