#!/bin/sh
# Install the tree into a temporary DESTDIR, then build and run a small
# program against the installed headers, shared library and qio.pc, the way
# another project would embed libqio.
set -eu
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

DESTDIR="$tmp/root" meson install -C "$build" --no-rebuild --quiet \
    >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
pc=$(find "$tmp/root" -name qio.pc | head -n 1)
[ -n "$pc" ] || { echo "qio.pc was not installed"; exit 1; }
prefix=$(sed -n 's/^prefix=//p' "$pc")
pcdir=$(dirname "$pc")
# Point the installed .pc file at the staging root.
sed "s|^prefix=.*|prefix=$tmp/root$prefix|" "$pc" >"$tmp/qio.pc"

cat >"$tmp/app.c" <<'C'
#include <io/channel-buffer.h>
#include <qom/object.h>
#include <string.h>

int main(void)
{
    QIOChannelBuffer *buf = qio_channel_buffer_new(16);
    char out[5];

    if (qio_channel_write_all(QIO_CHANNEL(buf), "hello", 5, NULL) < 0 ||
        qio_channel_read_all(QIO_CHANNEL(buf), out, 5, NULL) < 0 ||
        memcmp(out, "hello", 5) != 0) {
        return 1;
    }
    g_object_unref(buf);
    return 0;
}
C
flags=$(PKG_CONFIG_PATH="$tmp" pkg-config --cflags --libs qio)
libdir=$(PKG_CONFIG_PATH="$tmp" pkg-config --variable=libdir qio)
# shellcheck disable=SC2086
cc -o "$tmp/app" "$tmp/app.c" $flags
LD_LIBRARY_PATH="$libdir" "$tmp/app"
# The shared library, not the static one, must have been linked.
LD_LIBRARY_PATH="$libdir" ldd "$tmp/app" | grep -q "libqio.so" || {
    echo "app is not linked against libqio.so"
    exit 1
}
[ -f "$libdir/libqio.a" ] || { echo "libqio.a was not installed"; exit 1; }
echo "installed libqio builds and runs a client program"
