// Seeing what a visitor sent back. The notice comes with the agent's event; "View" spends
// a one-time key (the event's, else a fresh one) and shows the answers masked until the
// agent chooses "Show". They live in this module's memory and the panel only, and both
// are wiped when the panel is closed, after a minute, and before the page signs out.
// A refusal is put in words: which rule kept the answers back, and what still can be done.
import { $, announce, durationText } from "./common.js";
import { api } from "./api.js";
import { button, byData, el } from "./agent-dom.js";

const SHOW_FOR_S = 60;

function secondsUntil(ms) {
  return Math.max(0, Math.ceil((ms - Date.now()) / 1000));
}

function offRecordWords(status, labels) {
  const which = labels.length ? `${labels.join(", ")}: ` : "";
  if (status === "already_viewed") {
    return `${which}already viewed. Off-the-record answers can be shown only once, and these were shown before, so they are gone for good.`;
  }
  if (status === "expired") {
    return `${which}expired. Off-the-record answers are kept for a few minutes only, and these were deleted before anyone viewed them.`;
  }
  return `${which}not available.`;
}

function refusalWords(status, body, info) {
  if (status === 409) {
    return "This chat has ended, so its answers can no longer be shown. Answers are shown only while the chat is open.";
  }
  if (status === 403 && body?.error === "mfa_enrollment_required") {
    return "Set up two-step sign-in on your Account page before you view answers.";
  }
  if (status === 403 && info.transferred) {
    return "This chat was transferred to another agent. Answers stay with the agent who asked for them, and only while that agent holds the chat, so they can't be shown to you.";
  }
  if (status === 403) return "Only the agent who sent this form can see its answers.";
  if (status === 404) {
    return "These answers no longer exist: they were erased, or passed the time this site keeps answers.";
  }
  if (status === 410) {
    return "These answers can no longer be shown: they were erased, or the one-time key for them ran out before it could be used. Try View again; if this happens again, they are gone.";
  }
  if (status === 429) return "Too many attempts just now. Wait a minute, then try again.";
  return "The answers could not be shown just now. Please try again.";
}

