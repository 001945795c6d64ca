// Every console page: after a failed post, focus lands on the error summary, and its
// links move focus to their fields.
import { focusMarked, linkSummaryToFields } from "./common.js";

linkSummaryToFields();
focusMarked();
