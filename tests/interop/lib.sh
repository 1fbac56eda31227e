# Shared by the interop scripts (source it; bash): skip when a peer is
# missing, fail when a qio program was not built, and stop a background
# server by its pid without waiting forever.

# Exit 77 (meson's "skipped") unless every named program is on PATH.
require_progs() {
    local p

    for p in "$@"; do
        if ! command -v "$p" >/dev/null 2>&1; then
            echo "SKIP: $p not found"
            exit 77
        fi
    done
}

# Exit 1 unless every named qio program was built.
require_built() {
    local p

    for p in "$@"; do
        if [ ! -x "$p" ]; then
            echo "FAIL: $p is not built"
            exit 1
        fi
    done
}

# stop_pid PID [TENTHS]: SIGTERM, up to TENTHS tenths of a second (default
# 10) to exit, then SIGKILL.  A peer may linger on SIGTERM while a
# connection drains; a test server gets no more than that.
stop_pid() {
    local pid=$1 tenths=${2:-10} i

    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null
    for i in $(seq "$tenths"); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    return 0
}
