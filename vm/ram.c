/*
 * Guest RAM as one mmap()ed block.  The only subtle parts are the file
 * backend's directory case (a private file created and unlinked at once,
 * as QEMU does with mem-path=/dev/hugepages or /dev/shm) and that every
 * access is range-checked with checked arithmetic before any pointer is
 * formed.
 */
#include "vm/ram.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/checked.h"
#include "util/error.h"

struct VMRam {
    uint8_t *base;
    uint64_t size;
    char *path;
    bool readonly;
    bool discard;
};

static bool round_to_pages(uint64_t size, uint64_t *rounded, GError **errp)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t sum;

    if (!qutil_add_u64(size, page - 1, &sum) || sum > (uint64_t)SIZE_MAX) {
        g_set_error(errp, VM_ERROR, VM_ERROR_NO_MEMORY,
                    "cannot set up guest memory of %" G_GUINT64_FORMAT
                    " bytes: too large for this host",
                    size);
        return false;
    }
    *rounded = sum & ~(page - 1);
    return true;
}

static int open_backing_file(const char *mem_path, bool readonly,
                             char **used_path, GError **errp)
{
    struct stat st;
    int fd;

    if (stat(mem_path, &st) == 0 && S_ISDIR(st.st_mode)) {
        g_autofree char *tmpl =
            g_build_filename(mem_path, "qio-vm.XXXXXX", NULL);

        if (readonly) {
            g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                        "mem-path '%s': a directory cannot be read-only "
                        "memory; give a file",
                        mem_path);
            return -1;
        }
        fd = g_mkstemp_full(tmpl, O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) {
            qutil_error_setg_errno(errp, VM_ERROR, VM_ERROR_IO, errno,
                                   "mem-path '%s': cannot create a file in "
                                   "the directory",
                                   mem_path);
            return -1;
        }
        unlink(tmpl);
        *used_path = g_strdup(mem_path);
        return fd;
    }
    fd = open(mem_path, (readonly ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC,
              0600);
    if (fd < 0) {
        qutil_error_setg_errno(errp, VM_ERROR, VM_ERROR_IO, errno,
                               "mem-path '%s': cannot open", mem_path);
        return -1;
    }
    *used_path = g_strdup(mem_path);
    return fd;
}

/* Size the file for @size bytes; -1 with @errp set on failure. */
static bool size_backing_file(int fd, const char *mem_path, uint64_t size,
                              bool readonly, GError **errp)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        qutil_error_setg_errno(errp, VM_ERROR, VM_ERROR_IO, errno,
                               "mem-path '%s': cannot stat", mem_path);
        return false;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size >= size) {
        return true;
    }
    if (readonly) {
        g_set_error(
            errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
            "mem-path '%s': the file is shorter than the %" G_GUINT64_FORMAT
            " bytes asked for and read-only",
            mem_path, size);
        return false;
    }
    if (ftruncate(fd, (off_t)size) < 0) {
        qutil_error_setg_errno(
            errp, VM_ERROR, VM_ERROR_IO, errno,
            "mem-path '%s': cannot extend to %" G_GUINT64_FORMAT " bytes",
            mem_path, size);
        return false;
    }
    return true;
}

static void touch_pages(uint8_t *base, uint64_t size, bool readonly)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

    for (uint64_t off = 0; off < size; off += page) {
        volatile uint8_t *p = base + off;
        uint8_t v = *p;

        if (!readonly) {
            *p = v;
        }
    }
}

