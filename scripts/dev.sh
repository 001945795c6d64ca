#!/usr/bin/env bash
# One command for a working local setup: virtualenv, Redis, a broker Redis that keeps its
# queue on disk, migrations, demo data, then api + worker + beat in the foreground
# (`secureforms dev` prints the URL).
# Extra arguments go to `secureforms dev`, e.g.: scripts/dev.sh --port 8080
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bootstrap.sh
source scripts/bootstrap.sh

ensure_venv
ensure_redis
ensure_broker_redis

export SECUREFORMS_ENV="${SECUREFORMS_ENV:-development}"
# The broker Redis that ensure_broker_redis runs with an append-only file, so queued
# submissions survive its restart (6379 stays non-persistent for the off-the-record data).
export SECUREFORMS_BROKER_URL="${SECUREFORMS_BROKER_URL:-redis://127.0.0.1:${SECUREFORMS_BROKER_REDIS_PORT:-6380}/0}"

.venv/bin/secureforms migrate
# Idempotent, development only: a demo site with an admin, two agents and a
# "Payment card" form; prints the log-ins.
.venv/bin/secureforms demo seed

exec .venv/bin/secureforms dev "$@"
