// Predefined content: the tabs, and the "Secure forms" tab, where the agent picks a form,
// sends it into the chat (the visitor gets a card with its link), and watches each sent
// form move from sent to opened, submitted, viewed or expired without reloading.
import { $, announce } from "./common.js";
import { api, problemText } from "./api.js";
import { button, byData, el } from "./agent-dom.js";

export const STATUS_WORDS = {
  sent: "Sent: waiting for the visitor",
  opened: "Opened by the visitor",
  submitted: "Submitted: answers ready",
  viewed: "Answers viewed",
  expired: "Expired",
};
const WAITING = new Set(["sent", "opened"]);
const RECHECK_MS = 30_000;

// -- tabs (WAI-ARIA tabs, automatic activation) ------------------------------------------
function makeTabs(box) {
  const panels = [...box.querySelectorAll(":scope > .tab-panel")];
  const tablist = el("div", "tablist");
  tablist.setAttribute("role", "tablist");
  tablist.setAttribute("aria-labelledby", "predefined-title");
  const tabs = panels.map((panel) => {
    const title = panel.querySelector(".tab-title");
    const tab = el("button", "tab", title.textContent);
    tab.type = "button";
    tab.id = `tab-${panel.id}`;
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-controls", panel.id);
    title.classList.add("visually-hidden"); // the tab names the panel now
    panel.setAttribute("role", "tabpanel");
    panel.setAttribute("aria-labelledby", tab.id);
    panel.tabIndex = 0;
    tablist.append(tab);
    return tab;
  });
  box.prepend(tablist);

  function select(id) {
    tabs.forEach((tab, i) => {
      const on = panels[i].id === id;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      panels[i].hidden = !on;
    });
  }
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(panels[i].id));
    tab.addEventListener("keydown", (event) => {
      const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      const next = (moves[event.key] + tabs.length) % tabs.length;
      select(panels[next].id);
      tabs[next].focus();
    });
  });
  select(panels[0].id);
  return select;
}

