#!/bin/bash
# Where qio-nbd's messages go and how they read: every message, debug
# output with -v included, goes to standard error with the program's
# name in front, and standard output stays empty; a port already in use
# gives one line that names the address and the option, with the
# program's name once.
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
qclient=$build/tools/qio-nbd-client
require_built "$qnbd" "$qclient"
require_progs timeout python3

test_begin

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

# --- -v: debug lines on standard error -----------------------------------
pidf=$tmp/v.pid
sock=$tmp/v.sock
timeout --preserve-status 60 "$qnbd" -v -t -k "$sock" --pid-file "$pidf" \
    "$tmp/disk.raw" >"$tmp/v.out" 2>"$tmp/v.err" &
srv=$!
pids+=("$srv")
for _ in $(seq 100); do
    [ -e "$pidf" ] && break
    sleep 0.05
done
if [ ! -e "$pidf" ]; then
    fail "-v: the server did not start: $(cat "$tmp/v.err" "$tmp/v.out")"
else
    # A client that connects and leaves, and one that talks nonsense.
    timeout 10 "$qclient" info "nbd+unix:///?socket=$sock" >/dev/null 2>&1
    python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.recv(18)
s.sendall(b"\xff" * 64)
s.close()' "$sock" 2>/dev/null
    sleep 0.3
    stop_pid "$srv" 50
    wait "$srv" 2>/dev/null
    if [ -s "$tmp/v.out" ]; then
        fail "-v: standard output is not empty: $(head -c 400 "$tmp/v.out")"
    elif ! [ -s "$tmp/v.err" ]; then
        fail "-v: no debug output on standard error"
    elif grep -qv "^qio-nbd: " "$tmp/v.err"; then
        fail "-v: a line without the program name: $(cat "$tmp/v.err")"
    else
        pass "-v: $(wc -l <"$tmp/v.err") lines on standard error, none on stdout"
    fi
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
