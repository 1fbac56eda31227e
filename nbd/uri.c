/*
 * NBD URI parser (see include/nbd/uri.h).  The grammar is small enough to
 * take apart by hand: scheme "://" [user "@"] [host [":" port]] "/" export
 * ["?" query].  Each part is checked on its own so that the error can say
 * which one is wrong, and nothing from the URI reaches the socket layer
 * without having been decoded and validated here.
 */
#include "nbd/uri.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "qom/object.h"
#include "io/error.h"

static const struct {
    const char *prefix;
    bool tls;
    bool is_unix;
} schemes[] = {
    { "nbd://", false, false },
    { "nbds://", true, false },
    { "nbd+unix://", false, true },
    { "nbds+unix://", true, true },
};

bool nbd_uri_has_scheme(const char *str)
{
    for (size_t i = 0; i < G_N_ELEMENTS(schemes); i++) {
        if (g_str_has_prefix(str, schemes[i].prefix)) {
            return true;
        }
    }
    return false;
}

void nbd_uri_free(NBDUri *uri)
{
    if (!uri) {
        return;
    }
    qio_socket_address_free(uri->addr);
    g_free(uri->export_name);
    g_free(uri->username);
    g_free(uri->tls_certificates);
    g_free(uri->tls_psk_file);
    g_free(uri);
}

/*
 * Percent-decode @len bytes of @s.  A NUL byte, a bad escape or a result
 * that is not UTF-8 is refused: export names go on the wire as UTF-8.
 */
static char *uri_decode(const char *uri, const char *what, const char *s,
                        size_t len, GError **errp)
{
    g_autoptr(GString) out = g_string_sized_new(len);

    for (size_t i = 0; i < len; i++) {
        int hi, lo;

        if (s[i] != '%') {
            g_string_append_c(out, s[i]);
            continue;
        }
        hi = i + 1 < len ? g_ascii_xdigit_value(s[i + 1]) : -1;
        lo = i + 2 < len ? g_ascii_xdigit_value(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': bad percent escape in the %s "
                        "(expected %%XX with two hex digits)",
                        uri, what);
            return NULL;
        }
        if (hi == 0 && lo == 0) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': the %s contains %%00", uri, what);
            return NULL;
        }
        g_string_append_c(out, (char)(hi * 16 + lo));
        i += 2;
    }
    if (!g_utf8_validate(out->str, out->len, NULL)) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "NBD URI '%s': the %s is not valid UTF-8 once decoded", uri,
                    what);
        return NULL;
    }
    return g_string_free(g_steal_pointer(&out), false);
}

static bool parse_bool(const char *uri, const char *key, const char *value,
                       bool *out, GError **errp)
{
    if (!strcmp(value, "true") || !strcmp(value, "on") ||
        !strcmp(value, "yes") || !strcmp(value, "1")) {
        *out = true;
        return true;
    }
    if (!strcmp(value, "false") || !strcmp(value, "off") ||
        !strcmp(value, "no") || !strcmp(value, "0")) {
        *out = false;
        return true;
    }
    g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                "NBD URI '%s': query parameter %s=%s is not true or false", uri,
                key, value);
    return false;
}

/* The query: '&'-separated key=value pairs, each known key at most once. */
static bool parse_query(const char *uri, const char *query, NBDUri *out,
                        char **socket_path, GError **errp)
{
    g_auto(GStrv) pairs = g_strsplit(query, "&", -1);
    bool seen_verify = false;

    for (char **p = pairs; *p; p++) {
        const char *eq = strchr(*p, '=');
        g_autofree char *key = NULL;
        g_autofree char *value = NULL;
        char **slot = NULL;

        if (!**p) {
            continue;
        }
        if (!eq) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': query parameter '%s' has no '=VALUE'",
                        uri, *p);
            return false;
        }
        key = uri_decode(uri, "query parameter name", *p, eq - *p, errp);
        if (!key) {
            return false;
        }
        value = uri_decode(uri, "query parameter value", eq + 1, strlen(eq + 1),
                           errp);
        if (!value) {
            return false;
        }
        if (!strcmp(key, "socket")) {
            slot = socket_path;
        } else if (!strcmp(key, "tls-certificates")) {
            slot = &out->tls_certificates;
        } else if (!strcmp(key, "tls-psk-file")) {
            slot = &out->tls_psk_file;
        } else if (!strcmp(key, "tls-verify-peer")) {
            if (seen_verify) {
                g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                            "NBD URI '%s': query parameter '%s' is given "
                            "twice",
                            uri, key);
                return false;
            }
            seen_verify = true;
            if (!parse_bool(uri, key, value, &out->tls_verify_peer, errp)) {
                return false;
            }
            continue;
        } else {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': unknown query parameter '%s' "
                        "(known: socket, tls-certificates, tls-psk-file, "
                        "tls-verify-peer)",
                        uri, key);
            return false;
        }
        if (*slot) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': query parameter '%s' is given twice",
                        uri, key);
            return false;
        }
        if (!*value) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': query parameter '%s' is empty", uri,
                        key);
            return false;
        }
        *slot = g_steal_pointer(&value);
    }
    return true;
}

