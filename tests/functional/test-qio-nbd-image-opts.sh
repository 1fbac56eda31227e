#!/bin/bash
# qio-nbd's qemu-nbd image options, seen from a real client (qemu-io):
#   --discard=ignore|unmap   does a trim, or a write-zeroes that allows
#                            unmapping, punch a hole in the file?
#   --detect-zeroes=on|unmap does a WRITE of zeros become a zero write,
#                            and may it punch?
#   --cache / -n             O_DIRECT exactly for none and directsync
#                            (seen in /proc/PID/fdinfo), and every mode
#                            reads back what was written, aligned or not;
#   -e                       CAN_MULTI_CONN as qemu-nbd 7.2 announces it.
# Holes are seen as the file's allocated blocks (stat %b) and the data
# by qemu-io's pattern checks and by comparing the file itself.
#
#   test-qio-nbd-image-opts.sh BUILD_ROOT
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../interop/lib.sh
. "$here/../interop/lib.sh"

build=$(cd "$1" && pwd)
qnbd=$build/tools/qio-nbd
require_built "$qnbd"
require_progs qemu-io timeout stat cmp

# O_DIRECT files live on a disk file system: the build tree's, which is
# not tmpfs in practice; everything else in a temp dir.
test_begin
dtmp=$(mktemp -d "$build/qio-nbd-odirect.XXXXXX")
cleanup_paths+=("$dtmp")

MiB=1048576

# start NAME IMAGE ARGS...: qio-nbd -f raw ARGS IMAGE on a UNIX socket,
# reachable as $uri (qio_nbd_start in lib.sh).
start() {
    local name=$1 image=$2
    shift 2
    sock=$tmp/$name.sock
    uri="nbd+unix:///?socket=$sock"
    qio_nbd_start "$name" -f raw -k "$sock" "$@" "$image"
}

stop() { qio_nbd_stop; }

# qio COMMANDS...: qemu-io on $uri with one -c per argument.
qio() {
    local args=()
    for c in "$@"; do
        args+=(-c "$c")
    done
    timeout 30 qemu-io -f raw "${args[@]}" "$uri" >"$tmp/io.log" 2>&1 &&
        ! grep -q "failed\|error\|Pattern verification" "$tmp/io.log"
}

blocks() { stat -c %b "$1"; }

# A 4 MiB image whose every block is written (allocated), with a
# known, non-zero content.
fill_image() {
    rm -f "$1"
    head -c $((4 * MiB)) /dev/urandom >"$1"
    sync "$1" 2>/dev/null
}

# check_punch WHAT BEFORE AFTER EXPECT: EXPECT "hole" needs at least
# 3/4 MiB fewer blocks after (1 MiB was punched, allow for file system
# granularity); "kept" needs no fewer blocks.
check_punch() {
    local what=$1 before=$2 after=$3 expect=$4
    local drop=$(((before - after) * 512))
    if [ "$expect" = hole ] && [ "$drop" -ge $((MiB * 3 / 4)) ]; then
        pass "$what: punched a hole ($drop bytes freed)"
    elif [ "$expect" = kept ] && [ "$drop" -le 0 ]; then
        pass "$what: nothing punched"
    else
        fail "$what: expected $expect, blocks $before -> $after"
    fi
}

# one_op NAME QIO-NBD-ARGS -- QEMU-IO-COMMAND EXPECT VERIFY: on a fresh
# filled image, run the command over [1 MiB, 2 MiB), then check that
# the range reads as VERIFY ("zero" or "data") and punched as EXPECT.
one_op() {
    local name=$1
    shift
    local sargs=()
    while [ "$1" != -- ]; do
        sargs+=("$1")
        shift
    done
    shift
    local cmd=$1 expect=$2 verify=$3
    local img=$tmp/$name.img what="${sargs[*]:-defaults}: $cmd"
    fill_image "$img"
    cp "$img" "$tmp/$name.orig"
    if ! start "$name" "$img" "${sargs[@]}"; then
        fail "$what: server did not start"
        return
    fi
    local before
    before=$(blocks "$img")
    if ! qio "$cmd $MiB $MiB" "flush"; then
        sed 's/^/# /' "$tmp/io.log"
        fail "$what: qemu-io failed"
        stop
        return
    fi
    check_punch "$what" "$before" "$(blocks "$img")" "$expect"
    if [ "$verify" = zero ]; then
        if cmp -s -n $MiB -i $MiB "$img" /dev/zero &&
           qio "read -P 0 $MiB $MiB"; then
            pass "$what: the range reads as zeros"
        else
            fail "$what: the range is not zero"
        fi
    else
        if cmp -s -n $MiB -i $MiB:$MiB "$img" "$tmp/$name.orig"; then
            pass "$what: the data is unchanged"
        else
            fail "$what: the data changed"
        fi
    fi
    # Outside the range nothing may change.
    if cmp -s -n $MiB "$img" "$tmp/$name.orig" &&
       cmp -s -i $((2 * MiB)) "$img" "$tmp/$name.orig"; then
        pass "$what: the rest of the file is untouched"
    else
        fail "$what: bytes outside the range changed"
    fi
    stop
}

# --- --discard -----------------------------------------------------------
# qemu-io: 'discard' is NBD_CMD_TRIM; 'write -z' is WRITE_ZEROES with
# NO_HOLE; 'write -z -u' is WRITE_ZEROES that may punch.
one_op trim-default -- "discard" kept data
one_op trim-ignore --discard=ignore -- "discard" kept data
one_op trim-off --discard=off -- "discard" kept data
one_op trim-unmap --discard=unmap -- "discard" hole zero
one_op trim-on --discard=on -- "discard" hole zero
one_op wz-ignore --discard=ignore -- "write -z -u" kept zero
one_op wz-unmap --discard=unmap -- "write -z -u" hole zero
one_op wz-nohole --discard=unmap -- "write -z" kept zero

