// What the chat console says about its open conversation, for the agent's panel. Chatwoot
// posts `appContext` (a JSON string: {event, data: {conversation, contact, currentAgent}})
// to its Dashboard App frames, and sends it again when asked. It is a hint, not an
// identity (anyone can post a message): only the site's allowed origins are heard, and
// the server still shows a conversation only to its assigned agent.

/** Whether `origin` is one of `allowed` (exact origins, or https://*.example.com). */
export function allowedOrigin(origin, allowed) {
  return allowed.some((entry) => {
    if (entry === origin) return true;
    const star = entry.indexOf("://*.");
    if (star < 0) return false;
    const scheme = entry.slice(0, star + 3);
    const rest = entry.slice(star + 4); // ".example.com" or ".example.com:8443"
    if (!origin.startsWith(scheme)) return false;
    const host = origin.slice(scheme.length);
    return host.endsWith(rest) && host.length > rest.length;
  });
}

/** The conversation a console's message names, as our external id; or null. */
export function externalIdOf(raw) {
  let message = raw;
  if (typeof raw === "string") {
    try {
      message = JSON.parse(raw);
    } catch {
      return null;
    }
  }
  if (!message || message.event !== "appContext") return null;
  const id = message.data?.conversation?.id;
  return Number.isInteger(id) && id > 0 ? `chatwoot:${id}` : null;
}

/** Call `found(externalId)` for each conversation an allowed console names. */
export function watchConsole(allowed, found) {
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || !allowedOrigin(event.origin, allowed)) return;
    const externalId = externalIdOf(event.data);
    if (externalId) found(externalId);
  });
  if (window.parent !== window) {
    // Asking carries nothing: the answer, not the question, is what is checked.
    window.parent.postMessage("chatwoot-dashboard-app:fetch-info", "*");
  }
}

export function panelUrl(siteId, externalId) {
  return `/embed/agent/${encodeURIComponent(siteId)}?external_id=${encodeURIComponent(externalId)}`;
}
