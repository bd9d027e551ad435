// Building the page without a framework: elements, SVG, and how figures are written.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(element, attributes, children) {
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "text") element.textContent = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

// h("a", {href: "#/live", class: "x"}, "text", otherNode): an HTML element.
export const h = (tag, attributes, ...children) =>
  fill(document.createElement(tag), attributes, children);

// svg("rect", {x: 1, y: 2}): an SVG element.
export const svg = (tag, attributes, ...children) =>
  fill(document.createElementNS(SVG_NS, tag), attributes, children);

export function clear(element) {
  element.replaceChildren();
  return element;
}

// A table with a heading row; `body` is a <tbody> or the rows to put in one.
export function table(headings, body, attributes = {}) {
  const rows = body instanceof HTMLTableSectionElement ? body : h("tbody", {}, ...body);
  return h(
    "table",
    attributes,
    h("thead", {}, h("tr", {}, ...headings.map((t) => h("th", {}, t)))),
    rows,
  );
}

export function notice(text, kind = "info") {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

export function errorText(error) {
  return error && error.message ? error.message : String(error);
}

// Figures

export function bytes(value) {
  if (value === null || value === undefined) return "–";
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let size = value;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit += 1;
  }
  return `${size.toFixed(size < 10 && unit ? 1 : 0)} ${units[unit]}`;
}

export function bitrate(bps) {
  if (bps === null || bps === undefined) return "–";
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mbit/s` : `${Math.round(bps / 1e3)} kbit/s`;
}

export function number(value, digits = 1) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

// Times: the API speaks ISO 8601 UTC; people read local time.

export const parseTime = (iso) => (iso ? Date.parse(iso) : null);

export function localTime(ms, withDate = true) {
  if (ms === null || ms === undefined) return "–";
  const options = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
  if (withDate) Object.assign(options, { year: "numeric", month: "2-digit", day: "2-digit" });
  return new Date(ms).toLocaleString(undefined, options);
}

export function duration(ms) {
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function ago(ms) {
  if (!ms) return "never";
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

// <input type="datetime-local"> works in local time without a zone.
export function toLocalInput(ms) {
  const date = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return date.toISOString().slice(0, 19);
}

export function timeInput(name, ms) {
  return h("input", { type: "datetime-local", step: 1, name, value: toLocalInput(ms) });
}

export function fromLocalInput(value) {
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : ms;
}

export const iso = (ms) => new Date(ms).toISOString();

// One colour per site, the same on every page.
const PALETTE = ["#2f6fdf", "#d9822b", "#2a9d6a", "#9b4dca", "#c23c5a", "#1b9aaa", "#8a6d1f"];

export function siteColour(site, sites) {
  const index = sites.indexOf(site);
  return PALETTE[(index < 0 ? 0 : index) % PALETTE.length];
}
