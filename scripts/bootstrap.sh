# shellcheck shell=bash
# Helpers shared by scripts/dev.sh and scripts/test.sh. Source it, do not run it:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
#   ensure_venv; ensure_redis
#
# Every ensure_* function checks first, starts the service when it is not running,
# installs it with apt-get only when its program is missing, waits (bounded) until it
# answers, prints one short line of what it did, and returns non-zero with a clear
# message otherwise. Meant for a developer machine or a throwaway CI box (Debian).
#
# Settings (environment):
#   PYTHON                          interpreter for a new .venv (default: python3)
#   SECUREFORMS_BOOTSTRAP_TIMEOUT   seconds to wait for a service (default: 60)

SECUREFORMS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_BS_TIMEOUT="${SECUREFORMS_BOOTSTRAP_TIMEOUT:-60}"
_BS_APT_UPDATED="${_BS_APT_UPDATED:-}"

_bs_say() { printf 'bootstrap: %s\n' "$*"; }
_bs_fail() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; }
_bs_have() { command -v "$1" >/dev/null 2>&1; }

# _bs_wait SECONDS COMMAND...: true once COMMAND succeeds, false after SECONDS.
_bs_wait() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 1
    done
}

# _bs_tcp_open HOST PORT: true when something accepts a TCP connection there.
_bs_tcp_open() {
    # shellcheck disable=SC2016  # $1/$2 expand in the inner bash, on purpose
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" >/dev/null 2>&1
}

# _bs_apt_install PACKAGE...: apt-get install, running `apt-get update` once per shell.
_bs_apt_install() {
    local -a sudo=()
    local log
    _bs_have apt-get || { _bs_fail "apt-get not found; install $* by hand"; return 1; }
    if ((EUID != 0)); then
        _bs_have sudo || { _bs_fail "root (or sudo) is needed to apt-get install $*"; return 1; }
        sudo=(sudo)
    fi
    log="$(mktemp)"
    if [[ -z "$_BS_APT_UPDATED" ]]; then
        if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            _bs_fail "apt-get update failed"
            return 1
        fi
        _BS_APT_UPDATED=1
    fi
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        _bs_fail "apt-get install $* failed"
        return 1
    fi
    rm -f "$log"
}

# --- Python virtual environment ------------------------------------------------------

