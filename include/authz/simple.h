/*
 * authz-simple: allows exactly one identity, compared byte for byte.
 *
 *   --object authz-simple,id=auth0,identity=CN=laptop,,O=Example
 *
 * (A comma inside a keyval value is written twice.)  For patterns or
 * several identities use authz-list.
 */
#pragma once

#include "authz/base.h"

G_BEGIN_DECLS

/*
 *   identity  the one identity allowed (required)
 */
#define QAUTHZ_TYPE_SIMPLE (qauthz_simple_get_type())
G_DECLARE_FINAL_TYPE(QAuthZSimple, qauthz_simple, QAUTHZ, SIMPLE, QAuthZ)

/* The identity allowed (borrowed). */
const char *qauthz_simple_get_identity(QAuthZSimple *authz);

G_END_DECLS
