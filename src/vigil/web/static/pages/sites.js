// Sites (at a hub): every site's link, lag and cameras; events from all sites; footage asked
// of a site with the case bar's case and reason (audited here and at the site).

import { currentCase, get, post } from "../api.js";
import { errorText, fromLocalInput, h, iso, localTime, notice, parseTime, table, timeInput } from "../dom.js";

const seconds = (value) => (value === null || value === undefined ? "–" : `${value} s`);

function siteRow(site) {
  return h(
    "tr",
    { "data-site": site.site, class: site.link === "up" ? "" : "down" },
    h("td", {}, site.site),
    h("td", {}, site.link),
    h("td", {}, localTime(parseTime(site.last_message))),
    h("td", { class: "num" }, `${site.cameras_online} / ${site.cameras}`),
    h("td", { class: "num" }, seconds(site.lag_p50_s)),
    h("td", { class: "num" }, seconds(site.lag_p95_s)),
    h("td", { class: "num" }, site.refused),
    h("td", {}, site.alarms.map((a) => `${a.kind} ${a.subject}: ${a.message}`).join("; ") || "–"),
  );
}

async function showSites(box) {
  const { sites } = await get("/api/v1/federation/sites");
  box.replaceChildren(
    sites.length
      ? table(
          ["Site", "Link", "Last message", "Cameras online", "Lag p50", "Lag p95", "Refused", "Alarms"],
          sites.map(siteRow),
        )
      : notice("No site has been added (vigil federation add-site)."),
  );
  return sites;
}

// Rows of plain cells, or a notice when there are none.
function listing(box, items, empty, headings, attributes, cells) {
  const row = (item) => h("tr", attributes(item), ...cells(item).map((c) => h("td", {}, c)));
  box.replaceChildren(items.length ? table(headings, items.map(row)) : notice(empty));
}

async function showEvents(box) {
  const { events } = await get("/api/v1/federation/events", { evidence: true });
  listing(box, events, "No event from any site in the last 24 hours.",
    ["Site", "Camera", "Type", "Label", "Start"], (e) => ({ "data-event": e.id }),
    (e) => [e.site, e.camera, e.type, e.label || "–", localTime(parseTime(e.start))]);
}

async function showRetrievals(box) {
  const { retrievals } = await get("/api/v1/federation/retrievals");
  listing(box, retrievals, "No footage has been asked of a site.",
    ["#", "Site", "Camera", "From", "To", "Case", "State", "Segments"],
    (r) => ({ "data-retrieval": r.id }),
    (r) => [r.id, r.site, r.camera, localTime(parseTime(r.since)), localTime(parseTime(r.until)),
      r.case, r.error ? `${r.state}: ${r.error}` : r.state,
      `${r.segments_done} / ${r.segments_total}`]);
}

function retrievalForm(sites, after, status) {
  const now = Date.now();
  const form = h(
    "form",
    { class: "card retrieval" },
    h("label", {}, "Site ", h("select", { name: "site" }, ...sites.map((s) => h("option", {}, s.site)))),
    h("label", {}, "Camera ", h("input", { name: "camera", required: true, maxlength: 64 })),
    h("label", {}, "From ", timeInput("since", now - 15 * 60000)),
    h("label", {}, "To ", timeInput("until", now)),
    h("button", { type: "submit" }, "Ask the site for this footage"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const found = currentCase();
    if (!found) {
      status.replaceChildren(notice("Fill in the case reference and the reason first.", "error"));
      return;
    }
    try {
      await post("/api/v1/federation/retrievals", {
        site: data.get("site"),
        camera: data.get("camera"),
        since: iso(fromLocalInput(data.get("since"))),
        until: iso(fromLocalInput(data.get("until"))),
        case: found.reference,
        reason: found.reason,
      });
      status.replaceChildren(notice("Asked; the site sends it when its link allows."));
      await after();
    } catch (error) {
      status.replaceChildren(notice(errorText(error), "error"));
    }
  });
  return form;
}

export async function render(root, { account }) {
  root.append(h("h1", {}, "Sites"));
  const sitesBox = h("div", { class: "table-wrap sites" });
  root.append(sitesBox);
  const sites = await showSites(sitesBox);
  const timer = setInterval(() => showSites(sitesBox).catch(() => {}), 10000);
  if (account.roles.includes("investigator")) {
    const eventsBox = h("div", { class: "table-wrap federation-events" });
    const jobsBox = h("div", { class: "table-wrap retrievals" });
    const status = h("div", {});
    root.append(h("h2", {}, "Events from every site"), eventsBox);
    root.append(h("h2", {}, "Footage from a site"), retrievalForm(sites, () => showRetrievals(jobsBox), status), status, jobsBox);
    await Promise.all([
      showEvents(eventsBox).catch((error) => eventsBox.replaceChildren(notice(errorText(error), "error"))),
      showRetrievals(jobsBox),
    ]);
  }
  return () => clearInterval(timer);
}