/* HOST[:PORT], HOST being a name, an IPv4 address or [IPv6]. */
static bool parse_host_port(const char *uri, const char *s, size_t len,
                            char **host, char **port, GError **errp)
{
    const char *colon;
    const char *end = s + len;

    if (len && s[0] == '[') {
        const char *close = memchr(s, ']', len);

        if (!close) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': IPv6 host has no closing ']'", uri);
            return false;
        }
        *host = g_strndup(s + 1, close - s - 1);
        if (!**host ||
            strspn(*host, "0123456789abcdefABCDEF:.") != strlen(*host) ||
            !strchr(*host, ':')) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': '[%s]' is not an IPv6 address", uri,
                        *host);
            return false;
        }
        colon = close + 1 < end ? close + 1 : NULL;
        if (colon && *colon != ':') {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': unexpected text after the IPv6 host "
                        "(expected ':PORT')",
                        uri);
            return false;
        }
    } else {
        colon = memchr(s, ':', len);
        if (colon && memchr(colon + 1, ':', end - colon - 1)) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': host has more than one ':' (put an "
                        "IPv6 address in brackets: [::1])",
                        uri);
            return false;
        }
        *host = g_strndup(s, colon ? (size_t)(colon - s) : len);
        if (!**host) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': no host (nbd://HOST[:PORT]/EXPORT; "
                        "for a UNIX socket use nbd+unix:///EXPORT?socket="
                        "PATH)",
                        uri);
            return false;
        }
        for (const char *c = *host; *c; c++) {
            if (!g_ascii_isalnum(*c) && *c != '-' && *c != '.' && *c != '_') {
                g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                            "NBD URI '%s': invalid character '%c' in host "
                            "'%s'",
                            uri, *c, *host);
                return false;
            }
        }
    }
    if (!colon) {
        *port = g_strdup(NBD_URI_DEFAULT_PORT);
        return true;
    }
    *port = g_strndup(colon + 1, end - colon - 1);
    {
        char *endp = NULL;
        unsigned long v;

        errno = 0;
        v = **port ? strtoul(*port, &endp, 10) : 0;
        if (!**port || !g_ascii_isdigit(**port) || errno || *endp || v == 0 ||
            v > 65535) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': port '%s' is not a number from 1 to "
                        "65535",
                        uri, *port);
            return false;
        }
    }
    return true;
}

