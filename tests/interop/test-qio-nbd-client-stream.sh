#!/bin/bash
#
# qio-nbd-client copy with the special local names nbdcopy knows: "-" is
# standard output as a destination and standard input as a source
# (streamed in order; the size of a stream is unknown), "null:" as a
# destination throws the data away.  Each case runs in an empty working
# directory, which must stay empty: no file named "-" or "null:".  A
# file really named "-" is reached as "./-".  Where nbdcopy is installed
# the same command lines run through it and must give the same result.
# Also: with -v the debug lines go to standard error, each prefixed with
# the program name, and standard output carries only the export's bytes.
#
# Usage: test-qio-nbd-client-stream.sh BUILD_ROOT   (exit 77 without qemu-nbd)

set -u

build=${1:?usage: $0 BUILD_ROOT}
client=$build/tools/qio-nbd-client

. "${0%/*}/lib.sh"
require_progs qemu-nbd python3 timeout cmp sha256sum
require_built "$client"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qio-nbd-stream.XXXXXX") || exit 1
srv_pid=
failures=0
SIZE=4194304

cleanup() {
    stop_pid "$srv_pid" 20
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

check() { echo "CHECK: $*"; }
pass() { echo "  ok"; }
fail() {
    echo "  FAIL: $*"
    failures=$((failures + 1))
}

# random FILE BYTES SEED: reproducible random bytes.
random() {
    python3 -c 'import random, sys
r = random.Random(int(sys.argv[3]))
open(sys.argv[1], "wb").write(r.randbytes(int(sys.argv[2])))' "$@"
}

# The export: 4 MiB, random data with a 1 MiB hole in the middle.
random "$tmp/disk.raw" "$SIZE" 1
python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1 << 20)
    f.write(bytes(1 << 20))' "$tmp/disk.raw"
cp "$tmp/disk.raw" "$tmp/orig.raw"

start_qemu() {
    local try
    for try in 1 2 3; do
        port=$(free_port)
        if timeout 10 qemu-nbd --fork --pid-file "$tmp/srv.pid" -t -e 0 \
               -f raw -b 127.0.0.1 -p "$port" "$tmp/disk.raw" \
               2>"$tmp/srv.err"; then
            srv_pid=$(cat "$tmp/srv.pid")
            return 0
        fi
        grep -qi "address already in use" "$tmp/srv.err" || break
    done
    sed 's/^/  qemu-nbd: /' "$tmp/srv.err"
    return 1
}

if ! start_qemu; then
    echo "FAIL: qemu-nbd did not start"
    exit 1
fi
uri="nbd://127.0.0.1:$port/"

