// Small helpers shared by every page's script. ES module; no dependencies.

/** The one element matching `selector` in `root`, or null. */
export function $(selector, root = document) {
  return root.querySelector(selector);
}

/** POST a JSON body; resolves to {status, body, headers} (body null when not JSON). */
export async function postJSON(url, payload, headers = {}) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...headers },
    body: JSON.stringify(payload),
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { status: response.status, body, headers: response.headers };
}

/** Say something to screen reader users through a polite live region. */
export function announce(message, regionId = "live") {
  const region = document.getElementById(regionId);
  if (!region) return;
  region.textContent = "";
  // A fresh text node after a tick is announced even when the words repeat.
  window.setTimeout(() => {
    region.textContent = message;
  }, 50);
}

/** Focus the element the server marked (an error summary after a failed submit). */
export function focusMarked() {
  const target = $("[data-focus-on-load]");
  if (target && document.activeElement !== target) {
    target.focus();
  }
}

/** Links in an error summary move focus to their field, not just scroll to it. */
export function linkSummaryToFields(root = document) {
  root.querySelectorAll("a[data-focus-field]").forEach((link) => {
    link.addEventListener("click", (event) => {
      const id = link.getAttribute("href").slice(1);
      const field = document.getElementById(id);
      if (!field) return;
      event.preventDefault();
      field.focus();
      field.scrollIntoView({ block: "center" });
    });
  });
}

/** "about 3 minutes" / "less than a minute" / "42 seconds" for a countdown. */
export function durationText(seconds) {
  if (seconds <= 0) return "no time";
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  const m = `${minutes} minute${minutes === 1 ? "" : "s"}`;
  return rest ? `${m} ${rest} second${rest === 1 ? "" : "s"}` : m;
}
