// The case bar: the case reference and reason an investigator is working under. Every evidence
// request carries them, and the audit trail records them with each look at footage.

import { caseProblem, clearCase, currentCase, setCase } from "./api.js";
import { clear, h } from "./dom.js";

export function renderCaseBar(bar) {
  const found = currentCase();
  clear(bar);
  if (found) {
    bar.classList.remove("missing");
    bar.append(
      h("span", { class: "label" }, "Case"),
      h("strong", { class: "case-reference" }, found.reference),
      h("span", { class: "case-reason", title: found.reason }, found.reason),
      h(
        "button",
        { type: "button", class: "link", onclick: () => editCase(bar, found) },
        "Change",
      ),
      h(
        "button",
        {
          type: "button",
          class: "link",
          onclick: () => {
            clearCase();
            renderCaseBar(bar);
          },
        },
        "Clear",
      ),
    );
    return;
  }
  editCase(bar, { reference: "", reason: "" });
}

function editCase(bar, found) {
  clear(bar).classList.add("missing");
  const reference = h("input", {
    name: "case",
    placeholder: "e.g. CASE-2026/17",
    maxlength: 64,
    value: found.reference,
    "aria-label": "Case reference",
  });
  const reason = h("input", {
    name: "reason",
    class: "wide",
    placeholder: "why you are looking, e.g. theft reported at the north gate",
    maxlength: 500,
    value: found.reason,
    "aria-label": "Reason",
  });
  const problem = h("span", { class: "problem", role: "alert" });
  const form = h(
    "form",
    {
      class: "case-form",
      onsubmit: (event) => {
        event.preventDefault();
        const why = caseProblem(reference.value.trim(), reason.value.trim());
        if (why) {
          problem.textContent = why;
          return;
        }
        setCase(reference.value, reason.value);
        renderCaseBar(bar);
      },
    },
    h("span", { class: "label" }, "Case"),
    reference,
    h("span", { class: "label" }, "Reason"),
    reason,
    h("button", { type: "submit" }, "Use"),
    problem,
  );
  bar.append(
    form,
    h(
      "p",
      { class: "hint" },
      "Footage, timelines, events and snapshots are shown only under a case: each look is " +
        "audited with it.",
    ),
  );
}
