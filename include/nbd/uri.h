/*
 * NBD URIs, spelled the way libnbd and nbdcopy spell them, turned into a
 * socket address, an export name and TLS settings for nbd/client.c:
 *
 *   nbd://HOST[:PORT]/[EXPORT]              plain TCP (port 10809)
 *   nbds://[USER@]HOST[:PORT]/[EXPORT]      TLS required
 *   nbd+unix:///[EXPORT]?socket=PATH        plain UNIX socket
 *   nbds+unix://[USER@]/[EXPORT]?socket=PATH
 *
 * HOST may be an IPv6 literal in brackets ("[::1]").  The export name and
 * the query values are percent-decoded.  Query parameters understood:
 * socket=PATH, tls-certificates=DIR (a tls-creds-x509 directory),
 * tls-psk-file=FILE (a keys.psk file), tls-verify-peer=true|false.  Any
 * other parameter is an error, and so is a TLS parameter on a plain
 * scheme: a URI that asks for TLS must say so in its scheme.
 */
#pragma once

#include <stdbool.h>

#include "crypto/tls-creds.h"
#include "io/socket-address.h"

G_BEGIN_DECLS

/* The port of nbd:// and nbds:// when the URI has none. */
#define NBD_URI_DEFAULT_PORT "10809"

typedef struct {
    bool tls;               /* nbds or nbds+unix */
    QIOSocketAddress *addr; /* inet HOST:PORT or unix PATH */
    char *export_name;      /* decoded; "" for the default export */
    char *username;         /* USER@ (PSK identity), or NULL */
    char *tls_certificates; /* tls-certificates=DIR, or NULL */
    char *tls_psk_file;     /* tls-psk-file=FILE, or NULL */
    bool tls_verify_peer;   /* tls-verify-peer, default true */
} NBDUri;

/* True when @str starts with one of the NBD URI schemes above. */
bool nbd_uri_has_scheme(const char *str);

/*
 * Parse @str.  Every malformed URI is QIO_ERROR_INVALID_ARGUMENT with one
 * message that quotes the URI and names the offending part (scheme,
 * authority, host, port, user, path, query parameter, percent escape).
 */
NBDUri *nbd_uri_parse(const char *str, GError **errp);

void nbd_uri_free(NBDUri *uri);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NBDUri, nbd_uri_free)

/*
 * Client credentials for a TLS URI, from tls-certificates (tls-creds-x509,
 * dir=DIR) or tls-psk-file (tls-creds-psk with the URI's user, the login
 * name when none is given).  A tls-creds-psk object reads keys.psk from a
 * directory; a PSK file under another name is linked as keys.psk into a
 * private temporary directory that is removed once the file is loaded.
 * The object is added to the object table as @id and a new reference is
 * returned.  A TLS URI with neither parameter is an error that suggests
 * them or --tls-creds.
 */
QCryptoTLSCreds *nbd_uri_make_tls_creds(const NBDUri *uri, const char *id,
                                        GError **errp);

G_END_DECLS
