"""`vigil audit ...`: the audit trail, for its auditors and overseers: verify, export, prove."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vigil.audit import chains, open_audit_log, proofs, signing_key_path, verifier
from vigil.audit.keys import key_id, load_or_create_signing_key, load_public_key, public_key_pem
from vigil.audit.log import read_checkpoints, read_records
from vigil.audit.verify import verify as verify_trail
from vigil.audit.witness import Rewritten, fetch_from, observe
from vigil.cli_support import ConfigOption, fail, load, open_database
from vigil.config import VigilConfig
from vigil.errors import VigilError
from vigil.timeutil import parse_iso

audit_app = typer.Typer(
    no_args_is_help=True, help="Verify the audit trail, or export it for an overseer."
)

TimeOption = Annotated[str | None, typer.Option(help="ISO 8601 time (UTC if no zone).")]


def site_public_keys(
    config: VigilConfig, paths: list[Path] | None = None
) -> list[Ed25519PublicKey] | None:
    """The keys signatures are checked with: those given, else the site's own (None: the site
    has no key yet, so signatures cannot be checked)."""
    if paths:
        return [load_public_key(path) for path in paths]
    site_key = signing_key_path(config)
    return [load_or_create_signing_key(site_key).public_key()] if site_key.exists() else None


def _time(option: str, value: str | None) -> int | None:
    try:
        return None if value is None else parse_iso(value)
    except ValueError as exc:
        raise fail(VigilError(f"{option}: {exc}")) from None


@audit_app.command()
def verify(
    config: ConfigOption,
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            help="The site's public key (PEM) as the overseer holds it; repeat for retired keys. "
            "Default: the public half of the site's signing key."
        ),
    ] = None,
) -> None:
    """Check every record's hash and link and every signed checkpoint.

    Exit 0 if the trail is intact, or 1 naming the first bad record."""
    loaded = load(config)
    try:
        report = verify_trail(open_database(loaded), site_public_keys(loaded, public_key))
    except VigilError as exc:
        raise fail(exc) from None
    first = report.first_problem
    if first is not None:
        typer.echo(f"audit trail broken at record #{first.seq}: {first.what}")
        for problem in report.problems:
            if problem is not first:
                typer.echo(f"  also at record #{problem.seq}: {problem.what}")
        if report.omitted:
            typer.echo(f"  and {report.omitted} more problem(s)")
        raise typer.Exit(1)
    typer.echo(f"audit trail ok: {report.records} records, {report.checkpoints} signed checkpoints")
    if not report.signatures_checked:
        typer.echo("note: no signing key found, so signatures were not checked; pass --public-key")
    if report.unsigned:
        typer.echo(f"note: the last {report.unsigned} record(s) are not yet covered by a signature")


@audit_app.command("public-key")
def public_key(config: ConfigOption) -> None:
    """Print the site's public key (PEM) for overseers to keep.

    The signing key is made if there is none yet."""
    loaded = load(config)
    try:
        key = load_or_create_signing_key(signing_key_path(loaded)).public_key()
    except VigilError as exc:
        raise fail(exc) from None
    typer.echo(public_key_pem(key).decode(), nl=False)
    typer.echo(f"key id {key_id(key)}", err=True)


@audit_app.command()
def export(config: ConfigOption, since: TimeOption = None, until: TimeOption = None) -> None:
    """Print records and signed checkpoints as JSON lines, for an overseer to verify.

    The records made in [since, until) with their hashes come first, then the checkpoints
    signed in that time.

    A record's hash is SHA-256 of the JSON of its other fields (without "type" and "hash"),
    keys sorted, no spaces, non-ASCII escaped. A checkpoint's signature is Ed25519 over
    "vigil-audit-checkpoint-v2\\n{size}\\n{head_hash}\\n{root}\\n{at_us}", where root is the
    RFC 6962 Merkle tree head over the records' hashes (leaf = SHA-256(0x00 || hash)), or, for
    checkpoints without a root, "vigil-audit-checkpoint\\n{size}\\n{head_hash}\\n{at_us}"."""
    loaded = load(config)
    since_us, until_us = _time("--since", since), _time("--until", until)
    try:
        engine = open_database(loaded)
        after = None
        while page := read_records(engine, since_us, until_us, after_seq=after):
            for entry in page:
                typer.echo(json.dumps({"type": "record", **entry.as_dict()}, sort_keys=True))
            after = page[-1].seq
        for checkpoint in read_checkpoints(engine, since_us, until_us):
            typer.echo(json.dumps({"type": "checkpoint", **checkpoint.public()}, sort_keys=True))
    except VigilError as exc:
        raise fail(exc) from None


@audit_app.command()
def checkpoint(config: ConfigOption) -> None:
    """Sign the trail's head now (it is signed every `audit.checkpoint_every` records anyway)."""
    loaded = load(config)
    try:
        log = open_audit_log(loaded, open_database(loaded))
        log.checkpoint()
        latest = read_checkpoints(log.engine)[-1:]
    except VigilError as exc:
        raise fail(exc) from None
    if latest:
        typer.echo(f"checkpoint #{latest[0].size} root {latest[0].root}")


