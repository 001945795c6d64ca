"""`secureforms user enable`: the operator's way back in for a user nobody else can help.

After the failed-login limit an account stays disabled until an admin re-enables it; when
no admin can (the only one is disabled, or the lock must end before its 30 minutes), the
operator does it from the host. Prints one JSON line; exit 1 names an unknown site or
user, exit 2 is bad usage (argparse's own).
"""

from __future__ import annotations

import argparse
import json
import sys

from cli.common import runtime_or_exit, settings_or_exit


def cmd_user_enable(args: argparse.Namespace) -> int:
    from core.errors import NotFound
    from core.users import enable_as_operator

    rt = runtime_or_exit(settings_or_exit())
    try:
        user = enable_as_operator(rt, args.site, args.username)
    except NotFound as exc:
        print(f"secureforms: {exc.message}", file=sys.stderr)
        return 1
    finally:
        rt.close()
    shown = {k: user[k] for k in ("id", "username", "role", "enabled")}
    print(json.dumps({"site_id": args.site, "user": shown}))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this module's commands to the `secureforms` parser."""
    user = sub.add_parser("user", help="users of a site").add_subparsers(
        dest="user_command", required=True
    )
    enable = user.add_parser(
        "enable", help="re-enable a disabled or locked user and reset their failure count"
    )
    enable.add_argument("--site", required=True, metavar="ID")
    enable.add_argument("--username", required=True, metavar="U")
    enable.set_defaults(func=cmd_user_enable)
