// Talking to the Vigil API: the session's CSRF token, the case and reason that every evidence
// request carries, and errors turned into readable messages.

let csrfToken = null;

export function setCsrf(token) {
  csrfToken = token;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export class CaseMissing extends Error {
  constructor() {
    super("Fill in the case reference and the reason first.");
  }
}

// The case bar: kept for this browser tab only, so a reason never outlives the investigation
// it was given for.
const CASE_KEY = "vigil.case";
const REASON_KEY = "vigil.reason";
const CASE_PATTERN = /^[\w./:#-]{1,64}$/;

export function caseProblem(reference, reason) {
  if (!CASE_PATTERN.test(reference)) {
    return "The case reference is 1-64 letters, digits or ./:#- characters.";
  }
  const words = reason.split(/\s+/).filter(Boolean).join(" ");
  if (words.length < 5 || words.length > 500) return "The reason is 5-500 characters.";
  return null;
}

export function currentCase() {
  const reference = sessionStorage.getItem(CASE_KEY) || "";
  const reason = sessionStorage.getItem(REASON_KEY) || "";
  return caseProblem(reference, reason) ? null : { reference, reason };
}

export function setCase(reference, reason) {
  sessionStorage.setItem(CASE_KEY, reference.trim());
  sessionStorage.setItem(REASON_KEY, reason.trim());
  window.dispatchEvent(new Event("vigil:case"));
}

export function clearCase() {
  sessionStorage.removeItem(CASE_KEY);
  sessionStorage.removeItem(REASON_KEY);
  window.dispatchEvent(new Event("vigil:case"));
}

export function evidenceHeaders() {
  const found = currentCase();
  if (!found) throw new CaseMissing();
  // Header values travel as Latin-1; percent-encoded UTF-8 keeps any script intact.
  return {
    "X-Vigil-Case": encodeURIComponent(found.reference),
    "X-Vigil-Reason": encodeURIComponent(found.reason),
  };
}

// A URL the browser fetches by itself (<img src>, a download link): the case goes in the query.
export function evidenceUrl(path, params = {}) {
  const found = currentCase();
  if (!found) throw new CaseMissing();
  return withQuery(path, { ...params, case: found.reference, reason: found.reason });
}

export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

// Any answer of 401 means the session is gone: the app shows the sign-in form again.
function signedOut() {
  window.dispatchEvent(new Event("vigil:signedout"));
}

export async function request(path, { method = "GET", body, query, evidence = false } = {}) {
  const headers = { Accept: "application/json" };
  if (evidence) Object.assign(headers, evidenceHeaders());
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken || "";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(query ? withQuery(path, query) : path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (response.status === 401 && !path.endsWith("/auth/login")) signedOut();
  if (!response.ok) throw new ApiError(response.status, await errorDetail(response));
  return response.json();
}

export async function errorDetail(response) {
  try {
    const answer = await response.json();
    if (typeof answer.detail === "string") return answer.detail;
    if (Array.isArray(answer.detail)) {
      return answer.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    }
  } catch {
    // Not JSON: fall through to the status line.
  }
  return `${response.status} ${response.statusText}`;
}

export const get = (path, options = {}) => request(path, options);
export const post = (path, body, options = {}) =>
  request(path, { ...options, method: "POST", body });
