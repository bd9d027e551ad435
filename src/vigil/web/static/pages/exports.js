// Exports (investigators, supervisors): footage leaves Vigil as a signed package, redacted by
// default. An unredacted export waits for a supervisor who did not ask for it. The list shows
// each job's progress while the exporter works; a complete package can be downloaded or
// opened here (its video beside its manifest). Taking and opening a package are audited with
// the case bar's reason.

import { evidenceUrl, get, post } from "../api.js";
import { bytes, clear, errorText, fromLocalInput, h, iso, notice, table, timeInput } from "../dom.js";

const when = (text) => (text ? new Date(text).toLocaleString() : "");
const WORKING = ["requested", "queued", "running"];
const POLL_MS = 1500;

export async function render(root, { account }) {
  const investigator = account.roles.includes("investigator");
  const supervisor = account.roles.includes("supervisor");
  const message = h("div", { class: "message" });
  const body = h("tbody");
  const viewer = h("div", { class: "package-viewer" });
  root.append(
    h("h1", {}, "Exports"),
    message,
    h("div", { class: "table-wrap" }, table(["#", "Case", "Camera", "From", "To", "Kind", "Asked by", "Approved by", "State", "Progress", ""], body, { class: "exports" })),
    viewer,
  );
  let timer = null;

  async function act(path) {
    clear(message);
    try {
      await post(path);
      await load();
    } catch (error) {
      message.append(notice(errorText(error), "error"));
    }
  }

  async function open(job) {
    clear(message);
    try {
      const opened = await get(`/api/v1/exports/${job.id}/open`, { evidence: true });
      const manifest = opened.manifest;
      const kind = manifest.redacted ? "redacted" : "UNREDACTED originals";
      clear(viewer).append(
        h("h2", {}, `Package of export ${job.id}: ${manifest.camera.name}, ${kind}`),
        h("div", { class: "package" },
          h("video", { class: "package-video", controls: true, muted: true, autoplay: true, src: opened.video }),
          h("pre", { class: "manifest" }, JSON.stringify(manifest, null, 2))));
    } catch (error) {
      message.append(notice(errorText(error), "error"));
    }
  }

  function progressCell(job) {
    const done = job.progress;
    if (job.state === "complete") return `${done.segments_total} segments`;
    if (!["running", "queued"].includes(job.state)) return job.error || "";
    const bar = h("progress", { max: String(done.bytes_total || 1), value: String(done.bytes_done) });
    return h("span", {}, bar, ` ${job.phase || "waiting"}: ${done.segments_done}/${done.segments_total} segments, ${bytes(done.bytes_done)} of ${bytes(done.bytes_total)}`);
  }

  function row(job) {
    const buttons = [];
    const button = (text, onclick) => h("button", { type: "button", class: "secondary", "data-action": text.toLowerCase(), onclick }, text);
    if (supervisor && job.state === "requested" && job.requested_by !== account.name) {
      buttons.push(button("Approve", () => act(`/api/v1/exports/${job.id}/approve`)),
        button("Refuse", () => act(`/api/v1/exports/${job.id}/refuse`)));
    }
    if (WORKING.includes(job.state)) buttons.push(button("Cancel", () => act(`/api/v1/exports/${job.id}/cancel`)));
    if (investigator && job.state === "complete") {
      buttons.push(button("Open", () => open(job)));
      const download = () => {
        try {
          location.href = evidenceUrl(`/api/v1/exports/${job.id}/package.zip`);
        } catch (error) {
          message.append(notice(errorText(error), "error"));
        }
      };
      buttons.push(button("Download", download));
    }
    return h("tr", { "data-export": String(job.id), "data-state": job.state },
      h("td", {}, String(job.id)), h("td", {}, job.case), h("td", {}, job.camera),
      h("td", {}, when(job.since)), h("td", {}, when(job.until)),
      h("td", {}, job.redacted ? "redacted" : "UNREDACTED"), h("td", {}, job.requested_by),
      h("td", {}, job.approved_by || ""), h("td", { class: "state" }, job.state),
      h("td", { class: "progress" }, progressCell(job)), h("td", {}, ...buttons));
  }

  async function load() {
    clearTimeout(timer);
    const found = (await get("/api/v1/exports")).exports;
    clear(body).append(...found.map(row));
    if (found.some((job) => ["queued", "running"].includes(job.state))) {
      timer = setTimeout(() => load().catch((error) => message.append(notice(errorText(error), "error"))), POLL_MS);
    }
  }

  if (investigator) {
    const cameras = (await get("/api/v1/cameras")).cameras.map((camera) => camera.name);
    const exportCase = h("input", { name: "case", required: true, placeholder: "the case reference" });
    const camera = h("select", { name: "camera" }, ...cameras.map((name) => h("option", { value: name }, name)));
    const now = Date.now();
    const since = timeInput("since", now - 3600_000);
    const until = timeInput("until", now - 60_000);
    const reason = h("input", { name: "reason", required: true, minlength: 5, maxlength: 500 });
    const unredacted = h("input", { name: "unredacted", type: "checkbox" });
    const form = h("form", { class: "card request-export", onsubmit: async (event) => {
      event.preventDefault();
      clear(message);
      try {
        await post("/api/v1/exports", { case: exportCase.value.trim(), camera: camera.value,
          reason: reason.value, redacted: !unredacted.checked,
          since: iso(fromLocalInput(since.value)), until: iso(fromLocalInput(until.value)) });
        await load();
      } catch (error) {
        message.append(notice(errorText(error), "error"));
      }
    } },
      h("h2", {}, "Export footage for a case"),
      h("p", {}, "The package holds a redacted video (people and faces covered with solid fill), a signed manifest naming the originals by their hashes, and a verifier anyone can run. The originals stay here unless an unredacted export is approved."),
      h("label", { class: "field" }, h("span", {}, "Case"), exportCase),
      h("label", { class: "field" }, h("span", {}, "Camera"), camera),
      h("label", { class: "field" }, h("span", {}, "From"), since),
      h("label", { class: "field" }, h("span", {}, "To"), until),
      h("label", { class: "field" }, h("span", {}, "Reason"), reason),
      h("label", { class: "field checkbox" }, unredacted, h("span", {}, "Unredacted: the original segments byte for byte, with no redacted video; a supervisor other than you must approve")),
      h("button", { type: "submit" }, "Export"));
    root.append(form);
  }

  await load();
  return () => clearTimeout(timer);
}
