"""What an account may do; the API decides which role each action needs."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    INVESTIGATOR = "investigator"
    ADMIN = "admin"
    AUDITOR = "auditor"
    SUPERVISOR = "supervisor"  # the second person of holds and unredacted exports
    WITNESS = "witness"  # an outside body's account: its tokens read signed checkpoints only


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """Role names, each value possibly a comma list ("viewer,auditor"); ValueError names the
    unknown one and the known ones."""
    roles: set[Role] = set()
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if not name:
                continue
            try:
                roles.add(Role(name))
            except ValueError:
                known = ", ".join(r.value for r in Role)
                raise ValueError(f"unknown role {part.strip()!r}; use {known}") from None
    return frozenset(roles)
