// The console: who is signed in, what they may see, and which page the address shows.

import { ApiError, currentCase, get, post, setCsrf } from "./api.js";
import { renderCaseBar } from "./casebar.js";
import { clear, errorText, h, notice } from "./dom.js";
import * as audit from "./pages/audit.js";
import * as cameras from "./pages/cameras.js";
import * as cases from "./pages/cases.js";
import * as events from "./pages/events.js";
import * as exports from "./pages/exports.js";
import * as live from "./pages/live.js";
import * as playback from "./pages/playback.js";
import { renderPasswordChange, renderSignIn } from "./pages/signin.js";
import * as sites from "./pages/sites.js";
import * as storage from "./pages/storage.js";
import * as users from "./pages/users.js";

// The roles match the API's access table (src/vigil/api/access.py); the API enforces them,
// the console only avoids offering what would be refused.
const PAGES = {
  cameras: { title: "Cameras", roles: ["viewer", "investigator", "admin"], module: cameras },
  live: { title: "Live", roles: ["viewer", "investigator"], module: live },
  playback: { title: "Playback", roles: ["investigator"], module: playback, evidence: true },
  events: { title: "Events", roles: ["investigator"], module: events, evidence: true },
  cases: { title: "Cases", roles: ["investigator", "supervisor"], module: cases },
  exports: { title: "Exports", roles: ["investigator", "supervisor"], module: exports },
  // Only at a hub (federation.role: hub).
  sites: { title: "Sites", roles: ["viewer", "investigator", "admin"], module: sites, hub: true },
  storage: { title: "Storage", roles: ["admin"], module: storage },
  users: { title: "Users", roles: ["admin"], module: users },
  audit: { title: "Audit", roles: ["auditor"], module: audit },
};

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const caseBar = document.getElementById("casebar");

let account = null;
let leavePage = null; // the running page's clean-up: timers, open video streams
let shown = 0; // counts page changes, so a page that finishes loading late is not kept

const allowed = (page) =>
  account && (!page.hub || account.hub) && page.roles.some((role) => account.roles.includes(role));
const allowedPages = () => Object.keys(PAGES).filter((name) => allowed(PAGES[name]));

function parseHash() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  return { name: path, params: new URLSearchParams(query) };
}

export function navigate(name, params = {}) {
  const query = new URLSearchParams(params).toString();
  const hash = `#/${name}${query ? `?${query}` : ""}`;
  // The same address again (a repeated search) fires no hashchange: show the page afresh.
  if (location.hash === hash) route();
  else location.hash = hash;
}

function leave() {
  if (leavePage) {
    try {
      leavePage();
    } catch (error) {
      console.error(error);
    }
  }
  leavePage = null;
}

async function route() {
  leave();
  const turn = ++shown;
  if (!account || account.must_change_password) return;
  const { name, params } = parseHash();
  const page = PAGES[name];
  if (!page || !allowed(page)) {
    const first = allowedPages()[0];
    if (first && first !== name) {
      navigate(first);
      return;
    }
    clear(main).append(notice("This account has no role that gives access to a page.", "error"));
    return;
  }
  for (const link of nav.querySelectorAll("a")) {
    link.classList.toggle("current", link.dataset.page === name);
  }
  document.title = `${page.title} · Vigil`;
  clear(main);
  const holder = h("section", { class: `page page-${name}` });
  main.append(holder);
  if (page.evidence && !currentCase()) {
    holder.append(
      h("h1", {}, page.title),
      notice(
        "Footage and events are evidence. Every look at them is written to the audit trail " +
          "with a case reference and a reason, so fill in the case bar above first.",
        "warning",
      ),
    );
    return;
  }
  try {
    const cleanUp = (await page.module.render(holder, { params, account, navigate })) || null;
    if (turn === shown) leavePage = cleanUp;
    else if (cleanUp) cleanUp(); // another page was asked for meanwhile
  } catch (error) {
    holder.append(notice(errorText(error), "error"));
  }
}

function showNavigation() {
  clear(nav);
  for (const name of allowedPages()) {
    nav.append(h("a", { href: `#/${name}`, "data-page": name }, PAGES[name].title));
  }
  clear(who).append(
    h("span", { class: "account" }, `${account.name} (${account.roles.join(", ")})`),
    h("button", { type: "button", class: "link", onclick: signOut }, "Sign out"),
  );
  const investigates = account.roles.includes("investigator");
  caseBar.hidden = !investigates;
  if (investigates) renderCaseBar(caseBar);
}

function signedIn(answer) {
  account = answer;
  setCsrf(answer.csrf_token);
  if (account.must_change_password) {
    clear(nav);
    clear(who);
    caseBar.hidden = true;
    renderPasswordChange(clear(main), account, signedIn);
    return;
  }
  showNavigation();
  route();
}

function showSignIn(message) {
  leave();
  shown += 1;
  account = null;
  setCsrf(null);
  clear(nav);
  clear(who);
  caseBar.hidden = true;
  document.title = "Sign in · Vigil";
  renderSignIn(clear(main), signedIn, message);
}

async function signOut() {
  try {
    await post("/api/v1/auth/logout");
  } catch (error) {
    console.warn("sign-out", error);
  }
  showSignIn("Signed out.");
}

async function start() {
  window.addEventListener("hashchange", route);
  window.addEventListener("vigil:signedout", () => {
    if (account) showSignIn("Your session has ended; sign in again.");
  });
  window.addEventListener("vigil:case", () => {
    const page = PAGES[parseHash().name];
    if (page && page.evidence) route();
  });
  try {
    signedIn(await get("/api/v1/auth/me"));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showSignIn();
    else clear(main).append(notice(`Vigil cannot be reached: ${errorText(error)}`, "error"));
  }
}

start();
