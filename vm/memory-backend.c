/*
 * memory-backend-ram and memory-backend-file as qom objects.  The base
 * class owns the common properties and the RAM; each subclass only says
 * how to map it.
 */
#include "vm/memory-backend.h"

#include <unistd.h>

#include "qom/object.h"

typedef struct {
    uint64_t size;
    bool share;
    bool dump;
    bool merge;
    bool prealloc;
    guint prealloc_threads;
    bool reserve;
    int policy;
    JsonNode *host_nodes;
    VMRam *ram;
} VMMemoryBackendPrivate;

GType vm_host_mem_policy_get_type(void);

/* QEMU's HostMemPolicy; only "default" is carried out. */
GType vm_host_mem_policy_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        { 0, "VM_HOST_MEM_POLICY_DEFAULT", "default" },
        { 1, "VM_HOST_MEM_POLICY_PREFERRED", "preferred" },
        { 2, "VM_HOST_MEM_POLICY_BIND", "bind" },
        { 3, "VM_HOST_MEM_POLICY_INTERLEAVE", "interleave" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type,
                          g_enum_register_static("VMHostMemPolicy", values));
    }
    return type;
}

static void vm_memory_backend_initable_init(GInitableIface *iface);

G_DEFINE_ABSTRACT_TYPE_WITH_CODE(
    VMMemoryBackend, vm_memory_backend, G_TYPE_OBJECT,
    G_ADD_PRIVATE(VMMemoryBackend)
        G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE, vm_memory_backend_initable_init))

enum {
    PROP_0,
    PROP_SIZE,
    PROP_SHARE,
    PROP_DUMP,
    PROP_MERGE,
    PROP_PREALLOC,
    PROP_PREALLOC_THREADS,
    PROP_RESERVE,
    PROP_POLICY,
    PROP_HOST_NODES,
    N_PROPS,
};

static GParamSpec *props[N_PROPS];