VMRam *vm_ram_new(const char *mem_path, uint64_t size, const VMRamOptions *opts,
                  GError **errp)
{
    static const VMRamOptions defaults;
    g_autofree char *used_path = NULL;
    uint64_t rounded;
    void *base = NULL;
    int fd = -1;
    int flags;
    VMRam *ram;

    if (!opts) {
        opts = &defaults;
    }
    if (opts->readonly && !mem_path) {
        g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                    "read-only memory needs a file (mem-path)");
        return NULL;
    }
    if (!round_to_pages(size, &rounded, errp)) {
        return NULL;
    }
    if (mem_path) {
        fd = open_backing_file(mem_path, opts->readonly, &used_path, errp);
        if (fd < 0) {
            return NULL;
        }
        if (!size_backing_file(fd, mem_path, rounded, opts->readonly, errp)) {
            close(fd);
            return NULL;
        }
    }
    flags = (opts->share ? MAP_SHARED : MAP_PRIVATE) |
            (mem_path ? 0 : MAP_ANONYMOUS) |
            (opts->noreserve ? MAP_NORESERVE : 0);
    if (rounded) {
        base =
            mmap(NULL, rounded, PROT_READ | (opts->readonly ? 0 : PROT_WRITE),
                 flags, fd, 0);
        if (base == MAP_FAILED) {
            if (mem_path) {
                qutil_error_setg_errno(
                    errp, VM_ERROR, VM_ERROR_IO, errno,
                    "mem-path '%s': cannot map %" G_GUINT64_FORMAT " bytes",
                    mem_path, rounded);
            } else {
                qutil_error_setg_errno(
                    errp, VM_ERROR, VM_ERROR_NO_MEMORY, errno,
                    "cannot set up guest memory of %" G_GUINT64_FORMAT " bytes",
                    rounded);
            }
            if (fd >= 0) {
                close(fd);
            }
            return NULL;
        }
        /* Advice only: a kernel without KSM or dump control still runs. */
        if (opts->dontdump) {
            madvise(base, rounded, MADV_DONTDUMP);
        }
        if (opts->mergeable) {
            madvise(base, rounded, MADV_MERGEABLE);
        }
        if (opts->prealloc) {
            touch_pages(base, rounded, opts->readonly);
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    ram = g_new0(VMRam, 1);
    ram->base = base;
    ram->size = rounded;
    ram->path = g_steal_pointer(&used_path);
    ram->readonly = opts->readonly;
    ram->discard = opts->discard && opts->share && mem_path;
    return ram;
}

VMRam *vm_ram_new_anon(uint64_t size, bool share, GError **errp)
{
    VMRamOptions opts = { .share = share };

    return vm_ram_new(NULL, size, &opts, errp);
}

VMRam *vm_ram_new_file(const char *mem_path, uint64_t size, bool share,
                       GError **errp)
{
    VMRamOptions opts = { .share = share };

    return vm_ram_new(mem_path, size, &opts, errp);
}

void vm_ram_free(VMRam *ram)
{
    if (!ram) {
        return;
    }
    if (ram->base) {
        if (ram->discard) {
            madvise(ram->base, ram->size, MADV_REMOVE);
        }
        munmap(ram->base, ram->size);
    }
    g_free(ram->path);
    g_free(ram);
}

uint64_t vm_ram_get_size(VMRam *ram)
{
    return ram->size;
}

bool vm_ram_is_readonly(VMRam *ram)
{
    return ram->readonly;
}

const char *vm_ram_get_path(VMRam *ram)
{
    return ram->path;
}

bool vm_ram_check_range(VMRam *ram, uint64_t addr, uint64_t len, GError **errp)
{
    if (!qutil_range_within(addr, len, ram->size)) {
        g_set_error(errp, VM_ERROR, VM_ERROR_OUT_OF_RANGE,
                    "range 0x%" G_GINT64_MODIFIER "x + 0x%" G_GINT64_MODIFIER
                    "x is outside guest RAM (%" G_GUINT64_FORMAT " bytes)",
                    addr, len, ram->size);
        return false;
    }
    return true;
}

void *vm_ram_get_ptr(VMRam *ram, uint64_t addr, uint64_t len, GError **errp)
{
    if (!vm_ram_check_range(ram, addr, len, errp)) {
        return NULL;
    }
    /* A machine without RAM has no base; any non-empty range failed above. */
    return ram->base ? ram->base + addr : (void *)"";
}

bool vm_ram_read(VMRam *ram, uint64_t addr, void *buf, uint64_t len,
                 GError **errp)
{
    void *p = vm_ram_get_ptr(ram, addr, len, errp);

    if (!p) {
        return false;
    }
    if (len) {
        memcpy(buf, p, len);
    }
    return true;
}

bool vm_ram_write(VMRam *ram, uint64_t addr, const void *buf, uint64_t len,
                  GError **errp)
{
    void *p;

    if (ram->readonly) {
        g_set_error(errp, VM_ERROR, VM_ERROR_BAD_STATE,
                    "guest RAM is read-only (readonly=on)");
        return false;
    }
    p = vm_ram_get_ptr(ram, addr, len, errp);

    if (!p) {
        return false;
    }
    if (len) {
        memcpy(p, buf, len);
    }
    return true;
}

bool vm_ram_save(VMRam *ram, uint64_t addr, uint64_t len, const char *filename,
                 GError **errp)
{
    const uint8_t *p = vm_ram_get_ptr(ram, addr, len, errp);
    int fd;

    if (!p) {
        return false;
    }
    fd = open(filename, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        qutil_error_setg_errno(errp, VM_ERROR, VM_ERROR_IO, errno,
                               "could not open '%s'", filename);
        return false;
    }
    while (len) {
        size_t chunk = len > (1u << 20) ? (1u << 20) : (size_t)len;
        ssize_t n = write(fd, p, chunk);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            qutil_error_setg_errno(errp, VM_ERROR, VM_ERROR_IO,
                                   n < 0 ? errno : ENOSPC,
                                   "could not write '%s'", filename);
            close(fd);
            return false;
        }
        p += n;
        len -= (uint64_t)n;
    }
    if (close(fd) < 0) {
        qutil_error_setg_errno(errp, VM_ERROR, VM_ERROR_IO, errno,
                               "could not write '%s'", filename);
        return false;
    }
    return true;
}
