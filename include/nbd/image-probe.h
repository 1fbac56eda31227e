/*
 * Recognise disk image formats by their magic numbers, so that a server
 * that exports files as raw bytes can refuse to serve an image's
 * container when its user meant the disk inside (qemu-nbd, which
 * understands the formats, would serve the disk).
 *
 *   const char *fmt = nbd_image_probe_file("disk.qcow2");
 *   if (fmt) ...refuse: "disk.qcow2 is a qcow2 image"...
 *
 * Known: qcow, qcow2, qed, vmdk (sparse extents and descriptor files),
 * vdi, vhdx, vpc (dynamic disks, whose header starts the file), luks
 * (versions 1 and 2), parallels, bochs, cloop and dmg (by its trailer).
 * Each is a magic number at a fixed offset from the start, or for dmg
 * from the end.  A file whose data only happens to begin with one of
 * them is refused too; the caller offers an explicit "raw" for that.
 */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* Bytes from the start, and from the end, that the probe looks at. */
#define NBD_IMAGE_PROBE_HEAD 512
#define NBD_IMAGE_PROBE_TAIL 512

/*
 * The format whose magic is in @head (the first @head_len bytes of the
 * file) or @tail (its last @tail_len bytes; NULL and 0 if unknown), or
 * NULL when none is (a raw file, or too short to hold a header).
 */
const char *nbd_image_probe(const uint8_t *head, size_t head_len,
                            const uint8_t *tail, size_t tail_len);

/*
 * nbd_image_probe() on the first and last bytes of @path (a file or a
 * block device).  NULL also when @path cannot be opened or read: the
 * caller's own open then says why.
 */
const char *nbd_image_probe_file(const char *path);

G_END_DECLS
