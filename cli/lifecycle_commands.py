"""`secureforms purge`, `erase`, `keys rotate` and `keys purge-retired`: data and keys
leaving on schedule and on request."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime

from cli.common import runtime_or_exit, settings_or_exit


def _parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an RFC 3339 time (e.g. 2027-01-31T00:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2027-01-31T00:00:00Z")
    return moment.astimezone(UTC)


class ProgressBar:
    """A one-line progress bar on a terminal; silent when stderr is not one."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        width = 30
        share = done / total if total else 1.0
        filled = int(width * share)
        rate = done / max(time.monotonic() - self.started, 1e-6)
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
            f"{done}/{total} ({rate:,.0f}/s)"
        )
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def cmd_purge(args: argparse.Namespace) -> int:
    from core.retention import PurgeBusy, run_purge

    rt = runtime_or_exit(settings_or_exit())
    try:
        report = run_purge(
            rt,
            as_of=args.as_of,
            dry_run=args.dry_run,
            batch=args.batch,
            progress=ProgressBar("purging"),
        )
    except PurgeBusy:
        print("secureforms: another purge is running; try again when it ends", file=sys.stderr)
        return 3
    print(json.dumps(report))
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from core.lifecycle import erase_as_operator, site_of_conversation

    rt = runtime_or_exit(settings_or_exit())
    site_id = site_of_conversation(rt, args.conversation)
    if site_id is None:
        print(f"secureforms: no conversation {args.conversation}", file=sys.stderr)
        return 2
    erased = erase_as_operator(rt, site_id, args.conversation)
    print(json.dumps({"conversation_id": args.conversation, "erased": erased}))
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from core.keys import rewrap_and_retire, rotate

    rt = runtime_or_exit(settings_or_exit())
    purposes = tuple(args.purpose) if args.purpose else ("data", "event", "offrecord")
    new = rotate(rt, purposes)
    report: dict[str, object] = {"new_primary": new}
    if args.wait:
        report |= rewrap_and_retire(rt)
    else:
        from configs.celery import REWRAP_TASK
        from producers import Publisher, PublishFailed

        try:
            Publisher(rt.settings, rt.keyring).publish_task(REWRAP_TASK)
            report["rewrap"] = "queued"
        except PublishFailed:
            report["rewrap"] = "not queued (broker down); beat will do it, or run with --wait"
    print(json.dumps(report))
    return 0


def cmd_keys_purge_retired(args: argparse.Namespace) -> int:
    from core.errors import DomainError
    from core.keys import purge_retired

    rt = runtime_or_exit(settings_or_exit())
    try:
        purged = purge_retired(rt, args.key or None)
    except DomainError as exc:  # in use, not retired, or no such key: nothing was removed
        print(f"secureforms: {exc.message}", file=sys.stderr)
        return 1
    except PermissionError:
        print(f"secureforms: can't rewrite {rt.keyring.path}; run as its owner", file=sys.stderr)
        return 1
    finally:
        rt.close()
    print(json.dumps({"purged": purged}))
    return 0


def register(sub: argparse._SubParsersAction, keys: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this module's commands to the `secureforms` parser."""
    purge = sub.add_parser("purge", help="run the retention purge now and print what it removed")
    purge.add_argument("--dry-run", action="store_true", help="count, change nothing")
    purge.add_argument(
        "--as-of", type=_parse_time, default=None, help="purge as if it were this time (RFC 3339)"
    )
    purge.add_argument("--batch", type=int, default=1000, help="rows per transaction")
    purge.set_defaults(func=cmd_purge)

    erase = sub.add_parser("erase", help="erase every submission of a conversation now")
    erase.add_argument("--conversation", required=True, metavar="ID")
    erase.set_defaults(func=cmd_erase)

    rotate = keys.add_parser(
        "rotate", help="new primary keys; data keys re-wrapped in the background"
    )
    rotate.add_argument(
        "--purpose", action="append", choices=["data", "event", "offrecord"], help="(repeatable)"
    )
    rotate.add_argument(
        "--wait", action="store_true", help="re-wrap now in this process instead of a worker"
    )
    rotate.set_defaults(func=cmd_keys_rotate)

    purge_keys = keys.add_parser(
        "purge-retired",
        help="remove retired keys' secret material from the keyring file once nothing uses them",
    )
    purge_keys.add_argument(
        "--key", action="append", metavar="ID", help="only this retired key (repeatable)"
    )
    purge_keys.set_defaults(func=cmd_keys_purge_retired)
