// The agent workspace, live. The agent's event stream (SSE, resumed from where the server
// rendered the page) moves everything: messages, new and ended chats, the status of each
// secure form, and the notice that answers arrived. Without this script the page still
// works through plain form posts, except for viewing answers, which only happens here.
import { $, focusMarked, linkSummaryToFields } from "./common.js";
import { createChat } from "./agent-chat.js";
import { createForms } from "./agent-forms.js";
import { createReveal } from "./agent-reveal.js";
import { createForward } from "./agent-forward.js";
import { formHandlers, listen, workspaceState } from "./agent-events.js";

const root = $("#workspace");
const ws = workspaceState(root);

focusMarked();
linkSummaryToFields();

// The three parts call each other only through these hooks, set once all exist.
const hooks = {};
const forms = createForms(ws, hooks);
const chat = createChat(ws, hooks);
const reveal = createReveal(ws, forms, hooks);
const forward = createForward(reveal);
hooks.systemLine = chat.systemLine;
hooks.chooseCardForm = forms.chooseCardForm;
hooks.view = reveal.view;
hooks.forward = forward.start;

const handlers = {
  "chat.message": chat.message,
  "chat.card_number_detected": chat.cardNumber,
  "conversation.assigned": chat.assigned,
  "conversation.transferred": (data) => {
    chat.transferred(data);
    forms.transferred(data);
  },
  "conversation.closed": (data) => {
    chat.closed(data);
    forms.closed(data);
  },
  ...formHandlers(forms, reveal),
};

listen(root.dataset.after, handlers, () =>
  chat.say("Live updates stopped. Reload the page to see new messages."),
);
