"""Who may call what: the single table every request is checked against.

Deny by default: a route missing from ACCESS answers 403 to everyone, and the role-matrix test
fails until the route is given a rule here. Camera scope (the account's cameras or sites) is
checked by the routes that name a camera; this table decides roles, evidence reasons and which
audit action a call records.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.accounts.roles import Role

VIEWER, INVESTIGATOR, ADMIN, AUDITOR = Role.VIEWER, Role.INVESTIGATOR, Role.ADMIN, Role.AUDITOR
SUPERVISOR, WITNESS = Role.SUPERVISOR, Role.WITNESS


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role] | None  # None: public, no account needed; empty: any signed-in account
    reason: bool = False  # evidence access: a case reference and a reason are required
    audit: str | None = None  # the audit action this call records, allowed or not

    @property
    def public(self) -> bool:
        return self.roles is None


PUBLIC = Rule(None)
SIGNED_IN = Rule(frozenset())


def allow(*roles: Role, reason: bool = False, audit: str | None = None) -> Rule:
    return Rule(frozenset(roles), reason, audit)


ACCESS: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/"): PUBLIC,  # the console's page; it holds no data
    # The public camera register: places, purposes and rules, never footage or addresses.
    ("GET", "/register"): PUBLIC,
    ("POST", "/api/v1/auth/login"): Rule(None, audit="login"),
    ("POST", "/api/v1/auth/logout"): Rule(frozenset(), audit="logout"),
    ("GET", "/api/v1/auth/me"): SIGNED_IN,
    ("POST", "/api/v1/auth/password"): Rule(frozenset(), audit="password.change"),
    ("GET", "/metrics"): allow(ADMIN),
    ("GET", "/api/v1/cameras"): allow(VIEWER, INVESTIGATOR, ADMIN),
    ("GET", "/api/v1/cameras/{name}"): allow(VIEWER, INVESTIGATOR, ADMIN),
    ("GET", "/api/v1/cameras/{name}/live.mp4"): allow(VIEWER, INVESTIGATOR, audit="live.start"),
    ("GET", "/api/v1/recordings/{camera}"): allow(
        INVESTIGATOR, reason=True, audit="recordings.list"
    ),
    ("GET", "/api/v1/playback/{camera}/playlist.m3u8"): allow(
        INVESTIGATOR, reason=True, audit="playback"
    ),
    ("GET", "/api/v1/playback/{camera}/video.mp4"): allow(
        INVESTIGATOR, reason=True, audit="playback"
    ),
    # Covered by the audited playlist that granted it; the grant is checked by the route.
    ("GET", "/api/v1/playback/{camera}/segments/{segment_id}.ts"): allow(INVESTIGATOR),
    ("GET", "/api/v1/events"): allow(INVESTIGATOR, reason=True, audit="events.search"),
    ("GET", "/api/v1/events/{event_id}"): allow(INVESTIGATOR, reason=True, audit="event.view"),
    ("GET", "/api/v1/events/{event_id}/snapshot.jpg"): allow(
        INVESTIGATOR, reason=True, audit="snapshot.view"
    ),
    ("POST", "/api/v1/events/{event_id}/review"): allow(INVESTIGATOR, audit="event.review"),
    ("GET", "/api/v1/cases"): allow(INVESTIGATOR, SUPERVISOR, audit="cases.list"),
    ("POST", "/api/v1/cases"): allow(INVESTIGATOR, audit="case.open"),
    ("GET", "/api/v1/cases/{reference:path}"): allow(INVESTIGATOR, SUPERVISOR, audit="case.view"),
    ("POST", "/api/v1/cases/{reference:path}/close"): allow(INVESTIGATOR, audit="case.close"),
    ("GET", "/api/v1/holds"): allow(INVESTIGATOR, SUPERVISOR, audit="holds.list"),
    ("POST", "/api/v1/holds"): allow(INVESTIGATOR, audit="hold.request"),
    # The second person: a supervisor, never the requester (checked by the route).
    ("POST", "/api/v1/holds/{hold_id}/approve"): allow(SUPERVISOR, audit="hold.approve"),
    ("POST", "/api/v1/holds/{hold_id}/refuse"): allow(SUPERVISOR, audit="hold.refuse"),
    ("POST", "/api/v1/holds/{hold_id}/release"): allow(
        INVESTIGATOR, SUPERVISOR, audit="hold.release_request"
    ),
    ("POST", "/api/v1/holds/{hold_id}/release/approve"): allow(SUPERVISOR, audit="hold.release"),
    ("GET", "/api/v1/exports"): allow(INVESTIGATOR, SUPERVISOR, audit="exports.list"),
    ("POST", "/api/v1/exports"): allow(INVESTIGATOR, audit="export.request"),
    # Progress only (no footage, no case detail): the console polls it, unaudited.
    ("GET", "/api/v1/exports/{export_id}"): allow(INVESTIGATOR, SUPERVISOR),
    # The second person of an unredacted export: a supervisor, never the requester.
    ("POST", "/api/v1/exports/{export_id}/approve"): allow(SUPERVISOR, audit="export.approve"),
    ("POST", "/api/v1/exports/{export_id}/refuse"): allow(SUPERVISOR, audit="export.refuse"),
    ("POST", "/api/v1/exports/{export_id}/cancel"): allow(
        INVESTIGATOR, SUPERVISOR, audit="export.cancel"
    ),
    # Footage leaves Vigil, or is watched: a case and a reason, audited before a byte is sent.
    ("GET", "/api/v1/exports/{export_id}/package.zip"): allow(
        INVESTIGATOR, reason=True, audit="export.download"
    ),
    ("GET", "/api/v1/exports/{export_id}/open"): allow(
        INVESTIGATOR, reason=True, audit="export.open"
    ),
    # Covered by the audited opening that granted it; the grant is checked by the route.
    ("GET", "/api/v1/exports/{export_id}/files/{name}"): allow(INVESTIGATOR),
    ("GET", "/api/v1/lifts"): allow(INVESTIGATOR, SUPERVISOR, audit="lifts.list"),
    # Also needs roles.<role>.mask_lift (checked by the route): no role may by default.
    ("POST", "/api/v1/lifts"): allow(INVESTIGATOR, audit="mask.lift.request"),
    ("POST", "/api/v1/lifts/{lift_id}/approve"): allow(SUPERVISOR, audit="mask.lift.approve"),
    # The hub's view of its sites (404 on a node that is not a hub).
    ("GET", "/api/v1/federation/sites"): allow(VIEWER, INVESTIGATOR, ADMIN),
    ("GET", "/api/v1/federation/events"): allow(INVESTIGATOR, reason=True, audit="events.search"),
    ("GET", "/api/v1/federation/sites/{site}/cameras/{camera}/timeline"): allow(
        INVESTIGATOR, reason=True, audit="federation.timeline"
    ),
    ("GET", "/api/v1/federation/retrievals"): allow(
        INVESTIGATOR, SUPERVISOR, audit="retrievals.list"
    ),
    # Footage leaves a site for the hub: a case and a reason, audited at both ends.
    ("POST", "/api/v1/federation/retrievals"): allow(INVESTIGATOR, audit="retrieval.request"),
    ("GET", "/api/v1/storage"): allow(ADMIN),
    ("GET", "/api/v1/config"): allow(ADMIN),
    ("GET", "/api/v1/users"): allow(ADMIN),
    ("POST", "/api/v1/users"): allow(ADMIN, audit="user.add"),
    ("POST", "/api/v1/users/{user}/disable"): allow(ADMIN, audit="user.disable"),
    ("GET", "/api/v1/audit"): allow(AUDITOR, audit="audit.read"),
    # Signed checkpoints and the proofs between them, for outside witnesses: public facts of
    # the trail, not a look at anything, so not audited (a witness's polls would otherwise
    # grow the very trail it watches).
    ("GET", "/api/v1/audit/checkpoints"): allow(AUDITOR, WITNESS),
    ("GET", "/api/v1/audit/report"): allow(AUDITOR, audit="report.transparency"),
    ("GET", "/api/v1/audit/verify"): allow(AUDITOR, audit="audit.verify"),
}

# Accounts that must change their one-time password may do only this until they have.
PASSWORD_CHANGE_ROUTES = frozenset(
    {
        ("POST", "/api/v1/auth/logout"),
        ("GET", "/api/v1/auth/me"),
        ("POST", "/api/v1/auth/password"),
    }
)


def permitted(rule: Rule, roles: frozenset[Role]) -> bool:
    """Whether an account holding `roles` passes the rule's role check."""
    if rule.roles is None or not rule.roles:
        return True
    return bool(rule.roles & roles)
