// Accounts (admins): who may use Vigil, adding an account (its one-time password is shown
// here once) and disabling one.

import { get, post } from "../api.js";
import { clear, errorText, h, notice, table } from "../dom.js";

const ROLES = ["viewer", "investigator", "supervisor", "admin", "auditor"];
const list = (text) =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

function scope(user) {
  const parts = [];
  if (user.cameras) parts.push(`cameras: ${user.cameras.join(", ")}`);
  if (user.sites) parts.push(`sites: ${user.sites.join(", ")}`);
  return parts.length ? parts.join("; ") : "every camera";
}

export async function render(root, { account }) {
  const body = h("tbody");
  const created = h("div", { class: "created" });
  root.append(
    h("h1", {}, "Users"),
    h(
      "div",
      { class: "table-wrap" },
      table(["Name", "Roles", "Scope", "State", ""], body, { class: "users" }),
    ),
  );

  async function load() {
    const users = (await get("/api/v1/users")).users;
    clear(body).append(...users.map(row));
  }

  function row(user) {
    let state = user.must_change_password ? "must change password" : "active";
    if (user.disabled) state = "disabled";
    const disable = async () => {
      if (!confirm(`Disable ${user.name}? Their sessions and tokens end at once.`)) return;
      try {
        await post(`/api/v1/users/${encodeURIComponent(user.name)}/disable`);
        await load();
      } catch (error) {
        clear(created).append(notice(errorText(error), "error"));
      }
    };
    return h(
      "tr",
      { "data-user": user.name },
      h("td", {}, user.name),
      h("td", {}, user.roles.join(", ")),
      h("td", {}, scope(user)),
      h("td", { class: user.disabled ? "state state-disabled" : "state" }, state),
      h(
        "td",
        {},
        user.disabled || user.name === account.name
          ? ""
          : h("button", { type: "button", class: "secondary", onclick: disable }, "Disable"),
      ),
    );
  }

  const name = h("input", {
    name: "name",
    required: true,
    pattern: "[a-z0-9._\\-]{1,64}",
    placeholder: "e.g. j.smith",
  });
  const roles = ROLES.map((role) => h("input", { type: "checkbox", name: "roles", value: role }));
  const cameras = h("input", { name: "cameras", placeholder: "all, or cam1, cam2" });
  const sites = h("input", { name: "sites", placeholder: "all, or north, south" });
  const form = h(
    "form",
    { class: "card add-user", onsubmit: add },
    h("h2", {}, "Add an account"),
    h("label", { class: "field" }, h("span", {}, "Name (lower case)"), name),
    h(
      "fieldset",
      {},
      h("legend", {}, "Roles"),
      ...roles.map((box) => h("label", { class: "check" }, box, ` ${box.value}`)),
    ),
    h("label", { class: "field" }, h("span", {}, "Only these cameras"), cameras),
    h("label", { class: "field" }, h("span", {}, "Only these sites"), sites),
    h("button", { type: "submit" }, "Add"),
  );
  root.append(form, created);

  async function add(event) {
    event.preventDefault();
    clear(created);
    const chosen = roles.filter((box) => box.checked).map((box) => box.value);
    if (!chosen.length) {
      created.append(notice("Give the account at least one role.", "error"));
      return;
    }
    const request = { name: name.value.trim(), roles: chosen };
    if (list(cameras.value).length) request.cameras = list(cameras.value);
    if (list(sites.value).length) request.sites = list(sites.value);
    try {
      const answer = await post("/api/v1/users", request);
      form.reset();
      created.append(
        h(
          "div",
          { class: "notice success one-time" },
          h(
            "p",
            {},
            `Account ${answer.user.name} created. Its one-time password, shown only this once:`,
          ),
          h("code", { class: "password" }, answer.one_time_password),
          h("p", {}, "Give it to them privately; they must change it when they first sign in."),
        ),
      );
      await load();
    } catch (error) {
      created.append(notice(errorText(error), "error"));
    }
  }

  await load();
  return null;
}
