// Sending a submitted card to the site's payment processor. The agent sees the brand and
// last four in words, never the number: the card goes from the server to the processor.
// It uses the reveal panel's place and controls (agent-reveal.js), and puts every answer,
// a refusal or a decline included, in words.
import { announce } from "./common.js";
import { api } from "./api.js";
import { el } from "./agent-dom.js";

const AMOUNT = /^\d{1,6}(\.\d{1,2})?$/;
const CURRENCY = /^[A-Za-z]{3}$/;

function failureWords(status, body) {
  const why = body?.message ? ` ${body.message}` : "";
  const code = body?.error;
  if (status === 402) return `The card was declined.${why} Nothing was lost: ask the visitor for another card, or try again.`;
  if (status === 502) return `The payment processor refused the request.${why} Nothing was lost: try again, or ask an administrator to check the payment settings.`;
  if (status === 503) return "The payment processor could not be reached. Nothing was lost and nothing will be charged twice: try again in a moment.";
  if (status === 409 && code === "payments_not_configured") return "This site has no payment processor yet. Ask an administrator to set one up.";
  if (status === 409 && code === "no_card") return "This form holds no card to send: none was asked for, or it was already erased.";
  if (status === 409 && code === "conversation_closed") return "This chat has ended, so its card can no longer be sent.";
  if (status === 409) return "This card is being sent already. Wait a moment for that answer.";
  if (status === 403 && code === "mfa_enrollment_required") return "Set up two-step sign-in on your Account page before you send cards.";
  if (status === 403) return "Only the agent who sent this form, while they hold the chat, can send its card.";
  if (status === 404 || status === 410) return "This card can no longer be sent: it was erased, or its time ran out.";
  if (status === 422) return `Check the amount and the currency.${why}`;
  if (status === 429) return "Too many attempts just now. Wait a minute, then try again.";
  return "The card could not be sent just now. Please try again.";
}

function doneWords(result) {
  const intent = result.payment_intent;
  const charged = intent ? ` Payment ${intent.id}: ${intent.status}.` : " No payment was taken.";
  return `Done: ${result.summary}.${charged}`;
}

function field(id, label, hint, attrs) {
  const wrap = el("div", "field");
  const lab = el("label", "label", label);
  lab.htmlFor = id;
  const help = el("p", "hint", hint);
  help.id = `${id}-hint`;
  const input = el("input", "input");
  Object.assign(input, { id, ...attrs });
  input.setAttribute("aria-describedby", help.id);
  wrap.append(lab, help, input);
  return [wrap, input];
}

export function createForward(reveal) {
  async function start(submissionId, requestId, conversationId, opener) {
    const info = await reveal.describe(requestId, conversationId);
    const { panel } = reveal.open(`Send to payment processor: ${info.title}`, opener);
    panel.append(
      el("p", "", "The card goes straight to this site's payment processor. You see only its brand and last four digits."),
    );
    const form = el("form", "forward-form");
    form.noValidate = true;
    const [amountBox, amount] = field("forward-amount", "Amount to charge (optional)", "For example 19.99. Leave it empty to only hand the card over.", { inputMode: "decimal", autocomplete: "off" });
    const [currencyBox, currency] = field("forward-currency", "Currency", "Three letters, for example usd or eur.", { value: "usd", maxLength: 3, autocomplete: "off" });
    const send = el("button", "button button-primary", "Send card");
    send.type = "submit";
    const result = el("p", "forward-result");
    result.id = "forward-result";
    result.tabIndex = -1;
    form.append(amountBox, currencyBox, send);
    panel.append(form, result, reveal.closeButton(false));

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      const typed = amount.value.trim();
      if (typed) {
        if (!AMOUNT.test(typed) || !CURRENCY.test(currency.value.trim())) {
          result.className = "forward-result refusal";
          result.textContent = "Enter the amount as a number such as 19.99, and the currency as three letters such as usd.";
          result.focus();
          return;
        }
        body.amount = Math.round(Number(typed) * 100);
        body.currency = currency.value.trim().toLowerCase();
      }
      send.disabled = true;
      result.className = "forward-result";
      result.textContent = "Sending the card…";
      const url = `/api/v1/submissions/${encodeURIComponent(submissionId)}`;
      const key = await api("POST", `${url}/retrieve-otk`);
      const answer = key.status === 200 ? await api("POST", `${url}/forward`, { ...body, otk: key.body.otk }) : key;
      if (!panel.contains(result)) return; // the panel was closed meanwhile
      send.disabled = false;
      const words = answer.status === 200 ? doneWords(answer.body) : failureWords(answer.status, answer.body);
      result.className = answer.status === 200 ? "forward-result panel panel-info" : "forward-result refusal";
      result.textContent = words;
      if (answer.status === 200) {
        form.remove();
        reveal.offRecordSeen(submissionId); // the CVV went with the card: no countdown to it
      }
      result.focus();
      announce(words);
    });
    amount.focus();
  }

  return { start };
}