# --- --detect-zeroes -----------------------------------------------------
# 'write -P 0' is a plain WRITE whose payload is all zeros.
one_op dz-off --discard=unmap -- "write -P 0" kept zero
one_op dz-on --discard=unmap --detect-zeroes=on -- "write -P 0" kept zero
one_op dz-unmap --discard=unmap --detect-zeroes=unmap -- "write -P 0" \
    hole zero
# A non-zero write is written whatever the mode.
img=$tmp/dzdata.img
fill_image "$img"
if start dzdata "$img" --discard=unmap --detect-zeroes=unmap &&
   qio "write -P 0x5a 0 65536" "write -P 0 65536 4096" \
       "read -P 0x5a 0 65536" "read -P 0 65536 4096"; then
    pass "detect-zeroes=unmap: data and zeros both read back"
    stop
else
    sed 's/^/# /' "$tmp/io.log"
    fail "detect-zeroes=unmap: mixed writes"
fi

# --- --cache and -n ------------------------------------------------------
# Aligned and unaligned writes, a flush, then the file itself compared
# with what a second, buffered client reads.
# odirect_fds PID FILE: how many of PID's descriptors on FILE are
# open with O_DIRECT (040000 in fdinfo's octal flags).
odirect_fds() {
    local n=0 fd flags
    for fd in /proc/"$1"/fd/*; do
        [ "$(readlink "$fd")" = "$2" ] || continue
        flags=$(awk '/^flags:/ { print $2 }' \
            "/proc/$1/fdinfo/${fd##*/}" 2>/dev/null)
        [ -n "$flags" ] && (( (8#$flags & 8#40000) != 0 )) && n=$((n + 1))
    done
    echo "$n"
}

cache_check() {
    local mode=$1 direct=$2
    shift 2
    local img=$dtmp/$mode.img
    rm -f "$img"
    truncate -s $((4 * MiB)) "$img"
    if ! start "cache-$mode" "$img" "$@"; then
        fail "$*: server did not start"
        return
    fi
    if qio "write -P 0x33 0 $MiB" "write -P 0x44 4097 100" \
           "write -P 0x55 $((3 * MiB - 512)) 1536" "flush" \
           "read -P 0x33 0 4097" "read -P 0x44 4097 100" \
           "read -P 0x33 4197 $((MiB - 4197))" \
           "read -P 0x55 $((3 * MiB - 512)) 1536" &&
       [ "$(od -An -tx1 -j 4097 -N 1 "$img" | tr -d ' ')" = 44 ] &&
       [ "$(od -An -tx1 -j $((3 * MiB)) -N 1 "$img" | tr -d ' ')" = 55 ]
    then
        pass "$*: aligned and unaligned writes read back and reach FILE"
    else
        sed 's/^/# /' "$tmp/io.log"
        fail "$*: write/read/flush"
    fi
    local n
    n=$(odirect_fds "$(cat "$tmp/cache-$mode.pid")" "$img")
    if [ "$direct" = yes ] && [ "$n" -gt 0 ]; then
        pass "$*: FILE is open with O_DIRECT"
    elif [ "$direct" = no ] && [ "$n" = 0 ]; then
        pass "$*: FILE is open through the page cache"
    else
        fail "$*: $n O_DIRECT descriptor(s), expected O_DIRECT: $direct"
    fi
    stop
}
cache_check none yes --cache=none
cache_check nocache yes -n
cache_check directsync yes --cache=directsync
cache_check writethrough no --cache=writethrough
cache_check writeback no --cache=writeback
cache_check unsafe no --cache=unsafe
cache_check none-e2 yes --cache=none -e 2

# --- CAN_MULTI_CONN ------------------------------------------------------
# qemu-nbd 7.2 announces it exactly when -e is not 1, read-only or not.
if command -v nbdinfo >/dev/null; then
    multi_check() {
        local want=$1
        shift
        local img=$tmp/multi.img
        truncate -s $MiB "$img"
        if start multi "$img" "$@" &&
           timeout 20 nbdinfo "$uri" >"$tmp/ni.log" 2>&1 &&
           grep -q "can_multi_conn: $want" "$tmp/ni.log"; then
            pass "${*:-defaults}: can_multi_conn $want"
        else
            sed 's/^/# /' "$tmp/ni.log" 2>/dev/null
            fail "${*:-defaults}: can_multi_conn should be $want"
        fi
        stop
    }
    multi_check false
    multi_check false -r
    multi_check true -e 2
    multi_check true -e 2 -r
    multi_check true -e 0
else
    echo "# nbdinfo not installed: CAN_MULTI_CONN checks skipped"
fi

# --- bad values ----------------------------------------------------------
bad() {
    local text=$1
    shift
    if timeout 10 "$qnbd" "$@" "$tmp/x.img" >"$tmp/err.log" 2>&1; then
        fail "$*: accepted"
    elif [ "$(wc -l <"$tmp/err.log")" = 1 ] &&
         grep -qF -- "$text" "$tmp/err.log"; then
        pass "$*: $(cat "$tmp/err.log")"
    else
        sed 's/^/# /' "$tmp/err.log"
        fail "$*: expected one line with '$text'"
    fi
}
bad "option --cache: 'off' is not one of" --cache=off
bad "option --discard: 'yes' is not one of" --discard=yes
bad "option --detect-zeroes: 'maybe' is not one of" --detect-zeroes=maybe
bad "option --detect-zeroes=unmap needs --discard=unmap" \
    --detect-zeroes=unmap
bad "can be given only once" -n --cache=writeback

if [ "$failures" != 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all qio-nbd image option checks passed"
