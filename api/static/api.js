// Calls to the JSON API from signed-in pages. The session rides in an HttpOnly cookie the
// script never sees; writes carry the page's CSRF token. A session that ended sends the
// user back to sign in.

const token = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
// The agent panel in a chat console names itself: its calls use its own session, and its
// sign-in is the panel's (the console's frame may not show /login).
const panel = document.querySelector('meta[name="sf-panel"]')?.content ?? "";

/** The session ended on the server (idle, signed out elsewhere, disabled): sign in again. */
export function sessionEnded() {
  if (panel) window.location.assign(panel);
  else window.location.assign(`/login?reason=ended&next=${encodeURIComponent(window.location.pathname)}`);
}

/**
 * `api("POST", "/api/v1/...", {...})` resolves to {status, body}; body is the parsed
 * JSON or null. A 401 leaves the page for the sign-in page and never resolves.
 */
export async function api(method, url, payload = undefined) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = token;
  if (panel) headers["X-Secureforms-Panel"] = "1";
  if (payload !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    cache: "no-store",
    headers,
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  if (response.status === 401) {
    sessionEnded();
    return new Promise(() => {});
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { status: response.status, body };
}

/** The message of an API error body, or a fallback that still says what to do. */
export function problemText(body, fallback = "That did not work. Please try again.") {
  return (body && typeof body.message === "string" && body.message) || fallback;
}
