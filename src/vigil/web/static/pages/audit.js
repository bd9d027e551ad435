// The audit trail (auditors): who looked at what, when and why, and a check of its hash chain.

import { get, withQuery } from "../api.js";
import { clear, errorText, fromLocalInput, h, iso, localTime, notice, parseTime, table, timeInput } from "../dom.js";

const PAGE = 200;
const HEADINGS = ["#", "When", "Who", "Role", "Action", "Outcome", "Cameras", "Footage time"]
  .concat(["Reason", "From", "Hash"]);

function range(record) {
  if (!record.since && !record.until) return "";
  return `${localTime(parseTime(record.since))} – ${localTime(parseTime(record.until))}`;
}

function row(record) {
  return h(
    "tr",
    { class: `outcome-${record.outcome}`, "data-seq": record.seq },
    h("td", { class: "num" }, record.seq),
    h("td", {}, localTime(parseTime(record.at))),
    h("td", {}, record.actor),
    h("td", {}, record.role),
    h("td", {}, record.action),
    h("td", { class: "outcome" }, record.outcome),
    h("td", {}, (record.cameras || []).join(", ")),
    h("td", {}, range(record)),
    h("td", {}, record.reason || ""),
    h("td", {}, record.source || ""),
    h("td", { class: "hash", title: record.hash }, (record.hash || "").slice(0, 10)),
  );
}

export async function render(root) {
  const actor = h("input", { name: "actor", placeholder: "who" });
  const action = h("input", { name: "action", placeholder: "action, e.g. playback" });
  const body = h("tbody");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Next records");
  const verdict = h("div", { class: "verdict" });
  let last = null;

  async function load(fresh) {
    const query = { limit: PAGE, actor: actor.value.trim(), action: action.value.trim() };
    if (!fresh && last !== null) query.after_seq = last;
    try {
      const records = (await get("/api/v1/audit", { query })).records;
      if (fresh) clear(body);
      body.append(...records.map(row));
      if (records.length) last = records[records.length - 1].seq;
      more.hidden = records.length < PAGE;
    } catch (error) {
      clear(verdict).append(notice(errorText(error), "error"));
    }
  }

  async function verify() {
    clear(verdict).append(notice("Verifying the whole chain…"));
    try {
      const report = await get("/api/v1/audit/verify");
      const problems = report.problems.map((p) => `#${p.seq} ${p.what}`).join("; ");
      const text = report.ok
        ? `The audit trail is intact: ${report.records} record(s), ` +
          `${report.checkpoints} signed checkpoint(s).`
        : `The audit trail is damaged from record ${report.first_bad_seq}: ${problems}`;
      clear(verdict).append(notice(text, report.ok ? "success" : "error"));
    } catch (error) {
      clear(verdict).append(notice(errorText(error), "error"));
    }
  }

  // The transparency report: made by the server from the trail and the register alone.
  const now = Date.now();
  const reportSince = timeInput("report_since", now - 30 * 86400_000);
  const reportUntil = timeInput("report_until", now);
  const reportLink = (format) => withQuery("/api/v1/audit/report", {
    since: iso(fromLocalInput(reportSince.value)), until: iso(fromLocalInput(reportUntil.value)), format });
  const report = h("form", { class: "card transparency", onsubmit: (event) => {
    event.preventDefault();
    window.open(reportLink("html"), "_blank", "noopener");
  } },
    h("h2", {}, "Transparency report"),
    h("p", {}, "Accesses, reasons by case, holds, exports and their approvers, mask lifts, refusals and retention erasures over a period, and whether the trail verifies. For PDF, print it, or run vigil report transparency --format pdf."),
    h("label", { class: "field" }, h("span", {}, "From"), reportSince),
    h("label", { class: "field" }, h("span", {}, "To"), reportUntil),
    h("button", { type: "submit" }, "Open the report"),
    h("button", { type: "button", class: "secondary", onclick: () => { location.href = reportLink("json"); } }, "JSON"));

  more.addEventListener("click", () => load(false));
  root.append(
    h("h1", {}, "Audit trail"),
    h(
      "form",
      {
        class: "toolbar",
        onsubmit: (event) => {
          event.preventDefault();
          last = null;
          load(true);
        },
      },
      actor,
      action,
      h("button", { type: "submit" }, "Filter"),
      h("button", { type: "button", class: "verify", onclick: verify }, "Verify"),
    ),
    verdict,
    h("div", { class: "table-wrap" }, table(HEADINGS, body, { class: "audit" })),
    more,
    report,
  );
  await load(true);
  return null;
}
