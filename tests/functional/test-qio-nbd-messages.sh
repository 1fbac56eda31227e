#!/bin/bash
# How qio-nbd's messages read: a port already in use gives one line
# that names the address and the option, with the program's name once.
#
#   test-qio-nbd-messages.sh BUILD_ROOT
#
# Every process is bounded by timeout(1) and stopped by its pid.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../interop/lib.sh
. "$here/../interop/lib.sh"

build=$1
qnbd=$build/tools/qio-nbd
require_built "$qnbd"
require_progs timeout python3

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        stop_pid "$p" 50
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

failures=0
pass() { echo "ok - $1"; }
fail() {
    echo "FAIL - $1"
    failures=$((failures + 1))
}

truncate -s 1M "$tmp/disk.raw"

# --- a port already in use -----------------------------------------------
# A listening socket held by this script's own helper process.
python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(30)' >"$tmp/port" &
holder=$!
pids+=("$holder")
for _ in $(seq 100); do
    [ -s "$tmp/port" ] && break
    sleep 0.05
done
port=$(cat "$tmp/port")
if [ -z "$port" ]; then
    fail "the helper did not listen"
elif timeout 10 "$qnbd" -t -b 127.0.0.1 -p "$port" "$tmp/disk.raw" \
        >"$tmp/bind.out" 2>"$tmp/bind.err"; then
    fail "qio-nbd started on a port in use"
else
    msg=$(cat "$tmp/bind.err")
    if [ "$(wc -l <"$tmp/bind.err")" -ne 1 ] ||
       [ "$(grep -o 'qio-nbd' "$tmp/bind.err" | wc -l)" -ne 1 ] ||
       [ "$(grep -o 'cannot listen' "$tmp/bind.err" | wc -l)" -ne 1 ] ||
       ! grep -q "^qio-nbd: " "$tmp/bind.err" ||
       ! grep -q "127.0.0.1:$port" "$tmp/bind.err" ||
       ! grep -q -- "--bind/--port" "$tmp/bind.err" ||
       ! grep -qi "in use" "$tmp/bind.err"; then
        fail "port in use: expected one line, the prefix once: $msg"
    elif [ -s "$tmp/bind.out" ]; then
        fail "port in use: something went to standard output"
    else
        pass "port in use: $msg"
    fi
fi
stop_pid "$holder"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
