// Cases and holds (investigators, supervisors): open a case, ask for footage to be kept, and,
// for a supervisor who did not ask, approve or turn the request down. A hold is released the
// same way: one asks, another approves.

import { get, post } from "../api.js";
import { bytes, clear, errorText, fromLocalInput, h, iso, notice, table, timeInput } from "../dom.js";

const when = (text) => (text ? new Date(text).toLocaleString() : "");

export async function render(root, { account }) {
  const investigator = account.roles.includes("investigator");
  const supervisor = account.roles.includes("supervisor");
  const message = h("div", { class: "message" });
  const caseBody = h("tbody");
  const holdBody = h("tbody");
  const heldTotal = h("p", { class: "held-total" });
  const liftBody = h("tbody");
  root.append(
    h("h1", {}, "Cases"),
    message,
    h("div", { class: "table-wrap" }, table(["Reference", "Title", "Opened by", "Opened", "State", ""], caseBody, { class: "cases" })),
    h("h2", {}, "Holds"),
    heldTotal,
    h("div", { class: "table-wrap" }, table(["#", "Case", "Camera", "From", "To", "Reason", "Asked by", "State", "Expires", "Kept", ""], holdBody, { class: "holds" })),
    h("h2", {}, "Privacy mask lifts"),
    h("div", { class: "table-wrap" }, table(["#", "Case", "Camera", "From", "To", "Reason", "Asked by", "State", "Approved by", ""], liftBody, { class: "lifts" })),
  );

  function liftRow(lift) {
    const approve = supervisor && lift.state === "requested" && lift.requested_by !== account.name
      ? h("button", { type: "button", class: "secondary", "data-action": "approve", onclick: () => act(`/api/v1/lifts/${lift.id}/approve`) }, "Approve") : "";
    return h("tr", { "data-lift": String(lift.id), "data-state": lift.state },
      h("td", {}, String(lift.id)), h("td", {}, lift.case), h("td", {}, lift.camera),
      h("td", {}, when(lift.since)), h("td", {}, when(lift.until)), h("td", {}, lift.reason),
      h("td", {}, lift.requested_by), h("td", { class: "state" }, lift.state),
      h("td", {}, lift.approved_by || ""), h("td", {}, approve));
  }

  async function act(path, body) {
    clear(message);
    try {
      await post(path, body);
      await load();
    } catch (error) {
      message.append(notice(errorText(error), "error"));
    }
  }

  function caseRow(item) {
    const close = () => {
      if (confirm(`Close case ${item.reference}? Its holds stay until released or expired.`)) {
        act(`/api/v1/cases/${item.reference}/close`);
      }
    };
    return h("tr", { "data-case": item.reference },
      h("td", {}, item.reference), h("td", {}, item.title), h("td", {}, item.opened_by),
      h("td", {}, when(item.opened)), h("td", {}, item.state),
      h("td", {}, investigator && item.state === "open"
        ? h("button", { type: "button", class: "secondary", onclick: close }, "Close") : ""));
  }

  function holdRow(hold) {
    const buttons = [];
    const button = (text, path, body) =>
      h("button", { type: "button", class: "secondary", "data-action": text.toLowerCase(), onclick: () => act(path, body) }, text);
    const own = hold.requested_by === account.name;
    if (supervisor && hold.state === "requested" && !own) {
      buttons.push(button("Approve", `/api/v1/holds/${hold.id}/approve`), button("Refuse", `/api/v1/holds/${hold.id}/refuse`));
    }
    if (hold.state === "active") {
      const ask = () => {
        const reason = prompt(`Why release hold ${hold.id}? A second person must approve.`);
        if (reason) act(`/api/v1/holds/${hold.id}/release`, { reason });
      };
      buttons.push(h("button", { type: "button", class: "secondary", "data-action": "release", onclick: ask }, "Release"));
    }
    if (supervisor && hold.state === "release_requested" && hold.release_requested_by !== account.name) {
      buttons.push(button("Approve release", `/api/v1/holds/${hold.id}/release/approve`));
    }
    return h("tr", { "data-hold": String(hold.id), "data-state": hold.state },
      h("td", {}, String(hold.id)), h("td", {}, hold.case), h("td", {}, hold.camera),
      h("td", {}, when(hold.since)), h("td", {}, when(hold.until)), h("td", {}, hold.reason),
      h("td", {}, hold.requested_by), h("td", { class: "state" }, hold.state.replace("_", " ")),
      h("td", {}, when(hold.expires)), h("td", {}, bytes(hold.held_bytes || 0)),
      h("td", {}, ...buttons));
  }

  async function load() {
    const [cases, holds, lifts] = await Promise.all([get("/api/v1/cases"), get("/api/v1/holds"), get("/api/v1/lifts")]);
    clear(liftBody).append(...lifts.lifts.map(liftRow));
    clear(caseBody).append(...cases.cases.map(caseRow));
    clear(holdBody).append(...holds.holds.map(holdRow));
    const kept = holds.holds
      .filter((hold) => hold.state === "active" || hold.state === "release_requested")
      .reduce((sum, hold) => sum + (hold.held_bytes || 0), 0);
    heldTotal.textContent = `Holds in force keep ${bytes(kept)} of footage from deletion.`;
  }

  if (investigator) {
    const reference = h("input", { name: "reference", required: true, maxlength: 64, placeholder: "e.g. CASE-2026/17" });
    const title = h("input", { name: "title", required: true, maxlength: 200 });
    const description = h("textarea", { name: "description", maxlength: 5000 });
    const openForm = h("form", { class: "card open-case", onsubmit: async (event) => {
      event.preventDefault();
      await act("/api/v1/cases", { reference: reference.value.trim(), title: title.value.trim(), description: description.value });
      openForm.reset();
    } },
      h("h2", {}, "Open a case"),
      h("label", { class: "field" }, h("span", {}, "Reference"), reference),
      h("label", { class: "field" }, h("span", {}, "Title"), title),
      h("label", { class: "field" }, h("span", {}, "Description"), description),
      h("button", { type: "submit" }, "Open"));

    const cameras = (await get("/api/v1/cameras")).cameras.map((camera) => camera.name);
    const holdCase = h("input", { name: "case", required: true, placeholder: "the case reference" });
    const camera = h("select", { name: "camera" }, ...cameras.map((name) => h("option", { value: name }, name)));
    const now = Date.now();
    const since = timeInput("since", now - 3600_000);
    const until = timeInput("until", now - 60_000);
    const reason = h("input", { name: "reason", required: true, minlength: 5, maxlength: 500 });
    const days = h("input", { name: "days", type: "number", min: 1, placeholder: "90" });
    const holdForm = h("form", { class: "card request-hold", onsubmit: async (event) => {
      event.preventDefault();
      const body = { case: holdCase.value.trim(), camera: camera.value, reason: reason.value,
        since: iso(fromLocalInput(since.value)), until: iso(fromLocalInput(until.value)) };
      if (days.value) body.days = Number(days.value);
      await act("/api/v1/holds", body);
    } },
      h("h2", {}, "Keep footage for a case (hold)"),
      h("p", {}, "A supervisor other than you must approve it before it takes effect."),
      h("label", { class: "field" }, h("span", {}, "Case"), holdCase),
      h("label", { class: "field" }, h("span", {}, "Camera"), camera),
      h("label", { class: "field" }, h("span", {}, "From"), since),
      h("label", { class: "field" }, h("span", {}, "To"), until),
      h("label", { class: "field" }, h("span", {}, "Reason"), reason),
      h("label", { class: "field" }, h("span", {}, "Days (default 90)"), days),
      h("button", { type: "submit" }, "Request hold"));
    root.append(openForm, holdForm);
  }

  await load();
  return null;
}
