#!/bin/bash
# Export a disk image over NBD with TLS and read it back, on 127.0.0.1.
#
# A throwaway PKI is made with qio-pki, qio-nbd serves a sparse sample
# image with x509 TLS and an authz rule, qio-nbd-client copies it back
# and the checksums are compared.  Then three clients that must be
# refused are run (no credentials, a certificate the authz rule does not
# allow, a CA the server is not signed by) and their messages checked,
# and the server is stopped and must exit cleanly.  Every command is
# printed before it runs, so that it can be copied; docs/demo.md walks
# through them.
#
#   nbd-demo.sh [--build DIR] [--size MIB] [--keep]
#
# Exit status 0 only when every check passed.  Every network step runs
# under timeout(1); the server is stopped and the work directory removed
# on every exit path.
set -u

prog=${0##*/}
usage() {
    cat <<EOF
Usage: $prog [--build DIR] [--size MIB] [--keep]

  --build DIR   build tree holding tools/qio-pki, tools/qio-nbd and
                tools/qio-nbd-client (default: build, next to this script's
                source tree)
  --size MIB    size of the sample image in MiB, 1 to 65536 (default 64)
  --keep        keep the work directory (its path is printed)
EOF
}

here=$(cd "$(dirname "$0")" && pwd)
build=$here/../build
size=64
keep=0
while [ $# -gt 0 ]; do
    case $1 in
    --build) [ $# -ge 2 ] || { usage >&2; exit 2; }; build=$2; shift ;;
    --build=*) build=${1#--build=} ;;
    --size) [ $# -ge 2 ] || { usage >&2; exit 2; }; size=$2; shift ;;
    --size=*) size=${1#--size=} ;;
    --keep) keep=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "$prog: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
case $size in
'' | *[!0-9]* | 0*) size_ok=0 ;;
*) size_ok=1; [ "$size" -le 65536 ] || size_ok=0 ;;
esac
if [ "$size_ok" -ne 1 ]; then
    echo "$prog: --size: '$size' is not a number of MiB from 1 to 65536" >&2
    exit 2
fi

# Output: "==> step" headings, "$ command" lines, then what the command
# printed.  Failures end the demo with one "FAILED:" line on stderr.
step_no=0
step() {
    step_no=$((step_no + 1))
    printf '\n==> %d. %s\n' "$step_no" "$*"
}
die() {
    printf '\nFAILED: %s\n' "$*" >&2
    exit 1
}

# Quote one word for a shell only when it needs it.
quote() {
    case $1 in
    '' | *[!A-Za-z0-9_./:=,@%+-]*)
        printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
    *) printf '%s' "$1" ;;
    esac
}
show() {
    local sep='$ ' w
    for w in "$@"; do
        printf '%s%s' "$sep" "$(quote "$w")"
        sep=' '
    done
    printf '\n'
}

# run CMD...: print the command, run it, stop the demo if it fails.
run() {
    show "$@"
    "$@" || die "'$1' exited with status $? (command above)"
}

# refused WHAT PATTERN CMD...: CMD must fail (not time out) with a
# message matching the extended regex PATTERN; the message is shown.
refused() {
    local what=$1 pattern=$2 rc
    shift 2
    show "$@"
    "$@" >out.txt 2>err.txt
    rc=$?
    sed 's/^/    /' err.txt
    [ "$rc" -ne 0 ] || die "$what: the client was let in"
    [ "$rc" -ne 124 ] ||
        die "$what: the client timed out instead of being refused"
    grep -Eq "$pattern" err.txt ||
        die "$what: the message does not say /$pattern/"
    echo "ok: $what: refused (exit status $rc)"
}

sum() {
    sha256sum "$1" | cut -d' ' -f1
}

for p in qio-pki qio-nbd qio-nbd-client; do
    [ -x "$build/tools/$p" ] ||
        die "$build/tools/$p is missing: build first (scripts/build build)"
done
for p in timeout sha256sum truncate dd head grep sed; do
    command -v "$p" >/dev/null || die "$p is not installed"
done
tools=$(cd "$build/tools" && pwd)

work=""
server=""       # pid of timeout(1) running qio-nbd
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        # timeout(1) passes SIGTERM on to qio-nbd.
        kill "$server" 2>/dev/null
        for _ in $(seq 50); do
            kill -0 "$server" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$server" 2>/dev/null
        wait "$server" 2>/dev/null
    fi
    if [ -n "$work" ]; then
        cd / || true
        if [ "$keep" -eq 1 ]; then
            echo "kept $work"
        else
            rm -rf "$work"
        fi
    fi
}
trap cleanup EXIT
trap 'echo; die "interrupted"' INT TERM HUP

echo "qio NBD demo: export a ${size} MiB disk image over TLS on 127.0.0.1" \
     "and copy it back"

step "A work directory, and the qio programs on PATH"
work=$(mktemp -d "${TMPDIR:-/tmp}/qio-demo.XXXXXX") ||
    die "cannot make a temporary directory"
show cd "$work"
cd "$work" || die "cannot enter $work"
# shellcheck disable=SC2016 # $PATH is printed, for the reader's shell
printf '$ export PATH=%s:$PATH\n' "$(quote "$tools")"
export PATH="$tools:$PATH"

step "A throwaway PKI: a CA, a server certificate for localhost and" \
     "127.0.0.1, a client certificate for CN=demo-client"
