/*
 * Disk image formats told apart by their magic numbers (see
 * include/nbd/image-probe.h).  The numbers come from each format's
 * specification; the probe reads a fixed window and never trusts a
 * length from the file.
 */
#include "nbd/image-probe.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *format;
    size_t offset; /* from the start of the file */
    const char *magic;
    size_t len;
} ImageMagic;

#define MAGIC(fmt, off, str)                                                   \
    {                                                                          \
        fmt, off, str, sizeof(str) - 1                                         \
    }

static const ImageMagic magics[] = {
    /* "QFI\xfb", then the version: 1 is qcow, 2 and 3 are qcow2. */
    MAGIC("qcow", 0, "QFI\xfb\0\0\0\x01"),
    MAGIC("qcow2", 0, "QFI\xfb"),
    MAGIC("qed", 0, "QED\0"),
    /* Sparse extent, hosted sparse extent (COWD), descriptor file. */
    MAGIC("vmdk", 0, "KDMV"),
    MAGIC("vmdk", 0, "COWD"),
    MAGIC("vmdk", 0, "# Disk DescriptorFile"),
    /* The signature 0xbeda107f, little-endian, after the text banner. */
    MAGIC("vdi", 64, "\x7f\x10\xda\xbe"),
    MAGIC("vhdx", 0, "vhdxfile"),
    /* The footer's cookie; a dynamic disk has a copy at offset 0. */
    MAGIC("vpc", 0, "conectix"),
    MAGIC("luks", 0, "LUKS\xba\xbe"),
    MAGIC("parallels", 0, "WithoutFreeSpace"),
    MAGIC("parallels", 0, "WithouFreSpacExt"),
    /* The 32-byte NUL-padded magic field of the header. */
    MAGIC("bochs", 0, "Bochs Virtual HD Image\0"),
    /* The shell script that starts a cloop v2 image. */
    MAGIC("cloop", 0, "#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0"),
};

/* UDIF (dmg): the 512-byte "koly" trailer, version 4, header size 512. */
static const char dmg_trailer[] = "koly\0\0\0\x04\0\0\x02\0";

const char *nbd_image_probe(const uint8_t *head, size_t head_len,
                            const uint8_t *tail, size_t tail_len)
{
    for (size_t i = 0; i < G_N_ELEMENTS(magics); i++) {
        const ImageMagic *m = &magics[i];

        if (head_len >= m->offset + m->len &&
            memcmp(head + m->offset, m->magic, m->len) == 0) {
            return m->format;
        }
    }
    if (tail && tail_len >= NBD_IMAGE_PROBE_TAIL &&
        memcmp(tail + tail_len - NBD_IMAGE_PROBE_TAIL, dmg_trailer,
               sizeof(dmg_trailer) - 1) == 0) {
        return "dmg";
    }
    return NULL;
}

/* Up to @len bytes at @off; the count read, or -1. */
static ssize_t read_at(int fd, uint8_t *buf, size_t len, off_t off)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, off + got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        got += n;
    }
    return got;
}

const char *nbd_image_probe_file(const char *path)
{
    uint8_t head[NBD_IMAGE_PROBE_HEAD];
    uint8_t tail[NBD_IMAGE_PROBE_TAIL];
    ssize_t head_len, tail_len = 0;
    const char *format = NULL;
    off_t size;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return NULL;
    }
    head_len = read_at(fd, head, sizeof(head), 0);
    size = lseek(fd, 0, SEEK_END);
    if (size >= (off_t)sizeof(tail)) {
        tail_len = read_at(fd, tail, sizeof(tail), size - sizeof(tail));
    }
    if (head_len >= 0) {
        format = nbd_image_probe(head, head_len, tail_len > 0 ? tail : NULL,
                                 MAX(tail_len, 0));
    }
    close(fd);
    return format;
}
