"""What each api process counted, read from its own file in PROMETHEUS_MULTIPROC_DIR
(prometheus-client's multiprocess mode names them `counter_<pid>.db`): which processes
answered, and how often, without asking any of them."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict

HEALTHZ = {"method": "GET", "route": "/healthz", "status": "200"}


def healthz_by_process(directory: Path) -> dict[int, float]:
    """Each api process's own count of `GET /healthz` 200, by process id."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        pid = int(path.stem.removeprefix("counter_"))
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            _, sample, labels, _ = json.loads(key)
            if sample == "secureforms_http_requests_total" and labels == HEALTHZ:
                counts[pid] = counts.get(pid, 0.0) + value
    return counts