static void mb_set_property(GObject *obj, guint id, const GValue *value,
                            GParamSpec *pspec)
{
    VMMemoryBackendPrivate *priv =
        vm_memory_backend_get_instance_private(VM_MEMORY_BACKEND(obj));

    switch (id) {
    case PROP_SIZE:
        priv->size = g_value_get_uint64(value);
        break;
    case PROP_SHARE:
        priv->share = g_value_get_boolean(value);
        break;
    case PROP_DUMP:
        priv->dump = g_value_get_boolean(value);
        break;
    case PROP_MERGE:
        priv->merge = g_value_get_boolean(value);
        break;
    case PROP_PREALLOC:
        priv->prealloc = g_value_get_boolean(value);
        break;
    case PROP_PREALLOC_THREADS:
        priv->prealloc_threads = g_value_get_uint(value);
        break;
    case PROP_RESERVE:
        priv->reserve = g_value_get_boolean(value);
        break;
    case PROP_POLICY:
        priv->policy = g_value_get_enum(value);
        break;
    case PROP_HOST_NODES:
        g_clear_pointer(&priv->host_nodes, json_node_unref);
        priv->host_nodes = g_value_dup_boxed(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void mb_get_property(GObject *obj, guint id, GValue *value,
                            GParamSpec *pspec)
{
    VMMemoryBackendPrivate *priv =
        vm_memory_backend_get_instance_private(VM_MEMORY_BACKEND(obj));

    switch (id) {
    case PROP_SIZE:
        g_value_set_uint64(value, priv->size);
        break;
    case PROP_SHARE:
        g_value_set_boolean(value, priv->share);
        break;
    case PROP_DUMP:
        g_value_set_boolean(value, priv->dump);
        break;
    case PROP_MERGE:
        g_value_set_boolean(value, priv->merge);
        break;
    case PROP_PREALLOC:
        g_value_set_boolean(value, priv->prealloc);
        break;
    case PROP_PREALLOC_THREADS:
        g_value_set_uint(value, priv->prealloc_threads);
        break;
    case PROP_RESERVE:
        g_value_set_boolean(value, priv->reserve);
        break;
    case PROP_POLICY:
        g_value_set_enum(value, priv->policy);
        break;
    case PROP_HOST_NODES:
        g_value_set_boxed(value, priv->host_nodes);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void mb_finalize(GObject *obj)
{
    VMMemoryBackendPrivate *priv =
        vm_memory_backend_get_instance_private(VM_MEMORY_BACKEND(obj));

    vm_ram_free(priv->ram);
    g_clear_pointer(&priv->host_nodes, json_node_unref);
    G_OBJECT_CLASS(vm_memory_backend_parent_class)->finalize(obj);
}

static gboolean mb_init(GInitable *initable, GCancellable *cancellable,
                        GError **errp)
{
    VMMemoryBackend *mb = VM_MEMORY_BACKEND(initable);
    VMMemoryBackendPrivate *priv = vm_memory_backend_get_instance_private(mb);

    if (priv->ram) {
        return TRUE;
    }
    if (!priv->size) {
        g_set_error(errp, VM_ERROR, VM_ERROR_MISSING_ARGUMENT,
                    "Parameter 'size' is missing (a memory backend needs a "
                    "size above 0)");
        return FALSE;
    }
    if (priv->policy != 0) {
        GEnumClass *ec = g_type_class_ref(vm_host_mem_policy_get_type());
        GEnumValue *v = g_enum_get_value(ec, priv->policy);

        g_set_error(errp, VM_ERROR, VM_ERROR_NOT_SUPPORTED,
                    "policy=%s not supported: qio-vm does not place memory "
                    "on host NUMA nodes",
                    v ? v->value_nick : "?");
        g_type_class_unref(ec);
        return FALSE;
    }
    if (priv->host_nodes &&
        !(JSON_NODE_HOLDS_ARRAY(priv->host_nodes) &&
          json_array_get_length(json_node_get_array(priv->host_nodes)) == 0)) {
        g_set_error(errp, VM_ERROR, VM_ERROR_NOT_SUPPORTED,
                    "host-nodes not supported: qio-vm does not place memory "
                    "on host NUMA nodes");
        return FALSE;
    }
    {
        VMRamOptions opts = {
            .share = priv->share,
            .noreserve = !priv->reserve,
            .dontdump = !priv->dump,
            .mergeable = priv->merge,
            .prealloc = priv->prealloc,
        };

        priv->ram =
            VM_MEMORY_BACKEND_GET_CLASS(mb)->alloc(mb, priv->size, &opts, errp);
    }
    return priv->ram != NULL;
}

static void vm_memory_backend_initable_init(GInitableIface *iface)
{
    iface->init = mb_init;
}

static void vm_memory_backend_class_init(VMMemoryBackendClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->set_property = mb_set_property;
    oc->get_property = mb_get_property;
    oc->finalize = mb_finalize;
    props[PROP_SIZE] = qom_param_spec_mark_size(g_param_spec_uint64(
        "size", "Size", "size of the memory region in bytes", 0, G_MAXUINT64, 0,
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
    props[PROP_SHARE] = g_param_spec_boolean(
        "share", "Share",
        "map the memory shared (MAP_SHARED), so that writes reach the file "
        "and other processes",
        FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    props[PROP_DUMP] =
        g_param_spec_boolean("dump", "Dump", "include the memory in core dumps",
                             TRUE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    props[PROP_MERGE] = g_param_spec_boolean(
        "merge", "Merge", "let the kernel merge identical pages (KSM)", TRUE,
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    props[PROP_PREALLOC] =
        g_param_spec_boolean("prealloc", "Preallocate",
                             "touch every page when the backend is created",
                             FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    props[PROP_PREALLOC_THREADS] =
        g_param_spec_uint("prealloc-threads", "Preallocation threads",
                          "accepted; preallocation runs on one thread", 1, 256,
                          1, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    props[PROP_RESERVE] = g_param_spec_boolean(
        "reserve", "Reserve",
        "reserve swap space for the memory (off: MAP_NORESERVE)", TRUE,
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    props[PROP_POLICY] = g_param_spec_enum(
        "policy", "Policy", "host NUMA policy; only 'default' is supported",
        vm_host_mem_policy_get_type(), 0,
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    props[PROP_HOST_NODES] = g_param_spec_boxed(
        "host-nodes", "Host nodes",
        "host NUMA nodes; only an empty list is supported", JSON_TYPE_NODE,
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, props);
}

static void vm_memory_backend_init(VMMemoryBackend *mb)
{
    VMMemoryBackendPrivate *priv = vm_memory_backend_get_instance_private(mb);

    priv->dump = true;
    priv->merge = true;
    priv->reserve = true;
    priv->prealloc_threads = 1;
}

VMRam *vm_memory_backend_get_ram(VMMemoryBackend *mb)
{
    VMMemoryBackendPrivate *priv = vm_memory_backend_get_instance_private(mb);

    return priv->ram;
}

/* ---- memory-backend-ram ----------------------------------------------- */

struct _VMMemoryBackendRam {
    VMMemoryBackend parent;
};

G_DEFINE_TYPE(VMMemoryBackendRam, vm_memory_backend_ram, VM_TYPE_MEMORY_BACKEND)

static VMRam *ram_alloc(VMMemoryBackend *mb, uint64_t size,
                        const VMRamOptions *opts, GError **errp)
{
    return vm_ram_new(NULL, size, opts, errp);
}

static void vm_memory_backend_ram_class_init(VMMemoryBackendRamClass *klass)
{
    VM_MEMORY_BACKEND_CLASS(klass)->alloc = ram_alloc;
}

static void vm_memory_backend_ram_init(VMMemoryBackendRam *mb)
{
}

/* ---- memory-backend-file ---------------------------------------------- */

struct _VMMemoryBackendFile {
    VMMemoryBackend parent;
    char *mem_path;
    uint64_t align;
    bool discard_data;
    bool pmem;
    bool readonly;
};

G_DEFINE_TYPE(VMMemoryBackendFile, vm_memory_backend_file,
              VM_TYPE_MEMORY_BACKEND)

enum {
    FILE_PROP_0,
    FILE_PROP_MEM_PATH,
    FILE_PROP_ALIGN,
    FILE_PROP_DISCARD_DATA,
    FILE_PROP_PMEM,
    FILE_PROP_READONLY,
};

static void file_set_property(GObject *obj, guint id, const GValue *value,
                              GParamSpec *pspec)
{
    VMMemoryBackendFile *mb = VM_MEMORY_BACKEND_FILE(obj);

    switch (id) {
    case FILE_PROP_MEM_PATH:
        g_free(mb->mem_path);
        mb->mem_path = g_value_dup_string(value);
        break;
    case FILE_PROP_ALIGN:
        mb->align = g_value_get_uint64(value);
        break;
    case FILE_PROP_DISCARD_DATA:
        mb->discard_data = g_value_get_boolean(value);
        break;
    case FILE_PROP_PMEM:
        mb->pmem = g_value_get_boolean(value);
        break;
    case FILE_PROP_READONLY:
        mb->readonly = g_value_get_boolean(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void file_get_property(GObject *obj, guint id, GValue *value,
                              GParamSpec *pspec)
{
    VMMemoryBackendFile *mb = VM_MEMORY_BACKEND_FILE(obj);

    switch (id) {
    case FILE_PROP_MEM_PATH:
        g_value_set_string(value, mb->mem_path);
        break;
    case FILE_PROP_ALIGN:
        g_value_set_uint64(value, mb->align);
        break;
    case FILE_PROP_DISCARD_DATA:
        g_value_set_boolean(value, mb->discard_data);
        break;
    case FILE_PROP_PMEM:
        g_value_set_boolean(value, mb->pmem);
        break;
    case FILE_PROP_READONLY:
        g_value_set_boolean(value, mb->readonly);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void file_finalize(GObject *obj)
{
    g_free(VM_MEMORY_BACKEND_FILE(obj)->mem_path);
    G_OBJECT_CLASS(vm_memory_backend_file_parent_class)->finalize(obj);
}

static VMRam *file_alloc(VMMemoryBackend *mb, uint64_t size,
                         const VMRamOptions *opts, GError **errp)
{
    VMMemoryBackendFile *f = VM_MEMORY_BACKEND_FILE(mb);
    VMRamOptions fopts = *opts;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

    if (!f->mem_path || !*f->mem_path) {
        g_set_error(errp, VM_ERROR, VM_ERROR_MISSING_ARGUMENT,
                    "Parameter 'mem-path' is missing");
        return NULL;
    }
    if (f->pmem) {
        g_set_error(errp, VM_ERROR, VM_ERROR_NOT_SUPPORTED,
                    "pmem=on not supported: qio-vm does not map persistent "
                    "memory");
        return NULL;
    }
    /* Mappings are page-aligned; a larger alignment would need more. */
    if (f->align && ((f->align & (f->align - 1)) || f->align > page)) {
        g_set_error(errp, VM_ERROR, VM_ERROR_NOT_SUPPORTED,
                    "align=%" G_GUINT64_FORMAT " not supported: give a power "
                    "of two up to the page size (%" G_GUINT64_FORMAT ")",
                    f->align, page);
        return NULL;
    }
    fopts.readonly = f->readonly;
    fopts.discard = f->discard_data;
    return vm_ram_new(f->mem_path, size, &fopts, errp);
}

static void vm_memory_backend_file_class_init(VMMemoryBackendFileClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->set_property = file_set_property;
    oc->get_property = file_get_property;
    oc->finalize = file_finalize;
    VM_MEMORY_BACKEND_CLASS(klass)->alloc = file_alloc;
    g_object_class_install_property(
        oc, FILE_PROP_MEM_PATH,
        g_param_spec_string("mem-path", "Memory path",
                            "file to map, or directory to make it in", NULL,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
    g_object_class_install_property(
        oc, FILE_PROP_ALIGN,
        qom_param_spec_mark_size(g_param_spec_uint64(
            "align", "Alignment",
            "alignment of the mapping; at most the page size", 0, G_MAXUINT64,
            0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
    g_object_class_install_property(
        oc, FILE_PROP_DISCARD_DATA,
        g_param_spec_boolean("discard-data", "Discard data",
                             "release the file's blocks when the backend "
                             "goes away (share=on)",
                             FALSE,
                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
    g_object_class_install_property(
        oc, FILE_PROP_PMEM,
        g_param_spec_boolean("pmem", "Persistent memory",
                             "the file is persistent memory (not supported)",
                             FALSE,
                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
    g_object_class_install_property(
        oc, FILE_PROP_READONLY,
        g_param_spec_boolean("readonly", "Read-only",
                             "open and map the file read-only", FALSE,
                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
}

static void vm_memory_backend_file_init(VMMemoryBackendFile *mb)
{
}

void vm_memory_backend_register_types(void)
{
    qom_type_register("memory-backend", VM_TYPE_MEMORY_BACKEND);
    qom_type_set_description(VM_TYPE_MEMORY_BACKEND, "a memory backend");
    qom_type_register("memory-backend-ram", VM_TYPE_MEMORY_BACKEND_RAM);
    qom_type_register("memory-backend-file", VM_TYPE_MEMORY_BACKEND_FILE);
}
