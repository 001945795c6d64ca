// The demo chat window: messages arrive over SSE and are sent without reloading.
// Without this script the page still works: the form posts and the page reloads.
import { $, postJSON } from "./common.js";

const list = $("#messages");
const form = $("#chat-form");
const input = $("#chat-text");
const statusEl = $("#chat-status");
const log = $("#transcript");
const csrf = form.querySelector("input[name=csrf]").value;
// The window's words, in the page's language (api/pages/visitor_texts.py).
const texts = JSON.parse(list.dataset.texts);
const seen = new Set([...list.querySelectorAll("[data-id]")].map((li) => li.dataset.id));

function item(className, id) {
  const li = document.createElement("li");
  li.className = `msg ${className}`;
  li.dataset.id = id;
  return li;
}

const CARD_STATES = {
  opened: texts.opened,
  submitted: texts.submitted,
  viewed: texts.submitted,
  expired: texts.expired,
};
// The transcript's own system lines, stored in English (core.form_requests).
const SYSTEM_LINE = /^Secure form '(.*)' (sent|submitted)$/s;

function systemText(text) {
  const found = SYSTEM_LINE.exec(text);
  if (!found) return text;
  return (found[2] === "sent" ? texts.sent : texts.submittedLine).replace("%(title)s", found[1]);
}

// Forms seen submitted (or viewed) so far, starting with those the page was served with.
let answered = [...list.querySelectorAll(".form-card-state")].filter(
  (state) => state.textContent.trim() === texts.submitted,
).length;

/** Cards say where their form stands; a used or dead link is taken away. The transcript's
 * line can arrive before the status it announces is committed, so after a "submitted"
 * line the status is asked again, a few times, until one more form reads as answered. */
async function refreshCards(moreAnswered = false, tries = 8) {
  const response = await fetch("/api/v1/chat", { credentials: "same-origin" });
  if (!response.ok) return;
  const { forms } = await response.json();
  const now = Object.values(forms).filter((s) => s === "submitted" || s === "viewed").length;
  if (moreAnswered && now <= answered && tries > 1) {
    window.setTimeout(() => refreshCards(true, tries - 1), 500);
  }
  answered = Math.max(answered, now);
  list.querySelectorAll("[data-request]").forEach((li) => {
    const text = CARD_STATES[forms[li.dataset.request]];
    const card = li.querySelector(".form-card");
    if (!text || card.querySelector(".form-card-state")?.textContent === text) return;
    card.querySelectorAll("p, a").forEach((el) => el.remove());
    const state = document.createElement("p");
    state.className = "form-card-state";
    state.textContent = text;
    card.append(state);
  });
}

function render(type, id, data) {
  if (type === "chat.secure_form") {
    const li = item("msg-card", id);
    li.dataset.request = data.request_id;
    const card = document.createElement("div");
    card.className = "form-card";
    const title = document.createElement("h2");
    title.className = "form-card-title";
    title.textContent = texts.cardTitle.replace("%(title)s", data.title);
    const text = document.createElement("p");
    text.textContent = texts.cardText;
    const link = document.createElement("a");
    link.className = "button button-primary";
    link.href = data.url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    const hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = ` ${texts.newTab.replace("%(title)s", data.title)}`;
    link.append(texts.open, hidden);
    card.append(title, text, link);
    li.append(card);
    return li;
  }
  if (type === "chat.closed") {
    const li = item("msg-system", id);
    li.textContent = texts.ended;
    return li;
  }
  if (data.from === "system") {
    const li = item("msg-system", id);
    li.textContent = systemText(data.text);
    return li;
  }
  const li = item(data.from === "visitor" ? "msg-mine" : "msg-theirs", id);
  const author = document.createElement("span");
  author.className = "msg-author";
  author.textContent = data.from === "visitor" ? texts.you : data.author;
  const text = document.createElement("span");
  text.className = "msg-text";
  text.textContent = data.text;
  li.append(author, text);
  return li;
}

function add(type, id, data) {
  if (seen.has(id)) return;
  seen.add(id);
  $("#no-messages")?.remove();
  list.append(render(type, id, data));
  log.scrollTop = log.scrollHeight;
  if (type === "chat.closed") closeChat();
  if (type === "chat.closed" || (data.from === "system" && data.text.startsWith("Secure form"))) {
    refreshCards(type !== "chat.closed" && data.text.endsWith(" submitted"));
  }
}

function closeChat() {
  input.disabled = true;
  form.querySelector("button").disabled = true;
  statusEl.textContent = texts.closed;
}

function say(message) {
  statusEl.textContent = message;
}

const source = new EventSource(`/api/v1/chat/events?after=${encodeURIComponent(list.dataset.after)}`);
for (const type of ["chat.message", "chat.secure_form", "chat.closed"]) {
  source.addEventListener(type, (event) => add(type, event.lastEventId, JSON.parse(event.data)));
}
source.addEventListener("error", () => {
  if (source.readyState === EventSource.CLOSED) say(texts.stopped);
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text) {
    say(texts.empty);
    input.focus();
    return;
  }
  const { status, body } = await postJSON("/api/v1/chat/messages", { text }, { "X-CSRF-Token": csrf });
  if (status === 201) {
    input.value = "";
    say(
      body && body.card_number_masked
        ? texts.masked
        : "",
    );
  } else if (status === 409) {
    closeChat();
  } else {
    say(texts.failed);
  }
  input.focus();
});

log.scrollTop = log.scrollHeight;
