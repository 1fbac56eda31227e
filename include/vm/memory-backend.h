/*
 * The memory backends, user-creatable objects that hold guest RAM:
 *
 *   -object memory-backend-ram,id=mem0,size=1G[,share=on]
 *   -object memory-backend-file,id=mem0,size=1G,mem-path=/dev/shm[,share=on]
 *   -machine memory-backend=mem0
 *
 * Properties, as QEMU's (qapi/qom.json, MemoryBackendProperties):
 *   size       bytes, with suffixes; required, not 0
 *   share      MAP_SHARED (default off: private)
 *   dump       in core dumps (default on)      merge    KSM (default on)
 *   reserve    swap reserved (default on; off: MAP_NORESERVE)
 *   prealloc   touch every page at creation; prealloc-threads is accepted
 *   policy     only "default"; host-nodes only empty: qio-vm does not
 *              place memory on NUMA nodes and says so
 * and for the file backend
 *   mem-path   a file (created if missing) or a directory in which an
 *              unlinked file is made; required
 *   readonly   open and map read-only; writes to guest RAM are refused
 *   discard-data  release the file's blocks at the end (share=on)
 *   align      up to the page size; pmem=on is refused  The RAM is mapped when
 * the object is created (its GInitable init), so a bad path or a size the host
 * cannot give fails -object and object-add, not the machine.
 */
#pragma once

#include <glib-object.h>
#include <stdbool.h>

#include "vm/ram.h"

G_BEGIN_DECLS

#define VM_TYPE_MEMORY_BACKEND (vm_memory_backend_get_type())
G_DECLARE_DERIVABLE_TYPE(VMMemoryBackend, vm_memory_backend, VM, MEMORY_BACKEND,
                         GObject)

struct _VMMemoryBackendClass {
    GObjectClass parent_class;
    /* Map the RAM for @size bytes; set by each backend. */
    VMRam *(*alloc)(VMMemoryBackend *mb, uint64_t size,
                    const VMRamOptions *opts, GError **errp);
};

#define VM_TYPE_MEMORY_BACKEND_RAM (vm_memory_backend_ram_get_type())
G_DECLARE_FINAL_TYPE(VMMemoryBackendRam, vm_memory_backend_ram, VM,
                     MEMORY_BACKEND_RAM, VMMemoryBackend)

#define VM_TYPE_MEMORY_BACKEND_FILE (vm_memory_backend_file_get_type())
G_DECLARE_FINAL_TYPE(VMMemoryBackendFile, vm_memory_backend_file, VM,
                     MEMORY_BACKEND_FILE, VMMemoryBackend)

/* The backend's RAM (borrowed; lives as long as the object). */
VMRam *vm_memory_backend_get_ram(VMMemoryBackend *mb);

/* Register memory-backend-ram and memory-backend-file with qom. */
void vm_memory_backend_register_types(void);

G_END_DECLS
