"""A chat console of the tests' own: a page on another loopback origin that frames the
agent's panel the way Chatwoot's Dashboard Apps do, and posts it Chatwoot's `appContext`
(a JSON string: {"event": "appContext", "data": {conversation, contact, currentAgent}}),
on the frame's load and whenever the frame asks with "chatwoot-dashboard-app:fetch-info".

`/evil` is a page of a third origin that, framed beside the panel, posts it an
`appContext` naming another conversation: the panel must not listen to it.
"""

from __future__ import annotations

import html
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

_HOST = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Console</title></head>
<body>
<h1>Chat console</h1>
<iframe id="panel" name="panel" title="Secure forms" src="{panel}"
  width="375" height="760"></iframe>
{evil}
<script>
const frame = document.getElementById("panel");
let conversation = {conversation};
function tell() {{
  const context = {{
    event: "appContext",
    data: {{
      conversation: {{id: conversation, account_id: 1, inbox_id: 1, status: "open"}},
      contact: {{id: 5, name: "Vera"}},
      currentAgent: {{id: 7, name: "Sam", email: "sam@example.com"}},
    }},
  }};
  frame.contentWindow.postMessage(JSON.stringify(context), "*");
}}
frame.addEventListener("load", tell);
window.addEventListener("message", (e) => {{
  if (e.data === "chatwoot-dashboard-app:fetch-info") tell();
}});
window.showConversation = (n) => {{ conversation = n; tell(); }};
</script>
</body></html>
"""

_EVIL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Other</title></head><body>
<script>
const forged = JSON.stringify({{event: "appContext", data: {{conversation: {{id: {n}}}}}}});
setInterval(() => parent.frames["panel"].postMessage(forged, "*"), 100);
</script>
</body></html>
"""


class _DualStack(ThreadingHTTPServer):
    # "localhost" may resolve to ::1 or 127.0.0.1: answer on both.
    address_family = socket.AF_INET6
    daemon_threads = True


@dataclass
class ConsoleHost:
    port: int

    @property
    def origin(self) -> str:
        """The console's origin (another site than the api's 127.0.0.1)."""
        return f"http://localhost:{self.port}"

    @property
    def other_origin(self) -> str:
        """The same server under an origin no policy allows."""
        return f"http://127.0.0.1:{self.port}"

    def page(
        self, panel_url: str, conversation: int, *, origin: str | None = None, evil: str = ""
    ) -> str:
        query = json.dumps({"panel": panel_url, "conversation": conversation, "evil": evil})
        return f"{origin or self.origin}/host?c={quote(query)}"


def _handler() -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path == "/host":
                wanted = json.loads(query["c"][0])
                evil = (
                    f'<iframe title="Other" src="{html.escape(wanted["evil"])}" '
                    'width="10" height="10"></iframe>'
                    if wanted["evil"]
                    else ""
                )
                body = _HOST.format(
                    panel=html.escape(wanted["panel"]),
                    conversation=int(wanted["conversation"]),
                    evil=evil,
                )
            elif parts.path == "/evil":
                body = _EVIL.format(n=int(query["n"][0]))
            else:
                self.send_error(404)
                return
            raw = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    return Handler


@contextmanager
def running_console() -> Iterator[ConsoleHost]:
    server = _DualStack(("::", 0), _handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ConsoleHost(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
