/*
 * authz-listfile (see include/authz/listfile.h): authz-list rules read
 * from a JSON file, re-read when the file changes.
 *
 * Change detection is a stat() at each check, compared with the stamp
 * (device, inode, size, mtime, ctime) of the version loaded last, rather
 * than an inotify or GFileMonitor watch: a watch needs a main loop or a
 * thread, can overflow or miss a rename over the watched path, and still
 * leaves a window where a check runs before the event arrives.  A stat
 * per check is cheap next to a TLS handshake and is never stale.
 *
 * The rule set is swapped whole under a mutex; a check takes a reference
 * to the current set and matches without the lock.  A version of the file
 * that cannot be used is remembered by its stamp, so it is reported once,
 * not at every check.  Two writes in one timestamp tick that keep the
 * size would leave the stamp unchanged, so a version read while still
 * fresh is also compared by content until it is a few seconds old.
 */
#include "authz/listfile.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "authz/list.h"

/* Rules files larger than this are refused. */
#define RULES_FILE_MAX (16 * 1024 * 1024)

/* Which version of the file was loaded (or refused) last. */
typedef struct {
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
    /*
     * Not compared by stamp_equal(): whether the file was changed so
     * recently when read that a later write in the same timestamp tick,
     * of the same size, would leave every field above equal; and the
     * SHA-256 of what was read, to tell such a write apart.
     */
    bool racy;
    guint8 digest[32];
} FileStamp;

/*
 * A version whose mtime or ctime is this close to the time it was read
 * is checked by content too: file timestamps come from a coarse clock.
 */
#define RACY_WINDOW_S 2

struct _QAuthZListFile {
    QAuthZ parent;
    char *filename;
    gboolean refresh;

    /* The absolute path, used for I/O and in messages; set by init. */
    char *path;
    GMutex lock;
    /* Protected by lock: */
    QAuthZListRules *rules;
    FileStamp stamp;
};

enum {
    PROP_0,
    PROP_FILENAME,
    PROP_REFRESH,
    N_PROPS,
};

static void qauthz_list_file_initable_iface_init(GInitableIface *iface);

G_DEFINE_TYPE_WITH_CODE(
    QAuthZListFile, qauthz_list_file, QAUTHZ_TYPE_AUTHZ,
    G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE,
                          qauthz_list_file_initable_iface_init))

static void stamp_from_stat(FileStamp *stamp, const struct stat *st)
{
    stamp->exists = true;
    stamp->dev = st->st_dev;
    stamp->ino = st->st_ino;
    stamp->size = st->st_size;
    stamp->mtime = st->st_mtim;
    stamp->ctime = st->st_ctim;
}

static bool stamp_equal(const FileStamp *a, const FileStamp *b)
{
    if (a->exists != b->exists) {
        return false;
    }
    if (!a->exists) {
        return true;
    }
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec &&
           a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Read the whole file; *@stamp describes the version read. */
static char *read_rules_file(const char *path, size_t *len, FileStamp *stamp,
                             GError **errp)
{
    struct stat st;
    char *buf;
    size_t got = 0;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_FILE, "cannot open %s: %s",
                    path, g_strerror(err));
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        int err = errno;
        close(fd);
        g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_FILE, "cannot stat %s: %s",
                    path, g_strerror(err));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_FILE,
                    "%s is not a regular file", path);
        return NULL;
    }
    if (st.st_size > RULES_FILE_MAX) {
        close(fd);
        g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_FILE,
                    "%s is larger than the %d-byte limit for rules files", path,
                    RULES_FILE_MAX);
        return NULL;
    }
    stamp_from_stat(stamp, &st);
    {
        struct timespec now;

        clock_gettime(CLOCK_REALTIME, &now);
        stamp->racy = st.st_mtim.tv_sec >= now.tv_sec - RACY_WINDOW_S ||
                      st.st_ctim.tv_sec >= now.tv_sec - RACY_WINDOW_S;
    }
    /* One byte more than the size, to notice a file that grew. */
    buf = g_malloc((size_t)st.st_size + 2);
    while (got < (size_t)st.st_size + 1) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int err = errno;
            close(fd);
            g_free(buf);
            g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_FILE,
                        "cannot read %s: %s", path, g_strerror(err));
            return NULL;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (got != (size_t)st.st_size) {
        g_free(buf);
        g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_FILE,
                    "%s changed while it was being read; try again", path);
        return NULL;
    }
    buf[got] = '\0';
    *len = got;
    {
        g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
        gsize dlen = sizeof(stamp->digest);

        g_checksum_update(sum, (const guchar *)buf, (gssize)got);
        g_checksum_get_digest(sum, stamp->digest, &dlen);
    }
    return buf;
}