NBDUri *nbd_uri_parse(const char *str, GError **errp)
{
    g_autoptr(NBDUri) out = g_new0(NBDUri, 1);
    g_autofree char *socket_path = NULL;
    g_autofree char *host = NULL;
    g_autofree char *port = NULL;
    const char *p, *auth_end, *at, *path, *query;
    bool is_unix = false;
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(schemes); i++) {
        if (g_str_has_prefix(str, schemes[i].prefix)) {
            break;
        }
    }
    if (i == G_N_ELEMENTS(schemes)) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "NBD URI '%s': unknown scheme (use nbd://, nbds://, "
                    "nbd+unix:// or nbds+unix://)",
                    str);
        return NULL;
    }
    out->tls = schemes[i].tls;
    out->tls_verify_peer = true;
    is_unix = schemes[i].is_unix;
    p = str + strlen(schemes[i].prefix);

    if (strchr(p, '#')) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "NBD URI '%s': a fragment ('#') is not allowed", str);
        return NULL;
    }
    auth_end = p + strcspn(p, "/?");
    query = strchr(p, '?');
    path = *auth_end == '/' ? auth_end : NULL;

    /* Authority: [user@][host[:port]] */
    at = memchr(p, '@', auth_end - p);
    if (at) {
        if (memchr(p, ':', at - p)) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': a password in the user part is not "
                        "supported (use tls-psk-file=FILE)",
                        str);
            return NULL;
        }
        if (at == p) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': empty user before '@'", str);
            return NULL;
        }
        out->username = uri_decode(str, "user", p, at - p, errp);
        if (!out->username) {
            return NULL;
        }
        p = at + 1;
    }
    if (is_unix) {
        if (p != auth_end) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': a UNIX socket URI has no host "
                        "(nbd+unix:///EXPORT?socket=PATH)",
                        str);
            return NULL;
        }
    } else if (!parse_host_port(str, p, auth_end - p, &host, &port, errp)) {
        return NULL;
    }

    /* Path: "/" EXPORT, up to the query. */
    if (path) {
        const char *pend = query ? query : path + strlen(path);

        out->export_name =
            uri_decode(str, "export name", path + 1, pend - path - 1, errp);
        if (!out->export_name) {
            return NULL;
        }
    } else {
        out->export_name = g_strdup("");
    }
    if (strlen(out->export_name) > 4096) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "NBD URI '%s': export name is longer than 4096 bytes", str);
        return NULL;
    }

    if (query && !parse_query(str, query + 1, out, &socket_path, errp)) {
        return NULL;
    }
    if (out->username && !out->tls) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "NBD URI '%s': a user is only meaningful with TLS "
                    "(nbds:// or nbds+unix://)",
                    str);
        return NULL;
    }
    if (!out->tls && (out->tls_certificates || out->tls_psk_file)) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "NBD URI '%s': TLS parameters on a plain scheme; use "
                    "nbds:// or nbds+unix:// to require TLS",
                    str);
        return NULL;
    }
    if (out->tls_certificates && out->tls_psk_file) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "NBD URI '%s': tls-certificates and tls-psk-file "
                    "cannot both be given",
                    str);
        return NULL;
    }
    if (is_unix) {
        if (!socket_path) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': missing query parameter socket=PATH",
                        str);
            return NULL;
        }
        if (strlen(socket_path) > QIO_SOCKET_ADDRESS_UNIX_PATH_MAX) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': socket path is longer than %d bytes",
                        str, QIO_SOCKET_ADDRESS_UNIX_PATH_MAX);
            return NULL;
        }
        out->addr = qio_socket_address_new_unix(socket_path, false);
    } else {
        if (socket_path) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                        "NBD URI '%s': query parameter socket= needs the "
                        "nbd+unix:// or nbds+unix:// scheme",
                        str);
            return NULL;
        }
        out->addr = qio_socket_address_new_inet(host, port);
    }
    return g_steal_pointer(&out);
}

/* A private directory holding keys.psk as a link to @file. */
static char *psk_link_dir(const char *file, GError **errp)
{
    g_autofree char *abs = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *link = NULL;

    if (!g_file_test(file, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_NOT_FOUND,
                    "tls-psk-file '%s' is not a readable file", file);
        return NULL;
    }
    abs = g_canonicalize_filename(file, NULL);
    dir = g_dir_make_tmp("qio-nbd-psk.XXXXXX", NULL);
    if (!dir) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED,
                    "cannot make a temporary directory for tls-psk-file "
                    "'%s': %s",
                    file, g_strerror(errno));
        return NULL;
    }
    link = g_build_filename(dir, "keys.psk", NULL);
    if (symlink(abs, link) < 0) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED,
                    "cannot link tls-psk-file '%s' into %s: %s", file, dir,
                    g_strerror(errno));
        g_rmdir(dir);
        return NULL;
    }
    return g_steal_pointer(&dir);
}

QCryptoTLSCreds *nbd_uri_make_tls_creds(const NBDUri *uri, const char *id,
                                        GError **errp)
{
    GObject *obj;
    const char *verify = uri->tls_verify_peer ? "on" : "off";

    if (uri->tls_certificates) {
        obj = qom_object_add_props("tls-creds-x509", id, errp, "endpoint",
                                   "client", "dir", uri->tls_certificates,
                                   "verify-peer", verify, NULL);
    } else if (uri->tls_psk_file) {
        g_autofree char *base = g_path_get_basename(uri->tls_psk_file);
        g_autofree char *dir = NULL;
        g_autofree char *tmp = NULL;
        const char *user = uri->username ? uri->username : g_get_user_name();

        if (!strcmp(base, "keys.psk")) {
            dir = g_path_get_dirname(uri->tls_psk_file);
        } else {
            tmp = psk_link_dir(uri->tls_psk_file, errp);
            if (!tmp) {
                return NULL;
            }
            dir = g_strdup(tmp);
        }
        obj =
            qom_object_add_props("tls-creds-psk", id, errp, "endpoint",
                                 "client", "dir", dir, "username", user, NULL);
        if (tmp) {
            g_autofree char *link = g_build_filename(tmp, "keys.psk", NULL);

            g_unlink(link);
            g_rmdir(tmp);
        }
    } else {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "a TLS URI needs tls-certificates=DIR or "
                    "tls-psk-file=FILE (or give --object and --tls-creds)");
        return NULL;
    }
    if (!obj) {
        return NULL;
    }
    return QCRYPTO_TLS_CREDS(g_object_ref(obj));
}
