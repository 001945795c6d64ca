// The form editor without page reloads. Adding, moving and removing a field post the
// draft to the same address a plain form post uses and swap in the editor the server
// renders back, so both paths show exactly the same thing; focus goes where the server
// marked it (`autofocus`) and the change is announced. Typing updates the preview, which
// is the visitor's own field markup rendered by the server. Saving stays a normal post.
import { $, announce, linkSummaryToFields } from "./common.js";

const area = $("#editor-area");
const ALWAYS_OFF_RECORD = new Set(["cvv"]);
let busy = false;
let previewTimer = 0;
let previewAsked = 0;

async function send(form, op) {
  const data = new URLSearchParams(new FormData(form));
  data.set("op", op);
  const response = await fetch(form.action, {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: { Accept: "text/html" },
    body: data,
  });
  if (response.redirected) {
    // The session ended meanwhile: the server sent the sign-in page instead.
    window.location.assign(response.url);
    return null;
  }
  if (!response.ok) return null;
  return new DOMParser().parseFromString(await response.text(), "text/html");
}

function swap(selector, fresh) {
  const mine = $(selector);
  const theirs = $(selector, fresh);
  if (mine && theirs) mine.replaceChildren(...theirs.childNodes);
}

// Which fields have "More settings" open, carried through a step so that moving or
// removing a field doesn't close what the admin opened.
function openMore() {
  return [...area.querySelectorAll(".field-editor details.more")].map((d) => d.open);
}

function afterStep(flags, op) {
  const [kind, index] = op.split("-");
  const i = Number(index);
  const moved = [...flags];
  if (kind === "up" && i > 0) [moved[i - 1], moved[i]] = [moved[i], moved[i - 1]];
  if (kind === "down" && i < moved.length - 1) [moved[i + 1], moved[i]] = [moved[i], moved[i + 1]];
  if (kind === "remove") moved.splice(i, 1);
  return moved;
}

async function step(form, submitter) {
  const op = submitter.value;
  const opened = afterStep(openMore(), op);
  busy = true;
  try {
    const fresh = await send(form, op);
    if (fresh === null) {
      // Let the browser post it the plain way and show whatever the server says.
      const plain = document.createElement("input");
      plain.type = "hidden";
      plain.name = "op";
      plain.value = op;
      form.append(plain);
      HTMLFormElement.prototype.submit.call(form);
      return;
    }
    if (op === "preview") {
      swap("#preview", fresh);
      announce("The preview shows your changes.");
      return;
    }
    swap("#editor-area", fresh);
    area.querySelectorAll(".field-editor details.more").forEach((details, i) => {
      if (opened[i]) details.open = true;
    });
    linkSummaryToFields(area);
    $("[autofocus]", area)?.focus();
    const said = $("#editor-status", area)?.textContent.trim();
    if (said) announce(said);
  } finally {
    busy = false;
  }
}

async function refreshPreview() {
  const form = $("#editor");
  if (!form) return;
  const asked = ++previewAsked;
  const fresh = await send(form, "preview");
  // An older answer arriving after a newer one must not undo it.
  if (fresh !== null && asked === previewAsked) swap("#preview", fresh);
}

function renameLegend(target) {
  const match = /^e(\d+)-label$/.exec(target.id || "");
  const legend = match && $(`#e${match[1]} .field-legend-label`);
  if (legend) legend.textContent = target.value.trim() ? `: ${target.value.trim()}` : "";
}

function keepRules(target) {
  // A security code is always off the record; the box says so at once.
  const match = /^e(\d+)-type$/.exec(target.id || "");
  if (!match) return;
  const box = document.getElementById(`e${match[1]}-otr`);
  if (!box) return;
  if (ALWAYS_OFF_RECORD.has(target.value)) {
    box.checked = true;
    box.disabled = true;
  } else if (box.disabled) {
    box.disabled = false;
  }
}

if (area) {
  area.addEventListener("submit", (event) => {
    const form = event.target;
    const submitter = event.submitter;
    if (form.id !== "editor" || !submitter || submitter.value === "save") return;
    event.preventDefault();
    if (!busy) step(form, submitter);
  });
  const changed = (event) => {
    if (!event.target.closest("#editor")) return;
    if (event.type === "change") keepRules(event.target);
    renameLegend(event.target);
    window.clearTimeout(previewTimer);
    previewTimer = window.setTimeout(refreshPreview, 400);
  };
  area.addEventListener("input", changed);
  area.addEventListener("change", changed);
}
