"""`vigil case list|show`: cases and their holds, for the site's operator (metadata only;
cases are opened, and holds placed and approved, through the console, where each person signs
in and every change is audited)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from vigil.cli_support import ConfigOption, JsonOption, fail, load, open_database
from vigil.errors import VigilError
from vigil.storage.evidence import CaseStore, HoldStore

case_app = typer.Typer(no_args_is_help=True, help="Cases and the footage their holds keep.")


@case_app.command("list")
def list_cases(config: ConfigOption, as_json: JsonOption = False) -> None:
    """Every case, newest first."""
    loaded = load(config)
    found = [c.to_json() for c in CaseStore(open_database(loaded)).list()]
    if as_json:
        typer.echo(json.dumps({"cases": found}, indent=2))
        return
    for case in found:
        typer.echo(f"{case['reference']:<24} {case['state']:<7} {case['opened']}  "
                   f"{case['opened_by']:<16} {case['title']}")  # fmt: skip


@case_app.command()
def show(
    config: ConfigOption,
    reference: Annotated[str, typer.Argument(help="The case reference.")],
    as_json: JsonOption = False,
) -> None:
    """The case, its holds and the bytes each keeps."""
    loaded = load(config)
    engine = open_database(loaded)
    case = CaseStore(engine).get(reference)
    if case is None:
        raise fail(VigilError(f"case {reference!r} not found; list them with `vigil case list`"))
    store = HoldStore(engine)
    holds = [h.to_json(store.held_bytes(h)) for h in store.list(case_reference=reference)]
    if as_json:
        typer.echo(json.dumps({**case.to_json(), "holds": holds}, indent=2))
        return
    typer.echo(f"{case.reference}: {case.title} ({case.state}, opened by {case.opened_by})")
    for hold in holds:
        typer.echo(f"  hold {hold['id']}: {hold['camera']} {hold['since']} .. {hold['until']} "
                   f"{hold['state']}, expires {hold['expires']}, keeps {hold['held_bytes']} "
                   f"bytes; asked by {hold['requested_by']}, approved by "
                   f"{hold['approved_by'] or '-'}: {hold['reason']}")  # fmt: skip
