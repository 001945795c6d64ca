// Building bits of the workspace's markup from script, always as text (never as HTML), so
// whatever a visitor typed stays text.

/** `el("p", "hint", "Some text")`: an element with a class and text content. */
export function el(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

/** A button whose visible words are made specific for screen readers by `context`. */
export function button(words, className, context = "") {
  const node = el("button", className, words);
  node.type = "button";
  if (context) node.append(el("span", "visually-hidden", ` ${context}`));
  return node;
}

/** The element of `root` whose `data-<name>` is `value`, or null. */
export function byData(root, name, value) {
  if (!root) return null;
  return root.querySelector(`[data-${name}="${CSS.escape(value)}"]`);
}

/** One line of the open chat (the same markup as the server's). */
export function chatLine({ from, author, text }, mine = false) {
  if (from === "system") return el("li", "msg msg-system", text);
  const li = el("li", `msg ${mine ? "msg-mine" : "msg-theirs"}`);
  li.append(el("span", "msg-author", mine ? "You" : author), el("span", "msg-text", text));
  return li;
}
