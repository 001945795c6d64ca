// The panel's sign-in: remember which conversation the console has open, so the panel
// opens on it once the agent is signed in.
import { focusMarked, linkSummaryToFields } from "./common.js";
import { panelUrl, watchConsole } from "./embed-context.js";

focusMarked();
linkSummaryToFields();

const box = document.getElementById("signin-context");
const next = document.querySelector('input[name="next"]');
watchConsole(JSON.parse(box.dataset.origins || "[]"), (externalId) => {
  next.value = panelUrl(box.dataset.site, externalId);
});
