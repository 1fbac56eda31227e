/*
 * Guest RAM: one contiguous block of host memory that guest addresses
 * 0 .. size-1 map to, either anonymous (the default, and
 * memory-backend-ram) or mapped from a file (memory-backend-file):
 *
 *     qio-vm -m 256                                   # anonymous, 256 MiB
 *     qio-vm -object
 * memory-backend-file,id=mem0,size=1G,mem-path=/dev/shm,share=on \ -machine
 * memory-backend=mem0 -m 1G
 *
 * Every access goes through a range check against the size, done with
 * checked arithmetic, so an address and length from a monitor or the
 * guest console can never reach outside the block.
 *
 *     VMRam *ram = vm_ram_new_anon(64 * MiB, false, errp);
 *     vm_ram_write(ram, 0x1000, "hello", 5, errp);
 *     vm_ram_save(ram, 0, 4096, "/tmp/dump", errp);   // pmemsave
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vm/error.h"

G_BEGIN_DECLS

typedef struct VMRam VMRam;

/* How to map guest RAM; all false is a private, reserved mapping. */
typedef struct VMRamOptions {
    bool share;     /* MAP_SHARED: writes reach the file, other processes */
    bool readonly;  /* file only: opened read-only, writes refused */
    bool noreserve; /* MAP_NORESERVE: no swap reserved (reserve=off) */
    bool dontdump;  /* left out of core dumps (dump=off) */
    bool mergeable; /* offered to KSM (merge=on) */
    bool prealloc;  /* every page touched now, so later use cannot fail */
    bool discard;   /* file, shared: its blocks released at free */
} VMRamOptions;

/*
 * Map @size bytes as @opts says: anonymous when @mem_path is NULL, else
 * the file or directory @mem_path as vm_ram_new_file() describes.
 */
VMRam *vm_ram_new(const char *mem_path, uint64_t size, const VMRamOptions *opts,
                  GError **errp);

/*
 * Map @size bytes of anonymous memory (zero-filled), shared with child
 * processes when @share.  @size is rounded up to the host page size; 0 is
 * allowed and gives a machine without RAM.  Fails with VM_ERROR_NO_MEMORY.
 */
VMRam *vm_ram_new_anon(uint64_t size, bool share, GError **errp);

/*
 * Map @size bytes of the file @mem_path.  When @mem_path is a directory, a
 * new file is created in it and unlinked at once (QEMU's behaviour), so
 * the memory lives only as long as the process.  An existing file shorter
 * than @size is extended; a longer one keeps its size and only @size bytes
 * are mapped.  With @share, writes reach the file (MAP_SHARED); without,
 * they stay private to the process.  Fails with VM_ERROR_IO naming the
 * path.
 */
VMRam *vm_ram_new_file(const char *mem_path, uint64_t size, bool share,
                       GError **errp);

void vm_ram_free(VMRam *ram);

/* The size in bytes, after rounding. */
uint64_t vm_ram_get_size(VMRam *ram);

/* Whether @ram refuses writes (a readonly=on file). */
bool vm_ram_is_readonly(VMRam *ram);

/* The file backing @ram, or NULL for anonymous memory. */
const char *vm_ram_get_path(VMRam *ram);

/*
 * Check that [@addr, @addr + @len) lies within guest RAM; fails with
 * VM_ERROR_OUT_OF_RANGE otherwise ("range 0x... + 0x... is outside guest
 * RAM (... bytes)").  An empty range at the end is within.
 */
bool vm_ram_check_range(VMRam *ram, uint64_t addr, uint64_t len, GError **errp);

/*
 * Copy guest RAM out of, or into, @buf after vm_ram_check_range().
 * Writing to read-only RAM fails with VM_ERROR_BAD_STATE.
 */
bool vm_ram_read(VMRam *ram, uint64_t addr, void *buf, uint64_t len,
                 GError **errp);
bool vm_ram_write(VMRam *ram, uint64_t addr, const void *buf, uint64_t len,
                  GError **errp);

/*
 * The host address of guest address @addr when [@addr, @addr + @len) is
 * within RAM, else NULL with @errp set.  Valid until vm_ram_free().  For
 * reading: read-only RAM is mapped without write permission.
 */
void *vm_ram_get_ptr(VMRam *ram, uint64_t addr, uint64_t len, GError **errp);

/*
 * Write [@addr, @addr + @len) to @filename, created or truncated (mode
 * 0600), as pmemsave does.  The range is checked before the file is
 * touched.
 */
bool vm_ram_save(VMRam *ram, uint64_t addr, uint64_t len, const char *filename,
                 GError **errp);

G_END_DECLS