ensure_venv() {
    local venv="$SECUREFORMS_ROOT/.venv"
    local stamp="$venv/.installed-stamp"
    local py="${PYTHON:-python3}"
    local did="up to date"

    if [[ ! -x "$venv/bin/python" ]]; then
        if ! _bs_have "$py"; then
            _bs_apt_install python3 python3-venv || return 1
        fi
        "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
            { _bs_fail "$py is older than Python 3.11 (set PYTHON=/path/to/python3.11)"; return 1; }
        if ! "$py" -m venv "$venv" >/dev/null 2>&1; then
            # Debian's system Python ships venv without ensurepip: add python3-venv, retry.
            _bs_apt_install python3-venv || return 1
            "$py" -m venv --clear "$venv" || { _bs_fail "could not create $venv"; return 1; }
        fi
        did="created .venv"
    fi

    if [[ ! -f "$stamp" || "$SECUREFORMS_ROOT/pyproject.toml" -nt "$stamp" ]]; then
        # The stamp takes pyproject.toml's mtime as read *before* installing, so an edit
        # made during the install still triggers the next one.
        touch -r "$SECUREFORMS_ROOT/pyproject.toml" "$stamp.new"
        if ! (cd "$SECUREFORMS_ROOT" &&
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'); then
            rm -f "$stamp.new"
            _bs_fail "pip install -e '.[dev]' failed (see the errors above)"
            return 1
        fi
        if [[ "$did" == "up to date" && -f "$stamp" ]]; then
            did="reinstalled secureforms[dev] (pyproject.toml changed)"
        elif [[ "$did" == "up to date" ]]; then
            did="installed secureforms[dev] into .venv"
        else
            did="$did and installed secureforms[dev]"
        fi
        mv -f "$stamp.new" "$stamp"
    fi
    _bs_say "venv: $did"
}

# --- Redis ---------------------------------------------------------------------------

_bs_redis_ready() {
    if _bs_have redis-cli; then
        [[ "$(timeout 3 redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == PONG ]]
    else
        _bs_tcp_open 127.0.0.1 6379
    fi
}

ensure_redis() {
    local installed="" out
    if _bs_redis_ready; then
        _bs_say "redis: already running on 127.0.0.1:6379"
        return 0
    fi
    if ! _bs_have redis-server; then
        _bs_apt_install redis-server || return 1
        installed="installed, "
        if _bs_redis_ready; then # the package may have started it
            _bs_say "redis: installed, running on 127.0.0.1:6379"
            return 0
        fi
    fi
    # The service's development Redis (the tests run redis-servers of their own:
    # tests/support/redis_dbs.py).
    if ! out="$(redis-server --daemonize yes --bind 127.0.0.1 --port 6379 \
        --save "" --appendonly no 2>&1)"; then
        printf '%s\n' "$out" >&2
        _bs_fail "redis-server did not start"
        return 1
    fi
    _bs_wait "$_BS_TIMEOUT" _bs_redis_ready ||
        { _bs_fail "redis did not answer PING on 127.0.0.1:6379 within ${_BS_TIMEOUT}s"; return 1; }
    _bs_say "redis: ${installed}started on 127.0.0.1:6379"
}

# --- The Redis broker (development) ---------------------------------------------------
# Queued submissions must survive a Redis restart, so the broker gets a Redis of its own
# with an append-only file (`appendfsync everysec`: a killed redis-server loses nothing it
# answered; a power cut up to a second). The Redis on 6379 stays without persistence: it
# holds OTKs, sessions and the off-the-record answers, which must never reach a disk.
#   SECUREFORMS_BROKER_REDIS_PORT   its port (default: 6380); its files go to var/redis-broker

_bs_broker_port() { printf '%s' "${SECUREFORMS_BROKER_REDIS_PORT:-6380}"; }

_bs_broker_redis_ready() {
    if _bs_have redis-cli; then
        [[ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$(_bs_broker_port)" ping 2>/dev/null)" == PONG ]]
    else
        _bs_tcp_open 127.0.0.1 "$(_bs_broker_port)"
    fi
}

ensure_broker_redis() {
    local port dir out aof
    port="$(_bs_broker_port)"
    dir="$SECUREFORMS_ROOT/var/redis-broker"
    if _bs_broker_redis_ready; then
        aof="$(timeout 3 redis-cli -p "$port" config get appendonly 2>/dev/null | tail -n 1)"
        if [[ "$aof" != yes ]]; then
            _bs_fail "the Redis on 127.0.0.1:$port runs without appendonly: queued submissions would not survive its restart"
            return 1
        fi
        _bs_say "broker redis: already running on 127.0.0.1:$port (appendonly)"
        return 0
    fi
    _bs_have redis-server || { _bs_apt_install redis-server || return 1; }
    mkdir -p "$dir"
    if ! out="$(redis-server --daemonize yes --bind 127.0.0.1 --port "$port" \
        --dir "$dir" --save "" --appendonly yes --appendfsync everysec \
        --logfile "$dir/redis.log" 2>&1)"; then
        printf '%s\n' "$out" >&2
        _bs_fail "the broker redis-server did not start"
        return 1
    fi
    _bs_wait "$_BS_TIMEOUT" _bs_broker_redis_ready ||
        { _bs_fail "the broker redis did not answer PING on 127.0.0.1:$port within ${_BS_TIMEOUT}s"; return 1; }
    _bs_say "broker redis: started on 127.0.0.1:$port (appendonly, files in var/redis-broker)"
}

# --- PostgreSQL ----------------------------------------------------------------------

_bs_pg_ready() {
    if _bs_have pg_isready; then
        pg_isready -q -h 127.0.0.1 -p 5432
    else
        _bs_tcp_open 127.0.0.1 5432
    fi
}

_bs_pg_psql() {
    psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p 5432 -U postgres -d postgres "$@"
}

# Newest cluster version under /etc/postgresql; creates cluster "main" if there is none.
_bs_pg_version() {
    local ver
    ver="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null |
        sort -V | tail -n 1)"
    if [[ -z "$ver" ]]; then
        ver="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null |
            sort -V | tail -n 1)"
        [[ -n "$ver" ]] || return 1
        pg_createcluster "$ver" main >/dev/null || return 1
    fi
    printf '%s\n' "$ver"
}

# Freshly installed by us: let local TCP connections in without a password, the setup the
# test suite expects (postgres@127.0.0.1, trust). Only for throwaway dev/CI machines.
_bs_pg_trust_local() {
    local hba="/etc/postgresql/$1/main/pg_hba.conf"
    [[ -f "$hba" ]] || return 0
    grep -q '^host all all 127.0.0.1/32 trust' "$hba" && return 0
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
}

ensure_postgres() {
    local installed="" did="already running" ver out exists
    if ! _bs_pg_ready; then
        if ! _bs_have pg_ctlcluster || ! _bs_have psql; then
            _bs_apt_install postgresql || return 1
            installed="installed, "
        fi
        ver="$(_bs_pg_version)" ||
            { _bs_fail "no PostgreSQL cluster found or created under /etc/postgresql"; return 1; }
        if [[ -n "$installed" ]]; then
            _bs_pg_trust_local "$ver"
            # The package may have started the cluster with the old pg_hba.conf.
            pg_ctlcluster --skip-systemctl-redirect "$ver" main stop >/dev/null 2>&1 || true
        fi
        if ! out="$(pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>&1)"; then
            printf '%s\n' "$out" >&2
            _bs_fail "PostgreSQL $ver/main did not start"
            return 1
        fi
        _bs_wait "$_BS_TIMEOUT" _bs_pg_ready ||
            { _bs_fail "PostgreSQL did not accept connections on 127.0.0.1:5432 within ${_BS_TIMEOUT}s"; return 1; }
        did="${installed}started $ver/main"
    fi
    _bs_have psql || _bs_apt_install postgresql-client || return 1
    if ! exists="$(_bs_pg_psql -tA -c "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>&1)"; then
        printf '%s\n' "$exists" >&2
        _bs_fail "cannot connect as postgres@127.0.0.1:5432 (trust authentication expected in pg_hba.conf)"
        return 1
    fi
    if [[ "$exists" != 1 ]]; then
        _bs_pg_psql -c 'CREATE DATABASE test' >/dev/null ||
            { _bs_fail "could not create database test"; return 1; }
        did="$did, created database test"
    fi
    _bs_say "postgres: $did on 127.0.0.1:5432 (database test)"
}