# Every copy runs in this directory, which must stay empty.
work=$tmp/work
mkdir "$work"
cd "$work" || exit 1
# True (and the names in $stray_names) when a file appeared there; the
# directory is emptied for the next check.
stray() {
    stray_names=$(ls -A "$work")
    rm -rf -- "${work:?}"/*
    [ -n "$stray_names" ]
}

# The export's content, as the test expects it.
reset_export() {
    cp "$tmp/orig.raw" "$tmp/disk.raw"
}

have_nbdcopy=0
command -v nbdcopy >/dev/null 2>&1 && have_nbdcopy=1

for prog in qio nbdcopy; do
    if [ "$prog" = qio ]; then
        copy=("$client" copy)
    elif [ "$have_nbdcopy" = 1 ]; then
        copy=(nbdcopy)
    else
        echo "NOTE: nbdcopy not installed; the comparison was not run"
        continue
    fi
    reset_export

    check "$prog: copy URI - writes the export to standard output (a pipe)"
    if ! timeout 60 "${copy[@]}" "$uri" - 2>"$tmp/err" | cat >"$tmp/out"; then
        fail "exit status: $(cat "$tmp/err")"
    elif stray; then
        fail "a file was created: $stray_names"
    elif ! cmp -s "$tmp/out" "$tmp/orig.raw"; then
        fail "standard output is not the export ($(wc -c <"$tmp/out") bytes)"
    else
        pass
    fi

    check "$prog: copy URI - with standard output a regular file"
    rm -f "$tmp/out"
    if ! timeout 60 "${copy[@]}" "$uri" - >"$tmp/out" 2>"$tmp/err"; then
        fail "exit status: $(cat "$tmp/err")"
    elif stray || ! cmp -s "$tmp/out" "$tmp/orig.raw"; then
        fail "wrong output or a stray file: $stray_names"
    else
        pass
    fi

    check "$prog: copy URI null: reads the export and throws it away"
    if ! timeout 60 "${copy[@]}" "$uri" null: >"$tmp/out" 2>"$tmp/err"; then
        fail "exit status: $(cat "$tmp/err")"
    elif stray; then
        fail "a file was created: $stray_names"
    elif [ -s "$tmp/out" ]; then
        fail "null: wrote to standard output"
    else
        pass
    fi

    check "$prog: copy - URI streams a shorter standard input, rest unchanged"
    random "$tmp/short" 1500000 7
    # Zeros in the middle of the stream must arrive as zeros.
    python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(300000)
    f.write(bytes(600000))' "$tmp/short"
    python3 -c 'import sys
a = open(sys.argv[1], "rb").read()
b = open(sys.argv[2], "rb").read()
open(sys.argv[3], "wb").write(a + b[len(a):])' \
        "$tmp/short" "$tmp/orig.raw" "$tmp/expect"
    if ! cat "$tmp/short" | timeout 60 "${copy[@]}" - "$uri" 2>"$tmp/err"
    then
        fail "exit status: $(cat "$tmp/err")"
    elif stray; then
        fail "a file was created: $stray_names"
    elif ! cmp -s "$tmp/disk.raw" "$tmp/expect"; then
        fail "the export is not standard input followed by its old bytes"
    else
        pass
    fi
    reset_export

    check "$prog: copy - URI fails when standard input is larger"
    random "$tmp/long" $((SIZE + 70000)) 8
    if cat "$tmp/long" | timeout 60 "${copy[@]}" - "$uri" 2>"$tmp/err"
    then
        fail "a stream larger than the export was accepted"
    elif stray; then
        fail "a file was created: $stray_names"
    else
        sed 's/^/  (expected) /' "$tmp/err"
        pass
    fi
    reset_export

    check "$prog: a file named - is reached as ./-"
    if ! timeout 60 "${copy[@]}" "$uri" ./- >"$tmp/out" 2>"$tmp/err"; then
        fail "to ./-: $(cat "$tmp/err")"
    elif [ -s "$tmp/out" ] || ! cmp -s ./- "$tmp/orig.raw"; then
        fail "./- is not the export, or data went to standard output"
    else
        random ./- "$SIZE" 9
        cp ./- "$tmp/dash"
        if ! timeout 60 "${copy[@]}" ./- "$uri" </dev/null 2>"$tmp/err"; then
            fail "from ./-: $(cat "$tmp/err")"
        elif ! cmp -s "$tmp/disk.raw" "$tmp/dash"; then
            fail "the export is not the file ./-"
        else
            pass
        fi
    fi
    rm -f ./-
    reset_export
done

check "qio: copy -v URI -: debug on standard error, only data on stdout"
if ! timeout 60 "$client" -v copy "$uri" - 2>"$tmp/err" | cat >"$tmp/out"
then
    fail "exit status: $(cat "$tmp/err")"
elif ! cmp -s "$tmp/out" "$tmp/orig.raw"; then
    fail "standard output is not exactly the export"
elif ! [ -s "$tmp/err" ] || grep -qv '^qio-nbd-client: ' "$tmp/err"; then
    fail "standard error: $(cat "$tmp/err")"
else
    sed 's/^/  (stderr) /' "$tmp/err"
    pass
fi

check "qio: - or null: on both sides is refused"
refused=1
for args in "- null:" "- -"; do
    # shellcheck disable=SC2086
    if timeout 10 "$client" copy $args </dev/null >"$tmp/out" 2>"$tmp/err" ||
       stray; then
        fail "copy $args: accepted, or a file was created"
        refused=0
    fi
done
[ "$refused" -eq 1 ] && pass

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
