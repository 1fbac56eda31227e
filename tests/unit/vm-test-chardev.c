/*
 * The capturing chardev backend of the vm/ tests.
 */
#include "vm-test-chardev.h"

#include <string.h>

struct _VMTestChardev {
    QIOChardev parent;
    GString *out;
    size_t room;
};

G_DEFINE_TYPE(VMTestChardev, vm_test_chardev, QIO_TYPE_CHARDEV)

static gssize test_write(QIOChardev *chr, const uint8_t *buf, size_t len,
                         GError **errp)
{
    VMTestChardev *t = VM_TEST_CHARDEV(chr);
    size_t n = MIN(len, t->room);

    g_string_append_len(t->out, (const char *)buf, n);
    t->room -= n;
    return n;
}

static void test_finalize(GObject *obj)
{
    g_string_free(VM_TEST_CHARDEV(obj)->out, TRUE);
    G_OBJECT_CLASS(vm_test_chardev_parent_class)->finalize(obj);
}

static void vm_test_chardev_class_init(VMTestChardevClass *klass)
{
    QIOChardevClass *chr_klass = QIO_CHARDEV_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = test_finalize;
    chr_klass->backend_name = "test";
    chr_klass->chr_write = test_write;
}

static void vm_test_chardev_init(VMTestChardev *t)
{
    t->out = g_string_new(NULL);
    t->room = G_MAXSIZE;
}

QIOChardev *vm_test_chardev_new(const char *id)
{
    QIOChardev *chr = g_object_new(VM_TYPE_TEST_CHARDEV, NULL);

    g_assert(qio_chardev_register(chr, id, NULL));
    g_object_unref(chr);
    return chr;
}

GString *vm_test_chardev_output(QIOChardev *chr)
{
    return VM_TEST_CHARDEV(chr)->out;
}

void vm_test_chardev_set_room(QIOChardev *chr, size_t room)
{
    bool more = room > VM_TEST_CHARDEV(chr)->room;

    VM_TEST_CHARDEV(chr)->room = room;
    if (more) {
        qio_chardev_be_writable(chr);
    }
}

size_t vm_test_chardev_type(QIOChardev *chr, const char *s)
{
    size_t len = strlen(s), done = 0;

    while (done < len) {
        size_t n = MIN(qio_chardev_be_can_read(chr), len - done);

        if (!n) {
            break;
        }
        qio_chardev_be_read(chr, (const uint8_t *)s + done, n);
        done += n;
    }
    return done;
}
