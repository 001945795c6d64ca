// The workspace's chats: the list of the agent's active chats, and the open chat (its
// messages as they arrive, the reply box, quick replies, and the prompt to send a secure
// form when the visitor types a card number).
import { $, announce } from "./common.js";
import { api, problemText } from "./api.js";
import { button, byData, chatLine, el } from "./agent-dom.js";

export function createChat(ws, hooks) {
  const list = $("#chat-list");
  const noChats = $("#no-chats");
  const messages = $("#messages");
  const log = $("#transcript");
  const compose = $("#compose");
  const input = $("#compose-text");
  const statusEl = $("#chat-status");
  const prompt = $("#card-prompt");
  const meta = $("#chat-meta");
  const unread = new Set();
  let promptedAt = null;

  function say(text) {
    if (statusEl) statusEl.textContent = text;
    else announce(text);
  }

  function append(li) {
    if (!messages) return;
    $("#no-messages")?.remove();
    messages.append(li);
    log.scrollTop = log.scrollHeight;
  }

  function systemLine(text) {
    append(chatLine({ from: "system", text }));
  }

  // -- the list of chats ---------------------------------------------------------------
  function chatItem(item) {
    const li = el("li", "chat-item");
    li.dataset.conversation = item.id;
    const link = el("a", "chat-link");
    link.href = `/agent?c=${encodeURIComponent(item.id)}`;
    if (item.id === ws.conversationId) link.setAttribute("aria-current", "page");
    link.append(el("span", "chat-name", item.visitor.name || "Visitor"));
    if (!item.assigned) link.append(el("span", "chat-tag", "(viewing)"));
    link.append(el("span", "chat-last", item.last_message ? item.last_message.text : "No messages yet"));
    const badge = el("span", "chat-unread", "New message");
    badge.hidden = !unread.has(item.id);
    link.append(badge);
    li.append(link);
    return li;
  }

  function showEmpty() {
    noChats.hidden = list.children.length > 0;
  }

  async function refreshList() {
    const { status, body } = await api("GET", "/api/v1/conversations?status=active");
    if (status !== 200) return;
    list.replaceChildren(...body.conversations.map(chatItem));
    showEmpty();
  }

  function touchList(conversationId, text) {
    const li = byData(list, "conversation", conversationId);
    if (!li) {
      refreshList();
      return;
    }
    li.querySelector(".chat-last").textContent = text;
    if (conversationId !== ws.conversationId) {
      unread.add(conversationId);
      li.querySelector(".chat-unread").hidden = false;
    }
  }

  // -- events --------------------------------------------------------------------------
  function message(data) {
    touchList(data.conversation_id, data.text);
    if (data.conversation_id !== ws.conversationId) {
      announce(`New message from ${data.author} in another chat.`);
      return;
    }
    append(chatLine(data));
    if (data.card_number_masked && data.from === "visitor") cardNumber(data);
  }

  function cardNumber(data) {
    if (data.conversation_id !== ws.conversationId || !prompt || !ws.assigned || !ws.active) {
      return;
    }
    if (promptedAt === data.at) return; // the message and its own prompt event: once
    promptedAt = data.at;
    prompt.hidden = false;
    announce(
      "The visitor typed a card number in the chat. It was hidden. Send a secure form to collect it safely.",
    );
  }

  function assigned(data) {
    refreshList();
    announce(`New chat with ${data.visitor?.name || "a visitor"}.`);
  }

  function stopWriting(why) {
    ws.active = false;
    if (input) input.disabled = true;
    compose?.querySelector("button").setAttribute("disabled", "");
    $("#end-form")?.remove();
    if (prompt) prompt.hidden = true;
    if (meta) meta.textContent = why;
  }

  function closed(data) {
    byData(list, "conversation", data.conversation_id)?.remove();
    showEmpty();
    if (data.conversation_id !== ws.conversationId) return;
    stopWriting("This chat has ended.");
    systemLine("The chat has ended.");
    announce("This chat has ended.");
  }

  function transferred(data) {
    refreshList();
    if (data.conversation_id !== ws.conversationId) return;
    ws.assigned = false;
    $("#end-form")?.remove();
    if (prompt) prompt.hidden = true;
    if (meta) meta.textContent = "This chat was transferred to another agent.";
    announce("This chat was transferred to another agent.");
  }

  // -- writing -------------------------------------------------------------------------
  compose?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) {
      say("Type a message first.");
      input.focus();
      return;
    }
    const { status, body } = await api(
      "POST",
      `/api/v1/conversations/${encodeURIComponent(ws.conversationId)}/messages`,
      { text },
    );
    if (status === 201) {
      input.value = "";
      append(chatLine({ from: "agent", author: body.author, text: body.text }, true));
      touchList(ws.conversationId, body.text);
      say(body.card_number_masked ? "The card number you typed was hidden in the chat." : "");
    } else if (status === 409) {
      stopWriting("This chat has ended.");
      say("This chat has ended, so your message was not sent.");
    } else {
      say(`Your message was not sent. ${problemText(body)}`);
    }
    input.focus();
  });

  // A quick reply goes into the reply box, to be read over and sent.
  document.querySelectorAll(".quick-reply").forEach((form) => {
    const text = form.querySelector("input[name=text]").value;
    const old = form.querySelector("button");
    const use = button("Insert", old.className);
    use.type = "submit";
    use.setAttribute("aria-describedby", old.getAttribute("aria-describedby"));
    old.replaceWith(use);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      input.value = text;
      input.focus();
      say("Quick reply inserted. Edit it if you like, then send it.");
    });
  });

  $("#card-prompt-go")?.addEventListener("click", () => {
    prompt.hidden = true;
    hooks.chooseCardForm();
  });

  if (log) log.scrollTop = log.scrollHeight;

  return { message, cardNumber, assigned, closed, transferred, systemLine, say };
}
