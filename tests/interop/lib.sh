# Shared by the interop and functional scripts (source it; bash): skip
# when a peer is missing, fail when a qio program was not built, pick a
# free port, and stop a background server by its pid without waiting
# forever.

# A TCP port on 127.0.0.1 the kernel just handed out (and took back).
free_port() {
    /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

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

# test_begin: what every test script sets up first.  $tmp is a new
# directory, removed at exit with every path in the cleanup_paths array;
# each pid in the pids array is stopped at exit (stop_pid, up to 5 s,
# which also covers a --fork server that is not our child); pass and
# fail print a result line, and fail counts into $failures.  A script
# may define its own pass and fail after calling it.
# shellcheck disable=SC2034
test_begin() {
    tmp=$(mktemp -d) || exit 1
    pids=()
    cleanup_paths=()
    failures=0
    trap test_cleanup EXIT
    trap 'exit 1' INT TERM
}

test_cleanup() {
    local p

    for p in "${pids[@]}"; do
        stop_pid "$p" 50
    done
    rm -rf "$tmp" "${cleanup_paths[@]}"
}

pass() { echo "ok - $1"; }
fail() {
    echo "FAIL - $1"
    failures=$((failures + 1))
}

# qio_nbd_start NAME ARGS...: start $qnbd -t --pid-file ... ARGS in the
# background (log in $tmp/NAME.log, pid appended to the pids array) and
# wait, 5 s at most, until it listens.  Sets $srv and $srv_name.  False,
# with the log shown, if it does not come up.  $tmp and $qnbd are the
# caller's.
# shellcheck disable=SC2154
qio_nbd_start() {
    local name=$1 pidf=$tmp/$1.pid
    srv_name=$name
    shift
    rm -f "$pidf"
    timeout --preserve-status 120 "$qnbd" -t --pid-file "$pidf" "$@" \
        >"$tmp/$name.log" 2>&1 &
    srv=$!
    pids+=("$srv")
    for _ in $(seq 100); do
        [ -e "$pidf" ] && return 0
        kill -0 "$srv" 2>/dev/null || break
        sleep 0.05
    done
    echo "# qio-nbd $name did not start:"
    sed 's/^/# /' "$tmp/$name.log"
    return 1
}

# qio_nbd_stop: SIGTERM to $srv; a server that does not then exit 0 (a
# crash, a leak found by a sanitizer) is a failure of its own (the
# caller's fail function).
qio_nbd_stop() {
    local rc
    kill -TERM "$srv" 2>/dev/null
    wait "$srv"
    rc=$?
    if [ "$rc" != 0 ]; then
        sed 's/^/# /' "$tmp/$srv_name.log"
        fail "server $srv_name exited with status $rc"
        return 1
    fi
}
