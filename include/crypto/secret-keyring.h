/*
 * Secrets held in the Linux kernel key ring: the value is the payload of a
 * key the management application added (with add_key(2) or keyctl(1)),
 * read once when the object is created, so it never passes through a
 * file or a command line.
 *
 *   serial=$(keyctl padd user qio-tls-password @u < password.txt)
 *   qio-nbd --object secret_keyring,id=sec0,serial=$serial ...
 *
 * The key must be readable by the process: possessed through one of its
 * key rings (thread, process, session, user) with read permission for
 * the possessor, or with read permission for the process's user.  The
 * format=, keyid= and iv= properties of every secret apply to the payload
 * (see include/crypto/secret.h), and lookups go through
 * qcrypto_secret_lookup() as for "secret".
 *
 * Errors: QCRYPTO_ERROR_INVALID_ARGUMENT when serial= is missing,
 * QCRYPTO_ERROR_FILE when the key cannot be read (no such key, revoked or
 * expired, permission denied, keyctl blocked by a seccomp filter), the
 * message naming the serial and the kernel's reason.
 */
#pragma once

#include <glib-object.h>

#include "crypto/secret.h"

G_BEGIN_DECLS

/*
 *   serial  the key's serial number (a positive int32), required
 */
#define QCRYPTO_TYPE_SECRET_KEYRING (qcrypto_secret_keyring_get_type())
G_DECLARE_FINAL_TYPE(QCryptoSecretKeyring, qcrypto_secret_keyring, QCRYPTO,
                     SECRET_KEYRING, QCryptoSecretCommon)

/* The serial the secret reads. */
gint32 qcrypto_secret_keyring_get_serial(QCryptoSecretKeyring *secret);

G_END_DECLS