export function createReveal(ws, forms, hooks = {}) {
  const panel = $("#reveal");
  const noticesBox = $("#notices");
  const notices = $("#notice-list");
  const keys = new Map(); // submission id -> the event's retrieve key, used at most once
  const offDeadlines = new Map(); // submission id -> when its off-the-record answers go
  const described = new Map(); // request id -> {title, visitor, fields, transferred}
  let shown = null; // what the panel holds: {values, opener, timer} (values only if revealed)
  let copied = false; // whether an answer went to the clipboard since the panel was last wiped

  // -- what a request is, for its notice and its panel ----------------------------------
  async function describe(requestId, conversationId) {
    const here = conversationId === ws.conversationId;
    const local = forms.describe(requestId);
    // The open chat's state moves with its events; another chat's is as fetched.
    const withState = (info) => (here ? { ...info, transferred: !ws.assigned } : info);
    if (local && local.fields) return withState({ ...local, visitor: ws.visitor });
    if (described.has(requestId)) return withState(described.get(requestId));
    const { status, body } = await api("GET", `/api/v1/conversations/${encodeURIComponent(conversationId)}`);
    const found = status === 200 ? body.secure_forms.find((r) => r.request_id === requestId) : null;
    const info = {
      title: found?.title || local?.title || "Secure form",
      fields: found?.fields || [],
      visitor: (status === 200 && body.visitor.name) || "the visitor",
      transferred: status === 200 ? !body.assigned : false,
    };
    described.set(requestId, info);
    return withState(info);
  }

  // -- notices ---------------------------------------------------------------------------
  async function submitted(data) {
    keys.set(data.submission_id, data.retrieve_otk);
    if (data.off_record_expires_at) {
      offDeadlines.set(data.submission_id, Date.parse(data.off_record_expires_at));
      const timer = forms.describe(data.request_id)?.timer;
      if (timer) timer.dataset.offSubmission = data.submission_id;
    }
    const info = await describe(data.request_id, data.conversation_id);
    const li = el("li", "notice");
    li.dataset.submission = data.submission_id;
    const text = el("p", "notice-text");
    text.append(el("strong", "", info.title), ` was sent back by ${info.visitor}.`);
    li.append(text);
    if (offDeadlines.has(data.submission_id)) {
      const timer = el("p", "notice-timer");
      timer.dataset.offSubmission = data.submission_id;
      li.append(timer);
    }
    const actions = el("div", "actions");
    const view = button("View answers", "button button-primary button-small", `of ${info.title}`);
    view.addEventListener("click", () =>
      revealAnswers(data.submission_id, data.request_id, data.conversation_id, view),
    );
    if (ws.canReveal) actions.append(view);
    if (ws.canForward && hooks.forward) {
      const send = button("Send to payment processor", "button button-secondary button-small", `the card of ${info.title}`);
      send.addEventListener("click", () =>
        hooks.forward(data.submission_id, data.request_id, data.conversation_id, send),
      );
      actions.append(send);
    }
    if (data.conversation_id !== ws.conversationId) {
      const open = el("a", "button button-secondary button-small", "Open the chat");
      open.href = `/agent?c=${encodeURIComponent(data.conversation_id)}`;
      actions.append(open);
    }
    const dismiss = button("Dismiss", "button button-secondary button-small", "this notification");
    dismiss.addEventListener("click", () => {
      li.remove();
      noticesBox.hidden = notices.children.length === 0;
      $("#main").focus();
    });
    actions.append(dismiss);
    li.append(actions);
    notices.prepend(li);
    noticesBox.hidden = false;
    tick();
    announce(`${info.title} was sent back by ${info.visitor}. View answers is under Notifications.`);
  }

  // Countdowns to when off-the-record answers go, on the notices and the sent forms.
  function tick() {
    document.querySelectorAll("[data-off-submission]").forEach((node) => {
      const deadline = offDeadlines.get(node.dataset.offSubmission);
      if (deadline === undefined) return;
      const left = secondsUntil(deadline);
      node.textContent = left
        ? `Off-the-record answers: view within ${durationText(left)} (they can be shown once).`
        : "Off-the-record answers have expired.";
    });
  }
  setInterval(tick, 1000);

  function offRecordSeen(submissionId) {
    offDeadlines.delete(submissionId);
    document
      .querySelectorAll(`[data-off-submission="${CSS.escape(submissionId)}"]`)
      .forEach((node) => {
        node.textContent = "";
        delete node.dataset.offSubmission;
      });
  }

  // -- the panel -------------------------------------------------------------------------
  function open(title, opener) {
    // `title` is the panel's heading in full ("Answers: Payment card").
    wipe();
    shown = { values: new Map(), opener, timer: null };
    const heading = el("h2", "", title);
    heading.id = "reveal-title";
    panel.replaceChildren(heading);
    panel.hidden = false;
    return shown;
  }

  function closeButton(holdsValues) {
    const close = button(holdsValues ? "Close and clear" : "Close", "button button-secondary");
    close.id = "reveal-close";
    close.addEventListener("click", () =>
      wipe(holdsValues ? "The answers were cleared from the page." : ""),
    );
    const actions = el("div", "actions");
    actions.append(close);
    return actions;
  }

  function refuse(status, body, info) {
    const words = refusalWords(status, body, info);
    const p = el("p", "refusal", words);
    p.id = "reveal-refusal";
    panel.append(p, closeButton(false));
    panel.focus();
    announce(words);
  }

  function answerList(names, info, masked) {
    const labels = new Map((info.fields || []).map((f) => [f.name, f.label]));
    const list = el("dl", "answers");
    names.forEach((name) => {
      const label = labels.get(name) || name;
      const hidden = masked[name] || "••••••••";
      const row = el("div", "answer");
      const value = el("span", "answer-value", hidden);
      value.id = `answer-${name}`;
      const show = button("Show", "button button-secondary button-small", label);
      show.setAttribute("aria-controls", value.id);
      show.addEventListener("click", () => {
        const showing = show.dataset.showing === "true";
        value.textContent = showing ? hidden : shown.values.get(name);
        show.dataset.showing = showing ? "false" : "true";
        show.firstChild.textContent = showing ? "Show" : "Hide";
      });
      const copy = button("Copy", "button button-secondary button-small", label);
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(shown.values.get(name));
          copied = true;
          announce(`${label} copied. The clipboard is emptied when the answers leave the page.`);
        } catch {
          announce(`${label} could not be copied. Choose Show and copy it by hand.`);
        }
      });
      const controls = el("span", "answer-controls");
      controls.append(show, copy);
      const dd = el("dd", "answer-body");
      dd.append(value, controls);
      row.append(el("dt", "answer-label", label), dd);
      list.append(row);
    });
    return list;
  }

  function ordered(info, names) {
    const order = (info.fields || []).map((f) => f.name);
    return [...names].sort((a, b) => {
      const [i, j] = [order.indexOf(a), order.indexOf(b)];
      return (i < 0 ? order.length : i) - (j < 0 ? order.length : j);
    });
  }

  function display(answer, info, submissionId) {
    const offDeadline = offDeadlines.get(submissionId);
    offRecordSeen(submissionId);
    // The values go into `shown` only; what stays in reach of the timer below is names.
    Object.entries({ ...answer.values, ...answer.off_the_record }).forEach(([k, v]) =>
      shown.values.set(k, v),
    );
    const storedNames = Object.keys(answer.values || {});
    const offNames = Object.keys(answer.off_the_record || {});
    const masked = answer.masked || {};
    let deadline = Date.now() + SHOW_FOR_S * 1000;
    const timer = el("p", "reveal-timer");
    // WCAG 2.2.1: a time limit the user can extend with one simple action, as often as needed.
    const keep = button("Keep for another minute", "button button-secondary button-small");
    keep.addEventListener("click", () => {
      deadline = Date.now() + SHOW_FOR_S * 1000;
      update();
      announce("The answers stay on the page for another minute.");
    });
    panel.append(
      el("p", "reveal-from", `From ${info.visitor}. Only you can see these, and only here.`),
      timer,
      keep,
    );
    if (answer.forwarded) {
      // The card went to the payment processor: where it went, in place of its number.
      const sent = el("p", "forwarded", `Card: ${answer.forwarded.summary}.`);
      sent.id = "forwarded-card";
      panel.append(sent);
    }
    panel.append(answerList(ordered(info, storedNames), info, masked));
    const offLabels = (info.fields || []).filter((f) => f.off_the_record).map((f) => f.label);
    let offBlock = null;
    if (offNames.length || offLabels.length) {
      panel.append(el("h3", "", "Off the record"));
      if (answer.off_record_status === "available" && offNames.length) {
        offBlock = el("div", "off-record");
        const offTimer = el("p", "off-timer");
        offBlock.append(offTimer, answerList(ordered(info, offNames), info, masked));
        panel.append(offBlock);
      } else if (answer.off_record_status === "available") {
        panel.append(el("p", "", "The visitor left the off-the-record questions blank."));
      } else {
        const p = el("p", "refusal", offRecordWords(answer.off_record_status, offLabels));
        p.id = "off-record-refusal";
        panel.append(p);
      }
    }
    panel.append(closeButton(true));

    const update = () => {
      const left = secondsUntil(deadline);
      if (!left) {
        wipe("The answers were cleared from the page after a minute.");
        return;
      }
      timer.textContent = `Cleared from this page in ${durationText(left)}. View again to see the stored answers after that.`;
      if (offBlock) {
        // Kept no longer than the store keeps them, however often the agent keeps the panel.
        const offLeft = secondsUntil(Math.min(deadline, offDeadline ?? deadline));
        if (offLeft) {
          offBlock.querySelector(".off-timer").textContent =
            `Shown only this once and kept nowhere else. Cleared in ${durationText(offLeft)}.`;
        } else {
          offNames.forEach((k) => shown.values.delete(k));
          offBlock.replaceChildren(el("p", "refusal", "Cleared: off-the-record answers are kept only for a short time."));
          offBlock = null;
        }
      }
    };
    update();
    shown.timer = setInterval(update, 1000);
    panel.focus();
    announce(`Answers of ${info.title} are shown, masked. Use Show to see a value.`);
  }

  async function revealAnswers(submissionId, requestId, conversationId, opener) {
    const info = await describe(requestId, conversationId);
    const mine = open(`Answers: ${info.title}`, opener);
    const busy = el("p", "", "Getting the answers…");
    panel.append(busy);
    const url = `/api/v1/submissions/${encodeURIComponent(submissionId)}`;
    let answer = null;
    const key = keys.get(submissionId);
    keys.delete(submissionId);
    if (key) answer = await api("POST", `${url}/reveal`, { otk: key });
    if (!answer || answer.status === 410) {
      // No key from the event here (a second look, or a reload), or it ran out: a fresh one.
      const fresh = await api("POST", `${url}/retrieve-otk`);
      answer = fresh.status === 200 ? await api("POST", `${url}/reveal`, { otk: fresh.body.otk }) : fresh;
    }
    if (shown !== mine) return; // closed, or another View, while this one was on its way
    busy.remove();
    if (answer.status === 200) display(answer.body, info, submissionId);
    else refuse(answer.status, answer.body, info);
  }

  /** Clears the panel and forgets every value; focus goes back where the panel came from. */
  function wipe(reason = "") {
    if (!shown && panel.hidden) return;
    const { opener } = shown || {};
    const focusInside = panel.contains(document.activeElement);
    if (shown) {
      clearInterval(shown.timer);
      shown.values.clear();
    }
    shown = null;
    if (copied) {
      // A card number must not outlive the panel in the clipboard (or a clipboard history).
      copied = false;
      navigator.clipboard.writeText("").catch(() => {});
    }
    panel.replaceChildren();
    panel.hidden = true;
    if (focusInside && opener?.isConnected) opener.focus();
    if (reason) announce(reason);
  }

  document.addEventListener("sf:signing-out", () => {
    keys.clear();
    wipe();
  });
  window.addEventListener("pagehide", () => wipe());
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && panel.contains(document.activeElement)) {
      wipe(shown?.values.size ? "The answers were cleared from the page." : "");
    }
  });

  // The panel's place and controls, for the payment forward (agent-forward.js).
  const panelFor = (title, opener) => ({ panel, shown: open(title, opener) });
  return { submitted, view: revealAnswers, wipe, describe, open: panelFor, closeButton, offRecordSeen };
}