# --- RabbitMQ ------------------------------------------------------------------------

_bs_rabbitmq_ready() { _bs_tcp_open 127.0.0.1 5672; }

ensure_rabbitmq() {
    _bs_rabbitmq_node && _bs_rabbitmq_management
}

_bs_rabbitmq_node() {
    local installed="" out
    if _bs_rabbitmq_ready; then
        _bs_say "rabbitmq: already running on 127.0.0.1:5672"
        return 0
    fi
    if ! _bs_have rabbitmq-server; then
        _bs_apt_install rabbitmq-server || return 1
        installed="installed, "
        if _bs_wait 5 _bs_rabbitmq_ready; then # the package may have started it
            _bs_say "rabbitmq: installed, running on 127.0.0.1:5672"
            return 0
        fi
    fi
    # A node that is still booting refuses a second start; the wait below decides.
    out="$(rabbitmq-server -detached 2>&1)" || true
    if ! _bs_wait "$_BS_TIMEOUT" _bs_rabbitmq_ready; then
        [[ -n "$out" ]] && printf '%s\n' "$out" >&2
        _bs_fail "RabbitMQ did not open 127.0.0.1:5672 within ${_BS_TIMEOUT}s (see /var/log/rabbitmq/)"
        return 1
    fi
    _bs_say "rabbitmq: ${installed}started on 127.0.0.1:5672"
}

# The queue collector reads the oldest message's age from the management plugin's API.
_bs_rabbitmq_management_ready() { _bs_tcp_open 127.0.0.1 15672; }

_bs_rabbitmq_management() {
    local out
    if _bs_rabbitmq_management_ready; then
        _bs_say "rabbitmq: management API on 127.0.0.1:15672"
        return 0
    fi
    # Enabled on the running node (and remembered in its enabled_plugins file).
    if ! out="$(rabbitmq-plugins enable rabbitmq_management 2>&1)"; then
        printf '%s\n' "$out" >&2
        _bs_fail "rabbitmq-plugins could not enable rabbitmq_management"
        return 1
    fi
    if ! _bs_wait "$_BS_TIMEOUT" _bs_rabbitmq_management_ready; then
        _bs_fail "RabbitMQ's management API did not open 127.0.0.1:15672 within ${_BS_TIMEOUT}s"
        return 1
    fi
    _bs_say "rabbitmq: management API enabled on 127.0.0.1:15672"
}

# --- Chromium (browser tests) ----------------------------------------------------------

ensure_chromium() {
    if [[ -x /usr/bin/chromium ]]; then
        _bs_say "chromium: present at /usr/bin/chromium"
        return 0
    fi
    _bs_apt_install chromium || return 1
    [[ -x /usr/bin/chromium ]] ||
        { _bs_fail "apt-get installed chromium but /usr/bin/chromium is missing"; return 1; }
    _bs_say "chromium: installed at /usr/bin/chromium"
}

# --- Prometheus (the metrics scrape test) ----------------------------------------------
# Only the program: tests/support/prometheus.py starts its own server on a free loopback
# port with a generated configuration. The package may also start the system's service
# (port 9090); nothing here uses it.

ensure_prometheus() {
    if _bs_have prometheus; then
        _bs_say "prometheus: present ($(command -v prometheus))"
        return 0
    fi
    _bs_apt_install prometheus || return 1
    _bs_have prometheus ||
        { _bs_fail "apt-get installed prometheus but the prometheus program is missing"; return 1; }
    _bs_say "prometheus: installed ($(command -v prometheus))"
}

# --- axe-core (accessibility checks in the browser tests) -------------------------------

ensure_axe() {
    local dir="$SECUREFORMS_ROOT/tests/browser"
    local axe="$dir/node_modules/axe-core/axe.min.js"
    local stamp="$dir/node_modules/.installed-stamp"
    if [[ -f "$axe" && -f "$stamp" && ! "$dir/package.json" -nt "$stamp" ]]; then
        _bs_say "axe-core: present in tests/browser/node_modules"
        return 0
    fi
    if ! _bs_have npm; then
        _bs_apt_install nodejs npm || return 1
    fi
    local cmd=install
    [[ -f "$dir/package-lock.json" ]] && cmd=ci
    if ! (cd "$dir" && npm "$cmd" --no-audit --no-fund --loglevel=error >/dev/null); then
        _bs_fail "npm $cmd in tests/browser failed (axe-core for the browser tests)"
        return 1
    fi
    [[ -f "$axe" ]] || { _bs_fail "npm installed, but $axe is missing"; return 1; }
    touch "$stamp"
    _bs_say "axe-core: installed into tests/browser/node_modules"
}
