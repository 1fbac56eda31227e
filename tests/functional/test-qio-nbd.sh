#!/bin/bash
# qio-nbd end to end: the real qemu-img and qemu-io (and nbdinfo when
# installed) as clients, on a UNIX socket and on 127.0.0.1, in the clear
# and over x509 and PSK TLS; then the process side: --fork and
# --pid-file, SIGTERM, exit after the last client, the --shared limit,
# -L compared with qemu-nbd -L (when installed), and the command-line
# errors.  qio-nbd-client as the client is test-qio-nbd-pair.sh; the
# cache, discard and detect-zeroes options test-qio-nbd-image-opts.sh.
#
#   test-qio-nbd.sh BUILD_ROOT
#
# Every server runs under timeout(1) or is killed by its pid on exit;
# every client call is bounded too.  Exit 77 (skip) without qemu-img.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../interop/lib.sh
. "$here/../interop/lib.sh"

build=$1
qnbd=$build/tools/qio-nbd
qpki=$build/tools/qio-pki
require_built "$qnbd" "$qpki"
require_progs qemu-img qemu-io timeout sha256sum

test_begin

sum() { sha256sum "$1" | cut -d' ' -f1; }

# Wait (5 s at most) until $1 exists.
wait_file() {
    for _ in $(seq 100); do
        [ -e "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

# Wait (5 s at most) until process $1 has ended.
wait_gone() {
    for _ in $(seq 100); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
    return 1
}

# start NAME ARGS...: run qio-nbd in the background with a pid file and
# wait until it listens.  Sets $srv (pid to kill) and $pidf.
start() {
    local name=$1
    shift
    pidf=$tmp/$name.pid
    timeout --preserve-status 120 "$qnbd" --pid-file "$pidf" "$@" \
        >"$tmp/$name.log" 2>&1 &
    srv=$!
    pids+=("$srv")
    if ! wait_file "$pidf"; then
        echo "qio-nbd $name did not start:"
        cat "$tmp/$name.log"
        return 1
    fi
}

# stop PID: SIGTERM, then the exit status.
stop() {
    kill -TERM "$1" 2>/dev/null
    wait "$1"
}

img=$tmp/disk.img
src=$tmp/src.img
head -c 4194304 /dev/urandom >"$src"
truncate -s 4M "$img"

# copy_check WHAT OBJECT TARGET: write $src to TARGET (a URI, or with an
# --object argument OBJECT image options), read it back into
# $tmp/out.img, and compare both with the image file.
copy_check() {
    local what=$1 obj=$2 target=$3
    local wopts=(-f raw) ropts=(-f raw)
    if [ -n "$obj" ]; then
        wopts=(-f raw --object "$obj" --target-image-opts)
        ropts=(--object "$obj" --image-opts)
    fi
    rm -f "$tmp/out.img"
    if timeout 30 qemu-img convert -n "${wopts[@]}" "$src" "$target" \
           >"$tmp/qi.log" 2>&1 &&
       timeout 30 qemu-img convert "${ropts[@]}" -O raw "$target" \
           "$tmp/out.img" >>"$tmp/qi.log" 2>&1 &&
       [ "$(sum "$src")" = "$(sum "$img")" ] &&
       [ "$(sum "$src")" = "$(sum "$tmp/out.img")" ]; then
        pass "$what: written and read back, checksums match"
    else
        cat "$tmp/qi.log"
        fail "$what: write/read round trip"
    fi
    # The next check must see its own data, not this one's.
    truncate -s 0 "$img" && truncate -s 4M "$img"
}

# --- plain, UNIX socket --------------------------------------------------
sock=$tmp/plain.sock
if start plain -t -k "$sock" "$img"; then
    copy_check "UNIX socket" "" "nbd+unix:///?socket=$sock"
    if timeout 20 qemu-io -f raw -c "write -P 0x5a 65536 65536" \
           -c "read -P 0x5a 65536 65536" "nbd+unix:///?socket=$sock" \
           >"$tmp/io.log" 2>&1; then
        pass "qemu-io writes and verifies a pattern"
    else
        cat "$tmp/io.log"
        fail "qemu-io pattern over the UNIX socket"
    fi
    if command -v nbdinfo >/dev/null; then
        if timeout 20 nbdinfo "nbd+unix:///?socket=$sock" \
               >"$tmp/ni.log" 2>&1 &&
           grep -q "export-size: 4194304" "$tmp/ni.log"; then
            pass "nbdinfo sees the 4 MiB export"
        else
            cat "$tmp/ni.log"
            fail "nbdinfo"
        fi
    else
        echo "# nbdinfo not installed: libnbd check skipped"
    fi
    if stop "$srv" && [ ! -e "$sock" ] && [ ! -e "$pidf" ]; then
        pass "SIGTERM: exit 0, socket and pid file removed"
    else
        fail "SIGTERM did not end the server cleanly"
    fi
else
    fail "server on a UNIX socket"
fi

# --- plain, TCP with an export name --------------------------------------
port=$(free_port)
if start tcp -t -b 127.0.0.1 -p "$port" -x disk0 -D "test disk" "$img"; then
    copy_check "TCP 127.0.0.1:$port" "" "nbd://127.0.0.1:$port/disk0"
    if timeout 20 qemu-img info "nbd://127.0.0.1:$port/nosuch" \
           >"$tmp/qi.log" 2>&1; then
        fail "an unknown export name was accepted"
    else
        pass "an unknown export name is refused"
    fi
    # -L: the lines qio-nbd prints are the ones qemu-nbd -L prints.
    if timeout 10 "$qnbd" -L -b 127.0.0.1 -p "$port" >"$tmp/l1.txt" 2>&1 &&
       grep -qx " export: 'disk0'" "$tmp/l1.txt" &&
       grep -qx "  size:  4194304" "$tmp/l1.txt"; then
        pass "-L lists disk0 and its size"
    else
        cat "$tmp/l1.txt"
        fail "-L on TCP"
    fi
    if command -v qemu-nbd >/dev/null; then
        if timeout 10 qemu-nbd -L -b 127.0.0.1 -p "$port" \
               >"$tmp/l2.txt" 2>&1 &&
           grep -qx "  description: test disk" "$tmp/l1.txt" &&
           [ "$(grep -v '^  available meta contexts\|^   ' \
                "$tmp/l2.txt")" = "$(cat "$tmp/l1.txt")" ]; then
            pass "qio-nbd -L prints what qemu-nbd -L does (but meta contexts)"
        else
            cat "$tmp/l1.txt" "$tmp/l2.txt"
            fail "qio-nbd -L differs from qemu-nbd -L"
        fi
    else
        echo "# qemu-nbd not installed: -L comparison skipped"
    fi
    stop "$srv"
else
    fail "server on TCP"
fi

# --- read-only -----------------------------------------------------------
sock=$tmp/ro.sock
if start ro -t -r -k "$sock" "$img"; then
    before=$(sum "$img")
    if timeout 20 qemu-io -f raw -c "write -P 0x11 0 4096" \
           "nbd+unix:///?socket=$sock" >"$tmp/io.log" 2>&1; then
        fail "a write to a read-only export succeeded"
    elif [ "$(sum "$img")" != "$before" ]; then
        fail "a read-only export changed the image"
    else
        pass "read-only export refuses a write: $(head -n 1 "$tmp/io.log")"
    fi
    if timeout 20 qemu-io -r -f raw -c "read 0 4096" \
           "nbd+unix:///?socket=$sock" >"$tmp/io.log" 2>&1; then
        pass "read-only export still reads"
    else
        cat "$tmp/io.log"
        fail "read from a read-only export"
    fi
    stop "$srv"
else
    fail "read-only server"
fi

# --- TLS: x509 with authz, then PSK --------------------------------------
pki=$tmp/pki
if "$qpki" init "$pki" --hostname localhost --ip 127.0.0.1 \
       --client-name client1 --psk-user alice >"$tmp/pki.log" 2>&1; then
    sock=$tmp/x509.sock
    x509c="tls-creds-x509,id=tls0,endpoint=client,dir=$pki"
    opts="driver=nbd,path=$sock,tls-creds=tls0,tls-hostname=localhost"
    if start x509 -t -k "$sock" \
           --object "tls-creds-x509,id=tls0,endpoint=server,dir=$pki" \
           --object "authz-simple,id=auth0,identity=CN=client1" \
           --tls-creds tls0 --tls-authz auth0 "$img"; then
        copy_check "x509 TLS with authz" "$x509c" "$opts"
        if timeout 20 qemu-img info "nbd+unix:///?socket=$sock" \
               >"$tmp/qi.log" 2>&1; then
            fail "a plain client got through a TLS server"
        elif grep -q "TLS" "$tmp/qi.log"; then
            pass "plain client refused: $(head -n 1 "$tmp/qi.log")"
        else
            cat "$tmp/qi.log"
            fail "plain client refused without a TLS message"
        fi
        stop "$srv"
    else
        fail "x509 TLS server"
    fi

    sock=$tmp/deny.sock
    opts="driver=nbd,path=$sock,tls-creds=tls0,tls-hostname=localhost"
    if start deny -t -k "$sock" \
           --object "tls-creds-x509,id=tls0,endpoint=server,dir=$pki" \
           --object "authz-simple,id=auth0,identity=CN=somebody-else" \
           --tls-creds tls0 --tls-authz auth0 "$img"; then
        if timeout 20 qemu-img info --object "$x509c" \
               --image-opts "$opts" >"$tmp/qi.log" 2>&1; then
            fail "authz let an unlisted client certificate in"
        else
            pass "authz denies client1 when only somebody-else is allowed"
        fi
        stop "$srv"
    else
        fail "x509 TLS server with a denying authz"
    fi

    port=$(free_port)
    pskc="tls-creds-psk,id=tls0,endpoint=client,dir=$pki,username=alice"
    opts="driver=nbd,host=127.0.0.1,port=$port,tls-creds=tls0"
    if start psk -t -b 127.0.0.1 -p "$port" \
           --object "tls-creds-psk,id=tls0,endpoint=server,dir=$pki" \
           --tls-creds tls0 "$img"; then
        copy_check "PSK TLS on TCP" "$pskc" "$opts"
        stop "$srv"
    else
        fail "PSK TLS server"
    fi
else
    cat "$tmp/pki.log"
    fail "qio-pki init"
fi

# --- --shared: two clients at once ---------------------------------------
# The first client holds its connection for 3 s; the second must be
# served meanwhile with -e 2, and must wait (in the backlog) with -e 1.
shared_check() {
    local name=$1 limit=$2
    sock=$tmp/$name.sock
    if ! start "$name" -t -e "$limit" -k "$sock" "$img"; then
        fail "server with -e $limit"
        return
    fi
    timeout 20 qemu-io -r -f raw -c "read 0 4096" -c "sleep 3000" \
        -c "read 0 4096" "nbd+unix:///?socket=$sock" \
        >"$tmp/$name-a.log" 2>&1 &
    local a=$!
    pids+=("$a")
    sleep 0.5
    timeout 2 qemu-img info "nbd+unix:///?socket=$sock" \
        >"$tmp/$name-b.log" 2>&1
    b_rc=$?
    wait "$a"
    a_rc=$?
    stop "$srv"
}
shared_check shared2 2
if [ "$a_rc" = 0 ] && [ "$b_rc" = 0 ]; then
    pass "-e 2 serves two clients at once"
else
    cat "$tmp/shared2-a.log" "$tmp/shared2-b.log"
    fail "-e 2 with two concurrent clients (rc $a_rc, $b_rc)"
fi
shared_check shared1 1
if [ "$a_rc" = 0 ] && [ "$b_rc" != 0 ]; then
    pass "-e 1 keeps a second client waiting while the first is served"
else
    fail "-e 1 served a second client at once (rc $a_rc, $b_rc)"
fi

# --- without -t: exit when the client leaves -----------------------------
sock=$tmp/once.sock
if start once -k "$sock" "$img"; then
    timeout 20 qemu-img info "nbd+unix:///?socket=$sock" >/dev/null 2>&1
    if wait_gone "$srv" && wait "$srv" && [ ! -e "$sock" ]; then
        pass "without -t the server exits 0 after its client leaves"
    else
        fail "without -t the server kept running"
    fi
else
    fail "server without -t"
fi

# --- --fork and --pid-file -----------------------------------------------
sock=$tmp/fork.sock
pidf=$tmp/fork.pid
if timeout 20 "$qnbd" --fork --pid-file "$pidf" -t -k "$sock" "$img" \
       >"$tmp/fork.log" 2>&1; then
    fpid=$(cat "$pidf" 2>/dev/null)
    pids+=("$fpid")
    if [ -S "$sock" ] &&
       timeout 20 qemu-img info "nbd+unix:///?socket=$sock" \
           >/dev/null 2>&1; then
        pass "--fork returns once the socket is listening"
    else
        fail "--fork returned before the server was ready"
    fi
    if kill "$fpid" && wait_gone "$fpid" && [ ! -e "$pidf" ] &&
       [ ! -e "$sock" ]; then
        pass "killed by the --pid-file pid; pid file and socket removed"
    else
        fail "--pid-file pid did not end the server cleanly"
    fi
else
    cat "$tmp/fork.log"
    fail "--fork"
fi
if timeout 20 "$qnbd" --fork -k "$tmp/none/x.sock" "$img" \
       >"$tmp/fork.log" 2>&1; then
    fail "--fork succeeded although the socket could not be made"
elif grep -q "cannot listen" "$tmp/fork.log"; then
    pass "--fork reports a server that could not start"
else
    cat "$tmp/fork.log"
    fail "--fork startup failure message"
fi

# --- command-line errors -------------------------------------------------
# expect_error DESCRIPTION TEXT ARGS...: non-zero exit, one line with TEXT.
expect_error() {
    local what=$1 text=$2
    shift 2
    if timeout 10 "$qnbd" "$@" >"$tmp/err.log" 2>&1; then
        fail "$what: accepted"
    elif [ "$(wc -l <"$tmp/err.log")" = 1 ] &&
         grep -qF -- "$text" "$tmp/err.log"; then
        pass "$what: $(cat "$tmp/err.log")"
    else
        cat "$tmp/err.log"
        fail "$what: expected one line with '$text'"
    fi
}
expect_error "bad port" "--port" -p 70000 "$img"
expect_error "port not a number" "--port" -p http "$img"
expect_error "bad --shared" "--shared" -e many "$img"
expect_error "bad --handshake-limit" "--handshake-limit" \
    --handshake-limit -5 "$img"
expect_error "qcow2" \
    "qio-nbd: --format 'qcow2' is not supported: only raw images are" \
    -f qcow2 "$img"
expect_error "--snapshot" "option --snapshot is not supported" -s "$img"
expect_error "--connect" "option --connect is not supported" \
    -c /dev/nbd0 "$img"
expect_error "--image-opts" "option --image-opts is not supported" \
    --image-opts "$img"
expect_error "--aio" "option --aio is not supported" --aio=native "$img"
expect_error "bad --cache" "option --cache: 'fast' is not one of" \
    --cache=fast "$img"
expect_error "--detect-zeroes=unmap alone" \
    "option --detect-zeroes=unmap needs --discard=unmap" \
    --detect-zeroes=unmap "$img"
expect_error "-L with a FILE" "option --list takes no FILE" -L "$img"
expect_error "-L with -x" "option --export-name cannot be combined with" \
    -L -x disk0
expect_error "--tls-hostname without -L" "only for --list" \
    --tls-hostname h "$img"
expect_error "unknown option" "--frobnicate" --frobnicate "$img"
expect_error "missing value" "-p" "$img" -p
expect_error "no FILE" "FILE" -t
expect_error "--socket with --port" "--socket" -k "$tmp/s" -p 1234 "$img"
expect_error "--tls-authz alone" "--tls-authz" --tls-authz a0 "$img"
expect_error "unknown --tls-creds" "--tls-creds" --tls-creds nope "$img"
expect_error "client creds" "endpoint=server" \
    --object "tls-creds-anon,id=tls0,endpoint=client" --tls-creds tls0 \
    -k "$tmp/c.sock" "$img"
expect_error "bad --object" "--object" --object "no-such-type,id=x" "$img"
expect_error "missing file" "$tmp/missing.img" -k "$tmp/m.sock" \
    "$tmp/missing.img"

if timeout 10 "$qnbd" --object help >"$tmp/help.log" 2>&1 &&
   grep -q "tls-creds-x509" "$tmp/help.log"; then
    pass "--object help lists the types"
else
    fail "--object help"
fi
if timeout 10 "$qnbd" --help | grep -q -- "--tls-creds" &&
   timeout 10 "$qnbd" -V | grep -q "^qio-nbd "; then
    pass "--help and --version"
else
    fail "--help or --version"
fi

if [ "$failures" != 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all qio-nbd checks passed"
