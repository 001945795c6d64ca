// The agent's event stream (SSE), resumed from where the server rendered the page, shared
// by the workspace (agent.js) and the panel in a chat console (embed-agent.js).

/** The page's state as the server rendered it on `#workspace`. */
export function workspaceState(root) {
  return {
    conversationId: root.dataset.conversation || null,
    assigned: root.dataset.assigned === "true",
    active: root.dataset.active === "true",
    visitor: root.dataset.visitor || "Visitor",
    canForward: root.dataset.forward === "true",
    canReveal: root.dataset.reveal !== "false",
  };
}

/** The secure forms' part of the stream: each sent form's status, and answers arriving. */
export function formHandlers(forms, reveal) {
  return {
    "secure_form.opened": (data) => forms.status(data.request_id, "opened"),
    "secure_form.submitted": (data) => {
      forms.status(data.request_id, "submitted", data.submission_id);
      reveal.submitted(data);
    },
    "secure_form.viewed": (data) => forms.status(data.request_id, "viewed"),
    "secure_form.expired": (data) => forms.status(data.request_id, "expired"),
  };
}

/** Listen from event id `after`; `stopped` is called once the stream gives up. */
export function listen(after, handlers, stopped, { panel = false } = {}) {
  const own = panel ? "&panel=1" : ""; // the panel's own session (api.auth.cookie_token)
  const source = new EventSource(`/api/v1/agent/events?after=${encodeURIComponent(after)}${own}`);
  for (const [type, handle] of Object.entries(handlers)) {
    source.addEventListener(type, (event) => handle(JSON.parse(event.data)));
  }
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) stopped();
  });
  document.addEventListener("sf:signing-out", () => source.close());
  return source;
}
