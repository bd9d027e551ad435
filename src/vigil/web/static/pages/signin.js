// Signing in, and the forced change of a one-time password.

import { post } from "../api.js";
import { errorText, h, notice } from "../dom.js";

function field(label, input) {
  return h("label", { class: "field" }, h("span", {}, label), input);
}

export function renderSignIn(root, onSignedIn, message) {
  const name = h("input", { name: "name", autocomplete: "username", required: true });
  const password = h("input", {
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const status = h("div", { class: "form-status" }, message ? notice(message) : null);
  const button = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "card narrow", id: "signin", onsubmit: submit },
    h("h1", {}, "Sign in to Vigil"),
    field("Name", name),
    field("Password", password),
    button,
    status,
  );
  root.append(form);
  name.focus();

  async function submit(event) {
    event.preventDefault();
    button.disabled = true;
    status.replaceChildren();
    try {
      onSignedIn(await post("/api/v1/auth/login", { name: name.value, password: password.value }));
    } catch (error) {
      status.append(notice(errorText(error), "error"));
      password.value = "";
      password.focus();
    } finally {
      button.disabled = false;
    }
  }
}

export function renderPasswordChange(root, account, onChanged) {
  const current = h("input", {
    name: "current",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const fresh = h("input", {
    name: "new",
    type: "password",
    autocomplete: "new-password",
    minlength: 12,
    required: true,
  });
  const again = h("input", {
    name: "again",
    type: "password",
    autocomplete: "new-password",
    minlength: 12,
    required: true,
  });
  const status = h("div", { class: "form-status" });
  const form = h(
    "form",
    { class: "card narrow", id: "password-change", onsubmit: submit },
    h("h1", {}, "Choose a new password"),
    h(
      "p",
      {},
      `${account.name}, your password was given to you once and must be changed before you ` +
        "can use Vigil. Use at least 12 characters, not containing your name.",
    ),
    field("Current (one-time) password", current),
    field("New password", fresh),
    field("New password again", again),
    h("button", { type: "submit" }, "Change password"),
    status,
  );
  root.append(form);
  current.focus();

  async function submit(event) {
    event.preventDefault();
    status.replaceChildren();
    if (fresh.value !== again.value) {
      status.append(notice("The two new passwords differ.", "error"));
      return;
    }
    try {
      onChanged(await post("/api/v1/auth/password", { current: current.value, new: fresh.value }));
    } catch (error) {
      status.append(notice(errorText(error), "error"));
    }
  }
}
