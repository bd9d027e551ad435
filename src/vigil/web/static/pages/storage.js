// Storage (admins): free space, storage alarms, and how far back each camera's footage reaches.

import { get } from "../api.js";
import { bytes, h, localTime, notice, number, parseTime, table } from "../dom.js";

function alarm(a) {
  return h(
    "li",
    { class: "notice error" },
    h("strong", {}, `${a.kind} ${a.subject}: `),
    a.message,
    ` (since ${localTime(parseTime(a.since))})`,
  );
}

const days = (value, digits) => (value === null ? "–" : `${number(value, digits)} d`);

export async function render(root) {
  const report = await get("/api/v1/storage");
  root.append(h("h1", {}, "Storage"));
  const used = report.total_bytes ? report.total_bytes - report.free_bytes : null;
  root.append(
    h(
      "div",
      { class: "card disk" },
      h("p", {}, h("strong", {}, report.path)),
      report.total_bytes
        ? [
            h("meter", {
              min: 0,
              max: report.total_bytes,
              value: used,
              high: report.total_bytes * 0.9,
            }),
            h("p", {}, `${bytes(report.free_bytes)} free of ${bytes(report.total_bytes)}`),
          ]
        : h("p", {}, "The disk cannot be read."),
    ),
  );
  root.append(
    h(
      "p",
      { class: "held-total" },
      `Holds keep ${bytes(report.held_bytes)} from deletion` +
        (report.held_by.length ? ` (cases ${report.held_by.join(", ")}).` : "."),
    ),
  );
  root.append(h("h2", {}, "Alarms"));
  root.append(
    report.alarms.length
      ? h("ul", { class: "alarms" }, ...report.alarms.map(alarm))
      : notice("No storage alarm."),
  );
  root.append(h("h2", {}, "Cameras"));
  root.append(
    h(
      "div",
      { class: "table-wrap" },
      table(
        ["Camera", "Site", "Segments", "Stored", "Oldest", "Newest", "Reaches back", "Retention"],
        report.cameras.map((c) =>
          h(
            "tr",
            { "data-camera": c.name },
            h("td", {}, c.name),
            h("td", {}, c.site || "–"),
            h("td", { class: "num" }, c.segments),
            h("td", { class: "num" }, bytes(c.bytes)),
            h("td", {}, localTime(parseTime(c.oldest))),
            h("td", {}, localTime(parseTime(c.newest))),
            h("td", { class: "num" }, days(c.horizon_days, 2)),
            h("td", { class: "num" }, c.retention_days ? `${c.retention_days} d` : "until full"),
          ),
        ),
      ),
    ),
  );
  return null;
}
