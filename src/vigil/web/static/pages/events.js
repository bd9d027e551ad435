// Event search: filters, results with their snapshots, a jump to the footage, and the
// operator's verdict (acknowledged or false alarm, with a note).

import { evidenceUrl, get, post } from "../api.js";
import {
  clear,
  errorText,
  fromLocalInput,
  h,
  iso,
  localTime,
  notice,
  number,
  parseTime,
  timeInput,
} from "../dom.js";

const DAY = 86400000;
const LEAD_MS = 10000; // playback starts this long before the event
const LIMIT = 200;
const TYPES = [
  "intrusion",
  "line_crossing",
  "stopped_vehicle",
  "unattended_object",
  "tamper",
  "camera_offline",
];

const select = (name, label, values, chosen) =>
  h(
    "select",
    { name, "aria-label": label },
    h("option", { value: "" }, `any ${label.toLowerCase()}`),
    ...values.map((v) => h("option", { value: v, selected: v === chosen }, v.replaceAll("_", " "))),
  );

function when(event) {
  const start = parseTime(event.start);
  const end = parseTime(event.end);
  if (!end) return `${localTime(start)} (ongoing)`;
  return `${localTime(start)} · ${Math.max(0, Math.round((end - start) / 1000))} s`;
}

function reviewText(review) {
  if (!review) return "not reviewed";
  const verdict = review.verdict === "false_alarm" ? "false alarm" : "acknowledged";
  const note = review.note ? `: ${review.note}` : "";
  return `${verdict} by ${review.by} ${localTime(parseTime(review.at))}${note}`;
}

export async function render(root, { params, navigate }) {
  const cameras = (await get("/api/v1/cameras")).cameras;
  const sites = [...new Set(cameras.map((c) => c.site).filter(Boolean))].sort();
  const now = Date.now();
  const since = parseTime(params.get("since")) || now - DAY;
  const until = parseTime(params.get("until")) || now;

  const from = timeInput("since", since);
  const to = timeInput("until", until);
  const camera = select("camera", "Camera", cameras.map((c) => c.name), params.get("camera"));
  const site = select("site", "Site", sites, params.get("site"));
  const type = select("type", "Type", TYPES, params.get("type"));
  const text = (name, placeholder) =>
    h("input", { name, placeholder, value: params.get(name) || "" });
  const label = text("label", "class, e.g. person");
  const zone = text("zone", "zone");
  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: (event) => {
        event.preventDefault();
        const a = fromLocalInput(from.value);
        const b = fromLocalInput(to.value);
        if (a === null || b === null || b <= a) {
          clear(results).append(notice("Choose a start before the end.", "error"));
          return;
        }
        const chosen = { since: iso(a), until: iso(b) };
        for (const input of [camera, site, type, label, zone]) {
          if (input.value.trim()) chosen[input.name] = input.value.trim();
        }
        navigate("events", chosen);
      },
    },
    h("label", {}, "From ", from),
    h("label", {}, "To ", to),
    camera,
    site,
    type,
    label,
    zone,
    h("button", { type: "submit" }, "Search"),
  );
  const results = h("div", { class: "results" });
  const viewer = h("dialog", { class: "snapshot-viewer" });
  root.append(h("h1", {}, "Events"), form, results, viewer);

  const snapshotUrl = (event, params = {}) =>
    evidenceUrl(`/api/v1/events/${event.id}/snapshot.jpg`, params);

  function openSnapshot(event) {
    const image = h("img", {
      src: snapshotUrl(event),
      alt: `Snapshot of ${event.type} on ${event.camera}`,
      class: "large",
    });
    clear(viewer).append(
      h(
        "form",
        { method: "dialog", class: "viewer-bar" },
        h("span", {}, `${event.camera} · ${event.type} · ${when(event)}`),
        h(
          "a",
          { href: snapshotUrl(event, { clean: "true" }), target: "_blank", rel: "noopener" },
          "Without box",
        ),
        h("button", { value: "close" }, "Close"),
      ),
      image,
    );
    viewer.showModal();
  }

  // Why the analysis raised it: the witnesses and measurements the rule recorded.
  function evidence(event) {
    const entries = Object.entries(event.attributes || {});
    if (!entries.length) return "";
    const shown = entries.map(([key, value]) =>
      `${key.replaceAll("_", " ")} ${typeof value === "number" ? number(value, 3) : value}`,
    );
    return h("p", { class: "evidence" }, shown.join(" · "));
  }

  function card(event) {
    const note = h("input", { name: "note", placeholder: "note (optional)", maxlength: 2000 });
    const reviewed = event.review ? event.review.verdict : "none";
    const review = h("p", { class: `review ${reviewed}` }, reviewText(event.review));
    const decide = async (verdict) => {
      try {
        const body = { verdict, note: note.value };
        const answer = await post(`/api/v1/events/${event.id}/review`, body);
        review.className = `review ${verdict}`;
        review.textContent = reviewText(answer.review);
        note.value = "";
      } catch (error) {
        review.textContent = errorText(error);
      }
    };
    const thumbnail = event.snapshot
      ? h(
          "button",
          {
            type: "button",
            class: "thumbnail",
            onclick: () => openSnapshot(event),
            title: "Open the snapshot",
          },
          h("img", {
            src: snapshotUrl(event),
            alt: `Snapshot of ${event.type} on ${event.camera}`,
            loading: "lazy",
          }),
        )
      : h("div", { class: "thumbnail empty" }, "no snapshot");
    const what = [event.label, event.zone && `in ${event.zone}`].filter(Boolean).join(" ");
    return h(
      "article",
      { class: "event", "data-event": event.id },
      thumbnail,
      h(
        "div",
        { class: "event-body" },
        h("h3", {}, event.type.replaceAll("_", " "), h("span", { class: "camera" }, event.camera)),
        h(
          "p",
          {},
          when(event),
          what ? ` · ${what}` : "",
          event.score ? ` · score ${number(event.score, 2)}` : "",
        ),
        evidence(event),
        review,
        h(
          "div",
          { class: "actions" },
          h(
            "button",
            {
              type: "button",
              class: "play",
              onclick: () => {
                const at = iso(parseTime(event.start) - LEAD_MS);
                navigate("playback", { camera: event.camera, at });
              },
            },
            "Play",
          ),
          note,
          h("button", { type: "button", onclick: () => decide("acknowledged") }, "Acknowledge"),
          h(
            "button",
            { type: "button", class: "secondary", onclick: () => decide("false_alarm") },
            "False alarm",
          ),
        ),
      ),
    );
  }

  const query = { since: iso(since), until: iso(until), limit: LIMIT };
  for (const key of ["camera", "site", "type", "label", "zone"]) {
    if (params.get(key)) query[key] = params.get(key);
  }
  results.append(notice("Searching…"));
  try {
    const found = (await get("/api/v1/events", { evidence: true, query })).events;
    const more = found.length === LIMIT ? "+" : "";
    clear(results).append(
      h("p", { class: "summary" }, `${found.length}${more} event(s), newest first.`),
      ...found.map(card),
    );
  } catch (error) {
    clear(results).append(notice(errorText(error), "error"));
  }
  return () => viewer.open && viewer.close();
}