/* Read and parse the rules file; *@stamp is set even on parse errors. */
static QAuthZListRules *load_rules(const char *path, FileStamp *stamp,
                                   GError **errp)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) local = NULL;
    g_autofree char *text = NULL;
    QAuthZListRules *rules;
    size_t len = 0;

    text = read_rules_file(path, &len, stamp, errp);
    if (!text) {
        return NULL;
    }
    if (!json_parser_load_from_data(parser, text, (gssize)len, &local)) {
        /* json-glib calls the buffer "<data>": put the path there. */
        const char *msg = local->message;
        if (g_str_has_prefix(msg, "<data>:")) {
            g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_PARSE, "%s:%s", path,
                        msg + strlen("<data>:"));
        } else {
            g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_PARSE,
                        "%s: invalid JSON: %s", path, msg);
        }
        return NULL;
    }
    rules = qauthz_list_rules_from_document(json_parser_get_root(parser), errp);
    if (!rules) {
        g_prefix_error(errp, "%s: ", path);
    }
    return rules;
}

/* Caller holds the lock. */
static bool reload_locked(QAuthZListFile *authz, GError **errp)
{
    FileStamp stamp = { 0 };
    QAuthZListRules *rules = load_rules(authz->path, &stamp, errp);

    if (stamp.exists) {
        /* Good or bad, this version has been dealt with. */
        authz->stamp = stamp;
    }
    if (!rules) {
        return false;
    }
    qauthz_list_rules_unref(authz->rules);
    authz->rules = rules;
    g_debug("authz-listfile '%s': loaded %u rules from %s",
            qauthz_get_name(QAUTHZ_AUTHZ(authz)),
            qauthz_list_rules_get_length(rules), authz->path);
    return true;
}

bool qauthz_list_file_reload(QAuthZListFile *authz, GError **errp)
{
    bool ok;

    g_return_val_if_fail(QAUTHZ_IS_LIST_FILE(authz), false);
    g_return_val_if_fail(authz->path != NULL, false);

    g_mutex_lock(&authz->lock);
    ok = reload_locked(authz, errp);
    g_mutex_unlock(&authz->lock);
    if (!ok) {
        g_prefix_error(errp, "authz-listfile '%s' keeps its previous rules: ",
                       qauthz_get_name(QAUTHZ_AUTHZ(authz)));
    }
    return ok;
}

/*
 * Caller holds the lock.  For a racy stamp (see FileStamp): whether the
 * file now holds other bytes than the version dealt with last.  When it
 * does not, the stamp is renewed, so that it stops being racy once the
 * file is old enough.  Read errors are left to the reload that follows.
 */
static bool racy_content_changed(QAuthZListFile *authz)
{
    FileStamp again = { 0 };
    g_autofree char *text = NULL;
    size_t len = 0;

    text = read_rules_file(authz->path, &len, &again, NULL);
    if (!text) {
        return true;
    }
    if (!stamp_equal(&again, &authz->stamp) ||
        memcmp(again.digest, authz->stamp.digest, sizeof(again.digest))) {
        return true;
    }
    authz->stamp = again;
    return false;
}

/* Caller holds the lock: reload when the file is not the one loaded. */
static void refresh_locked(QAuthZListFile *authz)
{
    const char *name = qauthz_get_name(QAUTHZ_AUTHZ(authz));
    FileStamp now = { 0 };
    struct stat st;
    g_autoptr(GError) err = NULL;

    if (stat(authz->path, &st) == 0) {
        stamp_from_stat(&now, &st);
    } else if (authz->stamp.exists) {
        int e = errno;
        /* Gone or unreadable: say so once and keep what we have. */
        g_warning("authz-listfile '%s': cannot stat %s: %s; keeping the "
                  "previous rules",
                  name, authz->path, g_strerror(e));
    }
    if (stamp_equal(&now, &authz->stamp) &&
        (!authz->stamp.racy || !racy_content_changed(authz))) {
        return;
    }
    if (!now.exists) {
        authz->stamp = now;
        return;
    }
    if (!reload_locked(authz, &err)) {
        g_warning("authz-listfile '%s': %s; keeping the previous rules", name,
                  err->message);
        if (!stamp_equal(&now, &authz->stamp)) {
            /* Not even read: remember the stat() so we warn only once. */
            authz->stamp = now;
        }
    }
}

