"""The transparency report as one self-contained HTML page (tables, and inline SVG where a
reader would rather look than read), and as PDF through headless Chromium."""

from __future__ import annotations

import html
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from vigil.errors import VigilError

COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
STYLE = (
    "body{font:13px sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;"
    "margin:.5em 0 1.5em}td,th{border:1px solid #bbb;padding:2px 6px;text-align:left}"
    ".flag{color:#b00}"
)
PDF_TIMEOUT_S = 120


class ReportError(VigilError):
    """The report cannot be written in the format asked for."""


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(heads: list[str], rows: list[list[Any]], empty: str) -> str:
    if not rows:
        return f"<p>{_esc(empty)}</p>"
    head = "".join(f"<th>{_esc(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def chart(per_day: dict[str, dict[str, int]]) -> str:
    """Accesses per day per camera: grouped bars, one colour per camera, with a legend."""
    days = sorted({day for counts in per_day.values() for day in counts})
    if not days:
        return "<p>No accesses in the period.</p>"
    cameras = sorted(per_day)
    top = max(n for counts in per_day.values() for n in counts.values())
    bar, gap, height, left = 10, 12, 160, 40
    group = bar * len(cameras) + gap
    width = max(left + group * len(days) + 10, left + 140 * min(4, len(cameras)))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 60}" '
        'role="img" aria-label="accesses per day per camera">'
    ]
    parts.append(f'<text x="0" y="12" font-size="10">{top}</text>')
    parts.append(f'<line x1="{left - 4}" y1="{height}" x2="{width}" y2="{height}" stroke="#888"/>')
    for d, day in enumerate(days):
        x0 = left + d * group
        for c, camera in enumerate(cameras):
            n = per_day[camera].get(day, 0)
            h = 0 if top == 0 else round((height - 16) * n / top)
            colour = COLOURS[c % len(COLOURS)]
            parts.append(
                f'<rect x="{x0 + c * bar}" y="{height - h}" width="{bar - 1}" '
                f'height="{h}" fill="{colour}"><title>{_esc(camera)} {day}: {n}'
                "</title></rect>"
            )
        parts.append(f'<text x="{x0}" y="{height + 12}" font-size="9">{day[5:]}</text>')
    for c, camera in enumerate(cameras):
        y = height + 28 + 12 * (c // 4)
        x = left + 140 * (c % 4)
        parts.append(
            f'<rect x="{x}" y="{y - 8}" width="8" height="8" '
            f'fill="{COLOURS[c % len(COLOURS)]}"/>'
            f'<text x="{x + 12}" y="{y}" font-size="10">{_esc(camera)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render(report: dict[str, Any]) -> str:
    verified = report["audit_verifies"]
    verdict = (
        f"<p>The audit trail verifies: {verified['records']} records, "
        f"{verified['checkpoints']} signed checkpoints"
        + ("" if verified["signatures_checked"] else " (signatures not checked: no key given)")
        + ".</p>"
        if verified["ok"]
        else f'<p class="flag">The audit trail does NOT verify: {_esc(verified["first_problem"])}'
        "</p>"
    )
    reasons = [
        [case, r["reason"], r["count"]]
        for case, found in report["reasons_by_case"].items()
        for r in found
    ]
    erasures = []
    for e in report["erasures"]:
        early = "; ".join(
            f"{x['until']} erased at {x['age_days']} days ({', '.join(x['rules'])})"
            for x in e["early"]
        )
        erasures.append(
            [
                e["camera"],
                e["declared_retention_days"],
                e["passes"],
                e["segments"],
                e["bytes"],
                ", ".join(e["rules"]),
                early or "none",
            ]
        )
    sections = [
        f"<h1>{_esc(report['title'])}</h1>",
        f"<p>From {_esc(report['since'])} to {_esc(report['until'])}; made "
        f"{_esc(report['generated'])} from {_esc(report['made_from'])}.</p>",
        "<h2>The audit trail</h2>",
        verdict,
        _table(
            ["checkpoint (records)", "signed", "key"],
            [[c["size"], c["at"], c["key_id"]] for c in report["checkpoints"]],
            "No checkpoint was signed in the period.",
        ),
        "<h2>Cameras (the register)</h2>",
        _table(
            ["site", "camera", "purpose", "legal basis", "operator", "retention days", "analytics"],
            [
                [
                    e["site"],
                    e["camera"],
                    e["purpose"],
                    e["legal_basis"],
                    e["operator"],
                    e["retention_days"],
                    ", ".join(e["analytics"]),
                ]
                for e in report["register"]
            ],
            "No camera is configured.",
        ),
        "<h2>Accesses per day</h2>",
        chart(report["accesses_per_day"]),
        "<h2>Accesses by kind, role and camera</h2>",
        _table(
            ["kind", "role", "camera", "count"],
            [[a["kind"], a["role"], a["camera"], a["count"]] for a in report["accesses"]],
            "No footage or evidence was looked at.",
        ),
        "<h2>Reasons, by case</h2>",
        _table(["case", "reason", "times"], reasons, "No reason was given in the period."),
        "<h2>Holds</h2>",
        _table(list(report["holds"]), [list(report["holds"].values())], ""),
        "<h2>Exports</h2>",
        _table(
            [
                "export",
                "camera",
                "case",
                "redacted",
                "asked by",
                "approved by",
                "state",
                "times taken",
            ],
            [
                [
                    x["export"],
                    x["camera"],
                    x["case"],
                    "yes" if x["redacted"] else "NO",
                    x["requested_by"],
                    x["approved_by"] or "-",
                    x["state"] or "open",
                    x["taken"],
                ]
                for x in report["exports"]
            ],
            "No export in the period.",
        ),
        "<h2>Privacy mask lifts</h2>",
        _table(
            ["at", "by", "action", "cameras", "reason"],
            [
                [x["at"], x["actor"], x["action"], ", ".join(x["cameras"]), x["reason"]]
                for x in report["mask_lifts"]
            ],
            "No mask was lifted.",
        ),
        "<h2>Denials and refusals</h2>",
        _table(
            ["action", "outcome", "why", "count"],
            [[r["action"], r["outcome"], r["why"], r["count"]] for r in report["refusals"]],
            "Nothing was denied or refused.",
        ),
        "<h2>Retention erasures</h2>",
        _table(
            [
                "camera",
                "declared retention days",
                "passes",
                "segments",
                "bytes",
                "rules",
                "erased before the declared retention",
            ],
            erasures,
            "No footage was erased in the period.",
        ),
    ]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(report['title'])}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def pdf(page: str, out: Path) -> None:
    """Print the page to `out` with Debian's headless Chromium."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise ReportError(
            "PDF needs Debian's chromium (apt-get install chromium); "
            "or ask for --format html and print it"
        )
    with tempfile.TemporaryDirectory(prefix="vigil-report-") as scratch:
        source = Path(scratch) / "report.html"
        source.write_text(page)
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={scratch}/profile",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            source.as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=PDF_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ReportError(f"chromium did not print the PDF in {PDF_TIMEOUT_S} s") from None
    if done.returncode != 0 or not out.is_file():
        raise ReportError(f"chromium could not print {out}: {done.stderr.decode()[-300:]}")