export function createForms(ws, hooks) {
  const selectTab = makeTabs($("#tabs"));
  const requests = $("#requests");
  const noRequests = $("#no-requests");
  const sendForm = $("#send-form");
  const choice = $("#form-choice");
  const language = $("#form-language"); // the visitor pages' language, or the browser's
  const checks = new Map();

  const row = (requestId) => byData(requests, "request", requestId);

  function render(li) {
    const status = li.dataset.status;
    const words = li.querySelector(".request-status");
    words.textContent = STATUS_WORDS[status] || status;
    words.className = `request-status status-${status}`;
    const actions = li.querySelector(".request-actions");
    actions.replaceChildren();
    // Offered whatever the chat's state: when the answers can't be shown, the refusal
    // says why in words.
    if ((status === "submitted" || status === "viewed") && li.dataset.submission) {
      const view = button(status === "viewed" ? "View again" : "View answers", "button button-small", `of ${li.dataset.title}`);
      view.classList.add(status === "viewed" ? "button-secondary" : "button-primary");
      view.addEventListener("click", () =>
        hooks.view(li.dataset.submission, li.dataset.request, ws.conversationId, view),
      );
      if (ws.canReveal) actions.append(view);
      if (ws.canForward && hooks.forward) {
        const send = button("Send to payment processor", "button button-secondary button-small", `the card of ${li.dataset.title}`);
        send.addEventListener("click", () =>
          hooks.forward(li.dataset.submission, li.dataset.request, ws.conversationId, send),
        );
        actions.append(send);
      }
    }
    if (!WAITING.has(status)) li.querySelector(".request-timer").replaceChildren();
    scheduleCheck(li);
  }

  // A key that ran out says nothing by itself: ask, once it should have, where it stands.
  function scheduleCheck(li) {
    const id = li.dataset.request;
    clearTimeout(checks.get(id));
    checks.delete(id);
    if (!WAITING.has(li.dataset.status) || !ws.active) return;
    const due = Math.max(1000, Date.parse(li.dataset.expires) - Date.now() + 1000);
    checks.set(
      id,
      setTimeout(async () => {
        const { status, body } = await api("GET", `/api/v1/secure-forms/${encodeURIComponent(id)}`);
        if (status !== 200) return;
        if (WAITING.has(body.status)) li.dataset.expires = new Date(Date.now() + RECHECK_MS).toISOString();
        setStatus(id, body.status, body.submission_id);
        if (WAITING.has(body.status)) scheduleCheck(li);
      }, Math.min(due, 2 ** 31 - 1)),
    );
  }

  function setStatus(requestId, status, submissionId) {
    const li = row(requestId);
    if (!li) return;
    if (submissionId) li.dataset.submission = submissionId;
    if (li.dataset.status === status) return;
    li.dataset.status = status;
    render(li);
    announce(`${li.dataset.title}: ${STATUS_WORDS[status] || status}.`);
    if (status === "submitted") hooks.systemLine(`Secure form '${li.dataset.title}' submitted`);
  }

  function addRow(request, title, fields) {
    const li = el("li", "request");
    li.dataset.request = request.request_id;
    li.dataset.status = "sent";
    li.dataset.submission = "";
    li.dataset.expires = request.expires_at;
    li.dataset.title = title;
    if (fields) li.dataset.fields = JSON.stringify(fields);
    li.append(
      el("span", "request-title", title),
      el("span", "request-status"),
      el("span", "request-timer"),
      el("span", "request-actions"),
    );
    requests.append(li);
    noRequests.hidden = true;
    render(li);
  }

  function fieldError(message) {
    const field = $("#form-choice-field");
    const error = $("#form-choice-error");
    field.classList.toggle("field-invalid", Boolean(message));
    choice.setAttribute("aria-invalid", message ? "true" : "false");
    error.replaceChildren();
    if (message) error.append(el("span", "visually-hidden", "Error: "), message);
  }

  sendForm?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const option = choice.selectedOptions[0];
    if (!choice.value) {
      fieldError("Choose a form to send.");
      announce("Choose a form to send.");
      choice.focus();
      return;
    }
    fieldError("");
    const go = sendForm.querySelector("button[type=submit]");
    go.disabled = true;
    // The workspace sends into our chat (the visitor gets a card); the panel in a chat
    // console sends through the platforms' endpoint, which answers the visitor's link.
    const into = ws.platform ? "" : "/chat";
    const { status, body } = await api(
      "POST",
      `/api/v1${into}/conversations/${encodeURIComponent(ws.conversationId)}/secure-forms`,
      { form_id: choice.value, ...(language.value ? { language: language.value } : {}) },
    );
    go.disabled = false;
    const title = option.textContent;
    if (status === 201) {
      addRow(body, title, null);
      hooks.systemLine(`Secure form '${title}' sent`);
      choice.value = "";
      if (hooks.linkMade) hooks.linkMade(title, body.visitor_url, body.request_id);
      else announce(`${title} sent. The visitor sees it in the chat.`);
      return;
    }
    let why = problemText(body, "The form was not sent. Please try again.");
    if (status === 409) why = "This chat has ended, so the form was not sent.";
    else if (status === 403) why = "Only the agent assigned to this chat can send it a secure form.";
    else if (status === 404) why = "That form is no longer available. Reload the page to see the current forms.";
    fieldError(why);
    announce(why);
    choice.focus();
  });

  /** The card number prompt's way here: this tab, a card form picked, focus on the choice. */
  function chooseCardForm() {
    selectTab("secure-forms");
    if (!choice) return;
    if (!choice.value) {
      const card = choice.querySelector("option[data-card]");
      if (card) choice.value = card.value;
    }
    choice.focus();
  }

  function replaceSending(text) {
    sendForm?.replaceWith(el("p", "", text));
  }

  function closed(data) {
    if (data.conversation_id !== ws.conversationId) return;
    ws.active = false;
    replaceSending("This chat has ended, so no more forms can be sent in it.");
    // Every key of the chat was revoked with it: a form not yet sent back never will be.
    requests?.querySelectorAll(".request").forEach((li) => {
      if (WAITING.has(li.dataset.status)) setStatus(li.dataset.request, "expired");
    });
  }

  function transferred(data) {
    if (data.conversation_id !== ws.conversationId) return;
    ws.assigned = false;
    replaceSending("This chat was transferred to another agent, who can send forms in it now.");
  }

  function describe(requestId) {
    const li = row(requestId);
    if (!li) return null;
    return {
      title: li.dataset.title,
      fields: li.dataset.fields ? JSON.parse(li.dataset.fields) : null,
      timer: li.querySelector(".request-timer"),
    };
  }

  requests?.querySelectorAll(".request").forEach(render);

  return { status: setStatus, chooseCardForm, closed, transferred, describe };
}