static bool qauthz_list_file_is_allowed(QAuthZ *base, const char *identity,
                                        GError **errp)
{
    QAuthZListFile *authz = QAUTHZ_LIST_FILE(base);
    g_autoptr(QAuthZListRules) rules = NULL;
    QAuthZListPolicy policy;
    int matched;

    g_mutex_lock(&authz->lock);
    if (authz->refresh) {
        refresh_locked(authz);
    }
    rules = qauthz_list_rules_ref(authz->rules);
    g_mutex_unlock(&authz->lock);

    policy = qauthz_list_rules_check(rules, identity, &matched);
    if (matched >= 0) {
        g_debug("authz-listfile '%s': '%s' matches rule %d of %s",
                qauthz_get_name(base), identity, matched, authz->path);
    } else {
        g_debug("authz-listfile '%s': no rule of %s matches '%s', default "
                "policy",
                qauthz_get_name(base), authz->path, identity);
    }
    return policy == QAUTHZ_LIST_POLICY_ALLOW;
}

static gboolean qauthz_list_file_initable_init(GInitable *initable,
                                               GCancellable *cancellable,
                                               GError **errp)
{
    QAuthZListFile *authz = QAUTHZ_LIST_FILE(initable);
    bool ok;

    if (authz->rules) {
        return TRUE;
    }
    if (!authz->filename || !*authz->filename) {
        g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_INVALID_ARGUMENT,
                    "'filename' is not set; give the JSON rules file");
        return FALSE;
    }
    /* Absolute, so a later chdir() cannot point refreshes elsewhere. */
    authz->path = g_canonicalize_filename(authz->filename, NULL);
    g_mutex_lock(&authz->lock);
    ok = reload_locked(authz, errp);
    g_mutex_unlock(&authz->lock);
    return ok;
}

static void qauthz_list_file_initable_iface_init(GInitableIface *iface)
{
    iface->init = qauthz_list_file_initable_init;
}

static void qauthz_list_file_set_property(GObject *obj, guint prop_id,
                                          const GValue *value,
                                          GParamSpec *pspec)
{
    QAuthZListFile *authz = QAUTHZ_LIST_FILE(obj);

    switch (prop_id) {
    case PROP_FILENAME:
        g_free(authz->filename);
        authz->filename = g_value_dup_string(value);
        break;
    case PROP_REFRESH:
        authz->refresh = g_value_get_boolean(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qauthz_list_file_get_property(GObject *obj, guint prop_id,
                                          GValue *value, GParamSpec *pspec)
{
    QAuthZListFile *authz = QAUTHZ_LIST_FILE(obj);

    switch (prop_id) {
    case PROP_FILENAME:
        g_value_set_string(value, authz->filename);
        break;
    case PROP_REFRESH:
        g_value_set_boolean(value, authz->refresh);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qauthz_list_file_finalize(GObject *obj)
{
    QAuthZListFile *authz = QAUTHZ_LIST_FILE(obj);

    qauthz_list_rules_unref(authz->rules);
    g_mutex_clear(&authz->lock);
    g_free(authz->filename);
    g_free(authz->path);
    G_OBJECT_CLASS(qauthz_list_file_parent_class)->finalize(obj);
}

static void qauthz_list_file_class_init(QAuthZListFileClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    QAuthZClass *ac = QAUTHZ_AUTHZ_CLASS(klass);
    const GParamFlags flags =
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
    GParamSpec *props[N_PROPS] = { NULL };

    oc->set_property = qauthz_list_file_set_property;
    oc->get_property = qauthz_list_file_get_property;
    oc->finalize = qauthz_list_file_finalize;
    ac->is_allowed = qauthz_list_file_is_allowed;

    props[PROP_FILENAME] = g_param_spec_string(
        "filename", "File name",
        "JSON file with the policy and rules of an authz-list", NULL, flags);
    props[PROP_REFRESH] = g_param_spec_boolean(
        "refresh", "Refresh", "Re-read the file when it changes", TRUE, flags);
    g_object_class_install_properties(oc, N_PROPS, props);
}

static void qauthz_list_file_init(QAuthZListFile *authz)
{
    g_mutex_init(&authz->lock);
    authz->refresh = TRUE;
}