@audit_app.command()
def prove(
    config: ConfigOption,
    seq: Annotated[int, typer.Argument(help="The record's number.")],
    checkpoint_size: Annotated[
        int | None,
        typer.Option(
            "--checkpoint",
            help="The checkpoint to prove against (default: the first that covers the record).",
        ),
    ] = None,
) -> None:
    """Print the proof (JSON) that a record is in a signed checkpoint's Merkle tree."""
    loaded = load(config)
    try:
        document = proofs.inclusion(open_database(loaded), seq, checkpoint_size)
    except VigilError as exc:
        raise fail(exc) from None
    typer.echo(json.dumps(document, sort_keys=True, indent=1))


@audit_app.command()
def consistency(
    config: ConfigOption,
    old: Annotated[int, typer.Argument(help="The earlier checkpoint's size.")],
    new: Annotated[int, typer.Argument(help="The later checkpoint's size.")],
) -> None:
    """Print the proof (JSON) that checkpoint NEW extends checkpoint OLD unchanged."""
    loaded = load(config)
    try:
        document = proofs.consistency(open_database(loaded), old, new)
    except VigilError as exc:
        raise fail(exc) from None
    typer.echo(json.dumps(document, sort_keys=True, indent=1))


@audit_app.command("check-proof")
def check_proof(
    config: ConfigOption,
    proof: Annotated[Path, typer.Argument(help="A proof from `vigil audit prove|consistency`.")],
    public_key: Annotated[
        list[Path] | None,
        typer.Option(help="The site's public key (PEM); default: the site's own signing key."),
    ] = None,
) -> None:
    """Check an inclusion or consistency proof against its signed checkpoint(s); exit 1 with
    what is wrong."""
    loaded = load(config)
    try:
        document = json.loads(proof.read_text())
    except (OSError, ValueError) as exc:
        raise fail(VigilError(f"{proof}: cannot read a JSON proof ({exc})")) from None
    try:
        keys = site_public_keys(loaded, public_key)
        if not keys:
            raise VigilError("no public key: pass the site's key with --public-key")
        typer.echo(proofs.check(document, keys))
    except VigilError as exc:
        typer.echo(str(exc))
        raise typer.Exit(1) from None


@audit_app.command("verify-footage")
def verify_footage(
    config: ConfigOption,
    camera: Annotated[str, typer.Argument(help="The camera's name.")],
) -> None:
    """Walk the camera's segment hash chain (stored and erased segments) against its head and
    the head last recorded in the audit trail; exit 1 naming what was removed, inserted or
    altered."""
    loaded = load(config)
    try:
        report, signed = chains.verify_footage(open_database(loaded), camera)
    except VigilError as exc:
        raise fail(exc) from None
    if not report.ok:
        for problem in report.problems:
            typer.echo(f"{camera}: {problem}")
        raise typer.Exit(1)
    where = f"signed up to #{signed[0]}" if signed else "not yet recorded in the audit trail"
    typer.echo(
        f"{camera}: segment chain ok: {report.segments} segments, {report.erased} erased by "
        f"retention, {where}"
    )


@audit_app.command("verifier")
def write_verifier(
    out: Annotated[Path, typer.Argument(help="Where to write it, e.g. verify.py.")],
) -> None:
    """Write the offline verifier: one Python 3.9+ file, no packages needed, that checks the
    proofs of `vigil audit prove` and `consistency` with the site's public key."""
    try:
        verifier.write(out)
    except OSError as exc:
        raise fail(VigilError(f"{out}: cannot write the verifier ({exc})")) from None
    typer.echo(f"wrote {out}: run python3 {out} PROOF.json SITE-KEY.pem")


@audit_app.command("witness")
def witness(
    url: Annotated[str, typer.Option(help="The site's console, e.g. https://site.example/.")],
    token_file: Annotated[
        Path, typer.Option(help="A file holding a witness account's token.", exists=True)
    ],
    key: Annotated[Path, typer.Option(help="The site's public key, as published.", exists=True)],
    store: Annotated[Path, typer.Option(help="Where this witness keeps what it saw (JSON lines).")],
    once: Annotated[bool, typer.Option(help="Check once and stop.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 60.0,
) -> None:
    """The overseer's side: collect the site's signed checkpoints as they are made and check
    that each extends the last one seen. Exit 1, naming the checkpoints, the moment the site's
    trail no longer extends what this witness saw."""
    try:
        site_key = load_public_key(key)
        fetch = fetch_from(url, token_file.read_text().strip())
        while True:
            for checkpoint in observe(fetch, store, site_key):
                typer.echo(
                    f"checkpoint #{checkpoint['size']} signed at {checkpoint['at_us']}: "
                    "consistent with everything seen before"
                )
            if once:
                return
            time.sleep(interval)
    except Rewritten as exc:
        typer.echo(f"REWRITTEN: {exc}")
        raise typer.Exit(1) from None
    except (VigilError, OSError) as exc:
        raise fail(VigilError(str(exc))) from None
