// Engagement history: "Reveal stored answers" asks the API for one submission's stored
// answers and shows them in place, each masked until the manager chooses to see it.
// Closing (or signing out, or leaving the page) removes them from the page; seeing them
// again is a new reveal, audited again. Without script the same button posts a form.
import { api, problemText } from "./api.js";
import { $, announce, durationText } from "./common.js";

const HIDDEN = "••••••••";
const SHOW_FOR_S = 60; // as in the agent workspace: answers leave the page after a minute
const timers = new WeakMap(); // item -> its clearing interval

// As core.forms.masking does: enough to tell which card or account it is, no more.
function mask(type, value) {
  if (!value) return "";
  const digits = value.replace(/[^0-9]/g, "");
  if (type === "card_number" && digits.length >= 12) return `•••• ${digits.slice(-4)}`;
  if (type === "ssn" && digits.length === 9) return `•••-••-${digits.slice(-4)}`;
  if (type === "iban" && /^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$/.test(value)) {
    return `${value.slice(0, 2)}•• •••• ${value.slice(-4)}`;
  }
  const account = type === "bank_account" ? /^[0-9]{9} ([0-9]{8,17})$/.exec(value) : null;
  if (account) return `•••• ${account[1].slice(-4)}`;
  return HIDDEN;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function answerRow(label, type, value) {
  const row = element("div", "answer");
  row.append(element("dt", "", label));
  const dd = element("dd");
  const shown = element("span", "masked", mask(type, value));
  const toggle = element("button", "button button-small button-secondary", "Show");
  toggle.type = "button";
  toggle.setAttribute("aria-pressed", "false");
  toggle.append(element("span", "visually-hidden", ` ${label}`));
  toggle.addEventListener("click", () => {
    const showing = toggle.getAttribute("aria-pressed") === "true";
    shown.textContent = showing ? mask(type, value) : value;
    shown.className = showing ? "masked" : "answer-value";
    toggle.firstChild.textContent = showing ? "Show" : "Hide";
    toggle.setAttribute("aria-pressed", String(!showing));
  });
  dd.append(shown, " ", toggle);
  row.append(dd);
  return row;
}

function close(item, { quiet = false, why = "The answers were closed and cleared from the page." } = {}) {
  clearInterval(timers.get(item));
  timers.delete(item);
  const slot = $(".reveal-slot", item);
  if (!slot.firstChild) return;
  slot.replaceChildren(); // the values go with the nodes that held them
  const form = $(".reveal-form", item);
  form.hidden = false;
  if (!quiet) {
    $("button", form).focus();
    announce(why);
  }
}

function show(item, values) {
  const fields = [...item.querySelectorAll(".reveal-fields li")].map((li) => ({
    name: li.dataset.name,
    type: li.dataset.type,
    label: li.textContent,
  }));
  const known = new Set(fields.map((f) => f.name));
  for (const name of Object.keys(values)) {
    if (!known.has(name)) fields.push({ name, type: "", label: name });
  }
  const panel = element("section", "revealed");
  const heading = element("h4", "revealed-title", "Stored answers");
  heading.id = `revealed-${item.dataset.submission}`;
  heading.tabIndex = -1;
  panel.setAttribute("aria-labelledby", heading.id);
  panel.append(heading, element("p", "hint", "Masked until you choose Show. Recorded in the audit trail."));
  const list = element("dl", "answers");
  let any = false;
  for (const field of fields) {
    if (!(field.name in values)) continue;
    list.append(answerRow(field.label, field.type, values[field.name]));
    any = true;
  }
  panel.append(any ? list : element("p", "", "No stored answer: every answer was off the record or left empty."));
  const closer = element("button", "button button-primary button-small", "Close and clear");
  closer.type = "button";
  closer.addEventListener("click", () => close(item));
  // WCAG 2.2.1: the time limit can be extended with one simple action, as often as needed.
  const timer = element("p", "reveal-timer");
  const keep = element("button", "button button-secondary button-small", "Keep for another minute");
  keep.type = "button";
  let deadline = Date.now() + SHOW_FOR_S * 1000;
  const tick = () => {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= 0) {
      close(item, { why: "The answers were cleared from the page after a minute." });
      return;
    }
    timer.textContent = `Cleared from this page in ${durationText(left)}.`;
  };
  keep.addEventListener("click", () => {
    deadline = Date.now() + SHOW_FOR_S * 1000;
    tick();
    announce("The answers stay on the page for another minute.");
  });
  panel.append(timer, keep, " ", closer);
  $(".reveal-slot", item).replaceChildren(panel);
  $(".reveal-form", item).hidden = true;
  clearInterval(timers.get(item));
  tick();
  timers.set(item, setInterval(tick, 1000));
  heading.focus();
}

function problem(item, message) {
  const note = element("p", "field-error", message);
  note.setAttribute("role", "alert");
  $(".reveal-slot", item).replaceChildren(note);
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.classList.contains("reveal-form")) return;
  event.preventDefault();
  const item = form.closest("[data-submission]");
  const button = $("button", form);
  button.disabled = true;
  try {
    const { status, body } = await api(
      "POST",
      `/api/v1/submissions/${encodeURIComponent(item.dataset.submission)}/history-reveal`,
    );
    if (status === 200 && body && body.values) {
      show(item, body.values);
    } else if (body && body.error === "mfa_enrollment_required") {
      problem(item, "Set up two-step sign-in on your Account page first; this site asks for it before answers are revealed.");
    } else {
      problem(item, problemText(body, "The answers could not be revealed. Reload the page and try again."));
    }
  } finally {
    button.disabled = false;
  }
});

const clearAll = () => document.querySelectorAll("[data-submission]").forEach((item) => close(item, { quiet: true }));
document.addEventListener("sf:signing-out", clearAll);
window.addEventListener("pagehide", clearAll);
