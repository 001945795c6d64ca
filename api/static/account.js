// The account pages: after a failed post focus lands on the error summary, whose links move
// focus to their fields; arriving from a page that needs two-step sign-in, on the banner.
import { focusMarked, linkSummaryToFields } from "./common.js";

linkSummaryToFields();
focusMarked();
