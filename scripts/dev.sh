#!/usr/bin/env bash
# One command for a working local setup: virtualenv, Redis, migrations, demo data, then
# api + worker + beat in the foreground (`secureforms dev` prints the URL).
# Extra arguments go to `secureforms dev`, e.g.: scripts/dev.sh --port 8080
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bootstrap.sh
source scripts/bootstrap.sh

ensure_venv
ensure_redis

export SECUREFORMS_ENV="${SECUREFORMS_ENV:-development}"

.venv/bin/secureforms migrate
# Idempotent, development only: a demo site with an admin, two agents and a
# "Payment card" form; prints the log-ins.
.venv/bin/secureforms demo seed

exec .venv/bin/secureforms dev "$@"
