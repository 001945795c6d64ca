"""`secureforms audit verify`: recompute the audit trail's hash chains.

Exit 0 with a JSON summary (and each site's head hash, to keep somewhere else) when every
chain holds; exit 1 naming the first bad entry when one doesn't.
"""

from __future__ import annotations

import argparse
import json
import sys

from cli.common import runtime_or_exit, settings_or_exit


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from core.audit import verify

    rt = runtime_or_exit(settings_or_exit())
    try:
        result = verify(rt, args.site)
    finally:
        rt.close()
    if result.problem is not None:
        p = result.problem
        print(
            json.dumps(
                {
                    "ok": False,
                    "site_id": p.site_id,
                    "seq": p.seq,
                    "entry_id": p.entry_id,
                    "reason": p.reason,
                    "entries_verified": result.entries,
                }
            )
        )
        print(f"secureforms: audit trail broken: {p}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {"ok": True, "sites": result.sites, "entries": result.entries, "heads": result.heads}
        )
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this module's commands to the `secureforms` parser."""
    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True
    )
    verify = audit.add_parser(
        "verify", help="check the audit trail's hash chains; non-zero exit if one is broken"
    )
    verify.add_argument("--site", default=None, metavar="SITE_ID", help="only this site's chain")
    verify.set_defaults(func=cmd_audit_verify)
