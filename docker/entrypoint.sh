#!/bin/sh
# Container entry point: one role per container.
#   api | worker | beat | migrate | dev   -> the matching `secureforms` command
#   anything else                          -> exec'd as-is (e.g. `secureforms keys list`, `sh`)
# Arguments after the role are passed on, e.g. `worker --concurrency 4`.
set -eu

role="${1:-api}"
if [ "$#" -gt 0 ]; then
    shift
fi

case "$role" in
    api) exec secureforms api --host 0.0.0.0 --port 8000 "$@" ;;
    worker) exec secureforms worker "$@" ;;
    beat) exec secureforms beat "$@" ;;
    migrate) exec secureforms migrate "$@" ;;
    dev) exec secureforms dev "$@" ;;
    *) exec "$role" "$@" ;;
esac
