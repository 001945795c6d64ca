// The visitor's secure form, enhanced: answers are checked as the visitor leaves each
// field (by the server's own rules, through an endpoint that stores nothing), the time
// left is shown and a warning comes well before the key expires, with "I need more time".
// Without this script the form still works: plain post, server-side errors.
import { $, announce, focusMarked, linkSummaryToFields, postJSON } from "./common.js";

const WARN_AT_S = 60; // at least 20 s before the submit key expires (WCAG 2.2.1)
const form = $("#secure-form");
const otkInput = $("#submit-otk");
const timer = $("#timer");
const timeLeft = $("#time-left");
const warning = $("#time-warning");
// The page's words for this script, in the page's language (api/pages/visitor_texts.py).
const texts = JSON.parse(timer.dataset.texts);
const units = JSON.parse(timer.dataset.units);
const plural = new Intl.PluralRules(units.locale);

function say(text, time) {
  return text.replace("%(time)s", time);
}

function unit(name, n) {
  const patterns = units[name];
  return (patterns[plural.select(n)] || patterns.other).replace("{0}", String(n));
}

// How long is left, in the page's language, with Babel's patterns for it.
function durationText(seconds) {
  if (seconds <= 0) return texts.noTime;
  if (seconds < 60) return unit("second", seconds);
  const minutes = unit("minute", Math.floor(seconds / 60));
  const rest = seconds % 60;
  return rest ? units.join.replace("{0}", minutes).replace("{1}", unit("second", rest)) : minutes;
}

focusMarked();
linkSummaryToFields();

// -- checking answers as the visitor leaves a field ----------------------------------
const touched = new Set();

function fieldValues() {
  const values = {};
  for (const [key, value] of new FormData(form).entries()) {
    if (key.startsWith("v_")) values[key.slice(2)] = value;
  }
  return values;
}

function showError(wrapper, message) {
  const errorEl = wrapper.querySelector(".field-error");
  const controls = wrapper.querySelectorAll("input, select, textarea");
  wrapper.classList.toggle("field-invalid", Boolean(message));
  errorEl.textContent = "";
  if (message) {
    const prefix = document.createElement("span");
    prefix.className = "visually-hidden";
    prefix.textContent = `${texts.error} `;
    errorEl.append(prefix, message);
  }
  controls.forEach((control) => {
    control.setAttribute("aria-invalid", message ? "true" : "false");
    const ids = (control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    const others = ids.filter((id) => id !== errorEl.id);
    const next = message ? [...others, errorEl.id] : others;
    if (next.length) control.setAttribute("aria-describedby", next.join(" "));
    else control.removeAttribute("aria-describedby");
  });
}

async function check(wrapper) {
  const name = wrapper.dataset.field;
  const { status, body } = await postJSON("/api/v1/visitor/check", {
    otk: otkInput.value,
    values: fieldValues(),
    fields: [name],
    language: document.documentElement.lang,
  });
  if (status !== 200 || !body) return; // the server decides on submit anyway
  const message = body.fields[name] || "";
  const had = wrapper.classList.contains("field-invalid");
  showError(wrapper, message);
  if (message) announce(message);
  else if (had) announce(texts.fixed);
}

form.querySelectorAll("[data-field]").forEach((wrapper) => {
  wrapper.addEventListener("input", () => touched.add(wrapper.dataset.field));
  wrapper.addEventListener("change", () => touched.add(wrapper.dataset.field));
  wrapper.addEventListener("focusout", (event) => {
    // Leaving one radio for another in the same group is not leaving the field.
    if (wrapper.contains(event.relatedTarget)) return;
    if (!touched.has(wrapper.dataset.field)) return; // tabbing past is not answering
    check(wrapper);
  });
});

// -- time left, the warning, and more time -------------------------------------------
// The deadline is kept on this device's clock, from how long the server said was left,
// so a device whose clock is wrong still counts down correctly.
let deadline = Date.now() + Number(timer.dataset.secondsLeft) * 1000;
let warned = false;
let expired = false;

function secondsLeft() {
  return Math.max(0, Math.round((deadline - Date.now()) / 1000));
}

function renewedDeadline(expiresAt, headers) {
  // How long the new key lives, by the server's clock (its Date header), from now.
  const serverNow = Date.parse(headers.get("Date") || "");
  const lifetime = Number.isNaN(serverNow) ? 0 : Date.parse(expiresAt) - serverNow;
  return Date.now() + Math.max(0, lifetime);
}

function extendButtons() {
  return document.querySelectorAll("[data-extend]");
}

function showWarning(seconds) {
  warning.textContent = "";
  const text = document.createElement("p");
  text.textContent = say(texts.warning, durationText(seconds));
  warning.append(text);
  if (extendButtons().length) {
    const more = document.createElement("button");
    more.type = "button";
    more.className = "button button-secondary";
    more.textContent = texts.more;
    more.addEventListener("click", extend);
    warning.append(more);
  }
}

function showExpired() {
  warning.textContent = "";
  const text = document.createElement("p");
  text.textContent = texts.expired;
  warning.append(text);
  form.querySelectorAll("button").forEach((button) => {
    button.disabled = true;
  });
}

function tick() {
  const left = secondsLeft();
  timeLeft.textContent = "";
  const strong = document.createElement("strong");
  strong.textContent = durationText(left);
  const [before, after] = texts.timeLeft.split("%(time)s");
  timeLeft.append(before, strong, after || "");
  if (left <= 0 && !expired) {
    expired = true;
    showExpired();
  } else if (left <= WARN_AT_S && !warned && !expired) {
    warned = true;
    showWarning(left);
  }
}

async function extend(event) {
  if (event) event.preventDefault();
  const { status, body, headers } = await postJSON("/api/v1/visitor/extend", {
    otk: otkInput.value,
  });
  if (status === 200 && body) {
    otkInput.value = body.submit_otk;
    deadline = renewedDeadline(body.expires_at, headers);
    warned = false;
    warning.textContent = "";
    const left = secondsLeft();
    announce(say(texts.extended, durationText(left)));
    tick();
    return;
  }
  if (status === 410 && secondsLeft() > 0) {
    // The key still works, but this form has had all the extra time it can have.
    extendButtons().forEach((button) => button.remove());
    warning.querySelectorAll("button").forEach((button) => button.remove());
    announce(texts.noMore);
    return;
  }
  if (status === 410) {
    expired = true;
    showExpired();
    return;
  }
  announce(texts.failed);
}

extendButtons().forEach((button) => button.addEventListener("click", extend));
tick();
window.setInterval(tick, 1000);
