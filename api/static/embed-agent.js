// The agent's panel in a chat console's sidebar: the workspace's secure forms for the
// console's open conversation. The conversation comes from the console (embed-context.js);
// a new one reloads the panel for it. Sending, viewing and forwarding are the workspace's
// own modules, on the same API.
import { $, announce, focusMarked, linkSummaryToFields } from "./common.js";
import { createForms } from "./agent-forms.js";
import { createReveal } from "./agent-reveal.js";
import { createForward } from "./agent-forward.js";
import { formHandlers, listen, workspaceState } from "./agent-events.js";
import { button, el } from "./agent-dom.js";
import { panelUrl, watchConsole } from "./embed-context.js";

const root = $("#workspace");
const allowed = JSON.parse(root.dataset.origins || "[]");

focusMarked();
linkSummaryToFields();

watchConsole(allowed, (externalId) => {
  if (externalId !== root.dataset.external) window.location.replace(panelUrl(root.dataset.site, externalId));
});

// Chatwoot gets the link from our worker; any other console from the agent, who pastes
// it. Shown either way: a link Chatwoot never got (its token revoked, it down for a day)
// must not leave the agent with nothing to give the visitor.
function linkMade(title, url, requestId) {
  const box = $("#link-box");
  box.dataset.request = requestId;
  const relayed = root.dataset.relayed === "true";
  const id = "visitor-link";
  const label = el("label", "label", `Link for the visitor (${title})`);
  label.htmlFor = id;
  const input = el("input", "input input-code");
  input.id = id;
  input.readOnly = true;
  input.value = url;
  const copy = button("Copy link", "button button-secondary button-small");
  copy.addEventListener("click", async () => {
    await navigator.clipboard.writeText(url);
    announce("Link copied. Paste it into the conversation.");
  });
  const hint = relayed
    ? "The link is being posted into the conversation for you. If it does not appear there, copy it from here."
    : "Paste this link into the conversation: it opens the form for the visitor.";
  box.replaceChildren(el("p", "hint", hint), label, input, copy);
  box.hidden = false;
  announce(relayed ? `${title} sent: the link is being posted into the conversation.` : `${title} is ready to send: copy its link into the conversation.`);
  if (!relayed) {
    input.focus();
    input.select();
  }
}

function linkDone(data) {
  const box = $("#link-box");
  if (box.dataset.request !== data.request_id) return;
  box.replaceChildren();
  box.hidden = true;
}

if (root.dataset.conversation) {
  const ws = { ...workspaceState(root), platform: true };
  const hooks = { systemLine: () => {}, linkMade }; // the chat is the console's: no transcript here
  const forms = createForms(ws, hooks);
  const reveal = createReveal(ws, forms, hooks);
  const forward = createForward(reveal);
  hooks.view = reveal.view;
  hooks.forward = forward.start;
  const base = formHandlers(forms, reveal);
  // Once answered or expired, the link opens nothing more: it leaves the panel.
  const thenLinkDone = (type) => (data) => {
    linkDone(data);
    base[type](data);
  };
  listen(
    root.dataset.after,
    {
      "conversation.transferred": forms.transferred,
      "conversation.closed": forms.closed,
      ...base,
      "secure_form.submitted": thenLinkDone("secure_form.submitted"),
      "secure_form.expired": thenLinkDone("secure_form.expired"),
    },
    () => announce("Live updates stopped. Reload the panel to see new answers."),
    { panel: true },
  );
}
