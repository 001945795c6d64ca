// Idle sign-out for signed-in pages, matching the site's idle timeout. Activity in the
// page (keys, pointer) counts as use and keeps the server session alive; before time runs
// out a warning says so and offers to stay (WCAG 2.2.1), then the page signs out.
import { api } from "./api.js";
import { durationText } from "./common.js";

const box = document.getElementById("idle");
const timeout = Number(box?.dataset.idleTimeout || 0);

if (box && timeout > 0) {
  const text = document.getElementById("idle-text");
  const stay = document.getElementById("idle-stay");
  // Warn at least 20 s ahead, a minute when the timeout leaves room for it.
  const warnAt = Math.min(Math.max(20, Math.floor(timeout / 4)), 60, timeout);
  // Keep the server's idle clock behind ours: touch it well before it would run out.
  const touchEvery = Math.max(1, Math.floor(timeout / 3)) * 1000;
  let lastUse = Date.now();
  let lastTouch = Date.now();
  let leaving = false;

  const touch = () => {
    lastTouch = Date.now();
    api("GET", "/api/v1/auth/me");
  };

  const used = () => {
    if (leaving) return;
    lastUse = Date.now();
    if (!box.hidden) box.hidden = true;
    if (Date.now() - lastTouch >= touchEvery) touch();
  };

  for (const type of ["keydown", "pointerdown", "wheel", "touchstart"]) {
    document.addEventListener(type, used, { passive: true, capture: true });
  }
  stay.addEventListener("click", () => {
    used();
    touch();
  });

  const tick = () => {
    const left = timeout - Math.floor((Date.now() - lastUse) / 1000);
    if (left <= 0 && !leaving) {
      leaving = true;
      document.dispatchEvent(new CustomEvent("sf:signing-out"));
      document.getElementById("logout-reason").value = "idle";
      document.getElementById("logout-form").submit();
      return;
    }
    if (left <= warnAt) {
      const message = `You will be signed out in ${durationText(left)} because this page is idle.`;
      if (box.hidden) {
        box.hidden = false;
        text.textContent = message;
      } else if (left % 10 === 0 || left <= 5) {
        text.textContent = message; // not every second: a screen reader would chatter
      }
    }
  };
  window.setInterval(tick, 1000);
}
