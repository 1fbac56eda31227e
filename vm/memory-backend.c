/*
 * memory-backend-ram and memory-backend-file as qom objects.  The base
 * class owns the common properties and the RAM; each subclass only says
 * how to map it.
 */
#include "vm/memory-backend.h"

#include "qom/object.h"

typedef struct {
    uint64_t size;
    bool share;
    VMRam *ram;
} VMMemoryBackendPrivate;

static void vm_memory_backend_initable_init(GInitableIface *iface);

G_DEFINE_ABSTRACT_TYPE_WITH_CODE(
    VMMemoryBackend, vm_memory_backend, G_TYPE_OBJECT,
    G_ADD_PRIVATE(VMMemoryBackend)
        G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE, vm_memory_backend_initable_init))

enum {
    PROP_0,
    PROP_SIZE,
    PROP_SHARE,
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
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void mb_finalize(GObject *obj)
{
    VMMemoryBackendPrivate *priv =
        vm_memory_backend_get_instance_private(VM_MEMORY_BACKEND(obj));

    vm_ram_free(priv->ram);
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
    priv->ram = VM_MEMORY_BACKEND_GET_CLASS(mb)->alloc(mb, priv->size,
                                                       priv->share, errp);
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
    g_object_class_install_properties(oc, N_PROPS, props);
}

static void vm_memory_backend_init(VMMemoryBackend *mb)
{
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

static VMRam *ram_alloc(VMMemoryBackend *mb, uint64_t size, bool share,
                        GError **errp)
{
    return vm_ram_new_anon(size, share, errp);
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
};

G_DEFINE_TYPE(VMMemoryBackendFile, vm_memory_backend_file,
              VM_TYPE_MEMORY_BACKEND)

enum {
    FILE_PROP_0,
    FILE_PROP_MEM_PATH,
};

static void file_set_property(GObject *obj, guint id, const GValue *value,
                              GParamSpec *pspec)
{
    VMMemoryBackendFile *mb = VM_MEMORY_BACKEND_FILE(obj);

    if (id == FILE_PROP_MEM_PATH) {
        g_free(mb->mem_path);
        mb->mem_path = g_value_dup_string(value);
    } else {
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void file_get_property(GObject *obj, guint id, GValue *value,
                              GParamSpec *pspec)
{
    VMMemoryBackendFile *mb = VM_MEMORY_BACKEND_FILE(obj);

    if (id == FILE_PROP_MEM_PATH) {
        g_value_set_string(value, mb->mem_path);
    } else {
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void file_finalize(GObject *obj)
{
    g_free(VM_MEMORY_BACKEND_FILE(obj)->mem_path);
    G_OBJECT_CLASS(vm_memory_backend_file_parent_class)->finalize(obj);
}

static VMRam *file_alloc(VMMemoryBackend *mb, uint64_t size, bool share,
                         GError **errp)
{
    VMMemoryBackendFile *f = VM_MEMORY_BACKEND_FILE(mb);

    if (!f->mem_path || !*f->mem_path) {
        g_set_error(errp, VM_ERROR, VM_ERROR_MISSING_ARGUMENT,
                    "Parameter 'mem-path' is missing");
        return NULL;
    }
    return vm_ram_new_file(f->mem_path, size, share, errp);
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