run qio-pki init server --ca-dir ca --hostname localhost --ip 127.0.0.1
run qio-pki client server demo-client --ca-dir ca --out-dir client
run ls ca server client

step "A sample image: ${size} MiB, mostly holes, with random data at" \
     "the start, in the middle and at the end"
chunk=$((size / 16))
[ "$chunk" -ge 1 ] || chunk=1
run truncate -s "${size}M" disk.img
for at in 0 $((size / 2)) $((size - chunk)); do
    run dd if=/dev/urandom of=disk.img bs=1M seek="$at" count="$chunk" \
        conv=notrunc status=none
done
orig=$(sum disk.img)
echo "sha256 $orig"

step "Serve it: TLS required, only CN=demo-client let in, up to 4" \
     "clients at once, kept running until stopped"
# A random port in 20000-60000; another one when it is taken.
port=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
    try=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
    cmd=(timeout 600 qio-nbd -v --pid-file qio-nbd.pid
         --bind 127.0.0.1 --port "$try" --export-name disk0
         --description "qio demo disk" --shared 4 --persistent
         --object "tls-creds-x509,id=tls0,endpoint=server,dir=$work/server"
         --object "authz-simple,id=auth0,identity=CN=demo-client"
         --tls-creds tls0 --tls-authz auth0 disk.img)
    printf '%s >qio-nbd.log 2>&1 &\n' "$(show "${cmd[@]}")"
    "${cmd[@]}" >qio-nbd.log 2>&1 &
    server=$!
    # Listening once the pid file exists; or it failed to start.
    for _ in $(seq 100); do
        [ -s qio-nbd.pid ] && break
        kill -0 "$server" 2>/dev/null || break
        sleep 0.1
    done
    if [ -s qio-nbd.pid ]; then
        port=$try
        break
    fi
    if kill -0 "$server" 2>/dev/null; then
        die "qio-nbd did not start listening within 10 s"
    fi
    wait "$server"
    server=""
    if grep -q 'Address already in use' qio-nbd.log; then
        echo "(port $try is taken; another one)"
        continue
    fi
    cat qio-nbd.log >&2
    die "qio-nbd did not start (its messages are above)"
done
[ -n "$port" ] || die "no free port found in 10 tries"
pid=$(cat qio-nbd.pid)
echo "qio-nbd is listening on 127.0.0.1:$port, process id $pid"

step "Ask the server about its export, with the client's credentials as" \
     "an --object"
run timeout 30 qio-nbd-client \
    --object "tls-creds-x509,id=tls0,endpoint=client,dir=$work/client" \
    --tls-creds tls0 info "nbd://127.0.0.1:$port/disk0"

step "Copy the export back over TLS, with the credentials in the URI"
uri="nbds://127.0.0.1:$port/disk0?tls-certificates=$work/client"
run timeout $((60 + size / 16)) qio-nbd-client copy "$uri" copy.img

step "Compare the checksums"
run sha256sum disk.img copy.img
copy=$(sum copy.img)
[ "$orig" = "$copy" ] || die "the copy differs from the original"
echo "ok: the copy is identical"
show du -k disk.img copy.img
du -k disk.img copy.img | while read -r k f; do
    echo "    $f: $k KiB allocated of $((size * 1024)) KiB"
done

step "A client without credentials is refused"
refused "client without credentials" 'requires TLS' \
    timeout 30 qio-nbd-client info "nbd://127.0.0.1:$port/disk0"

step "A client whose certificate the authz rule does not allow is refused"
run qio-pki client server mallory --ca-dir ca --out-dir mallory
refused "client CN=mallory" 'authorization|denied' \
    timeout 30 qio-nbd-client info \
    "nbds://127.0.0.1:$port/disk0?tls-certificates=$work/mallory"

step "A client that trusts another CA refuses the server"
run qio-pki init other-ca --hostname localhost --ip 127.0.0.1 \
    --client-name demo-client
refused "client with another CA" 'not signed by a CA' \
    timeout 30 qio-nbd-client info \
    "nbds://127.0.0.1:$port/disk0?tls-certificates=$work/other-ca"

step "What the server decided, from its log"
run grep -E 'authz .* (allows|denies) identity' qio-nbd.log
n_allow=$(grep -Ec "authz 'auth0' allows identity 'CN=demo-client'" \
          qio-nbd.log)
n_deny=$(grep -Ec "authz 'auth0' denies identity 'CN=mallory'" qio-nbd.log)
if [ "$n_allow" -lt 2 ] || [ "$n_deny" -lt 1 ]; then
    die "the server log does not show the expected authz decisions"
fi

step "Stop the server"
run kill "$pid"
for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$pid" 2>/dev/null && die "qio-nbd (pid $pid) still runs 10 s later"
wait "$server"
status=$?
server=""
[ "$status" -eq 0 ] || die "qio-nbd exited with status $status"
[ ! -e qio-nbd.pid ] || die "qio-nbd left its pid file behind"
echo "ok: qio-nbd exited with status 0 and removed its pid file"

step "Clean up"
show cd /
show rm -rf "$work"
if [ "$keep" -eq 1 ]; then
    echo "(not done: --keep)"
else
    echo "(done on exit, also when a step fails or the demo is interrupted)"
fi

printf '\nOK: %d MiB copied over NBD+TLS intact (sha256 %s); clients' \
    "$size" "${orig:0:16}"
printf ' without credentials, not allowed, or trusting another CA were'
printf ' refused; the server stopped cleanly\n'
