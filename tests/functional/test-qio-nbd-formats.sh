#!/bin/bash
# qio-nbd exports files as raw bytes.  A file that starts with the header
# of a disk image format (here: every format qemu-img can create on this
# host) must not be served as raw without -f raw: the server refuses to
# start, names the format and says what to do.  With -f raw it serves the
# container's bytes as they are.  Raw files whose first bytes are zeros
# or random bytes still start without -f.
#
#   test-qio-nbd-formats.sh BUILD_ROOT
#
# Every server runs under timeout(1) and is stopped by its pid.  Exit 77
# (skip) without qemu-img.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../interop/lib.sh
. "$here/../interop/lib.sh"

build=$1
qnbd=$build/tools/qio-nbd
require_built "$qnbd"
require_progs qemu-img timeout

test_begin

# serve NAME FILE ARGS...: start qio-nbd on a UNIX socket; 0 when it
# listens (it is stopped again at once), 1 when it exits by itself
# within 10 s (its stderr in $tmp/NAME.err), 2 otherwise.
serve() {
    local name=$1 file=$2 pidf=$tmp/$1.pid pid rc
    shift 2
    rm -f "$pidf"
    timeout --preserve-status 20 "$qnbd" -t -k "$tmp/$name.sock" \
        --pid-file "$pidf" "$@" "$file" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 200); do
        if [ -e "$pidf" ]; then
            stop_pid "$pid" 50
            wait "$pid" 2>/dev/null
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            rc=$?
            [ "$rc" -ne 0 ] && return 1
            return 2
        fi
        sleep 0.05
    done
    return 2
}

# Each format qemu-img can make, and the name qio-nbd must give it.
formats=(qcow qcow2 qed vmdk vdi vhdx vpc parallels luks)
for fmt in "${formats[@]}"; do
    img=$tmp/disk.$fmt
    opts=()
    if [ "$fmt" = luks ]; then
        opts=(--object secret,id=sec0,data=not-a-real-key -o key-secret=sec0)
    fi
    if ! qemu-img create -q "${opts[@]}" -f "$fmt" "$img" 1M \
            >"$tmp/create.log" 2>&1; then
        echo "# qemu-img cannot create $fmt here: $(cat "$tmp/create.log")"
        continue
    fi
    serve "$fmt" "$img"
    rc=$?
    err=$(cat "$tmp/$fmt.err")
    if [ "$rc" -ne 1 ]; then
        fail "$fmt: served as raw without -f (rc $rc)"
    elif [ "$(wc -l <"$tmp/$fmt.err")" -ne 1 ] ||
         ! grep -qw "^qio-nbd: .*$fmt" "$tmp/$fmt.err" ||
         ! grep -q -- "-f raw" "$tmp/$fmt.err" ||
         ! grep -q "qemu-img convert" "$tmp/$fmt.err"; then
        fail "$fmt: refused, but the message does not name the format and the ways out: $err"
    else
        pass "$fmt refused: $err"
    fi
    if serve "$fmt-raw" "$img" -f raw; then
        pass "$fmt with -f raw: served as bytes"
    else
        fail "$fmt with -f raw: $(cat "$tmp/$fmt-raw.err")"
    fi
done

# Raw files: zeros first, random bytes, and a file shorter than any header.
truncate -s 1M "$tmp/zeros.raw"
head -c 1048576 /dev/urandom >"$tmp/random.raw"
printf 'QFI' >"$tmp/short.raw"
for f in zeros random short; do
    if serve "$f" "$tmp/$f.raw"; then
        pass "raw file ($f) served without -f"
    else
        fail "raw file ($f) not served: $(cat "$tmp/$f.err")"
    fi
done

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
