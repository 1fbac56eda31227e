/*
 * The visitor that frees a generated object.  The generated qapi_free_X()
 * functions use it; call them rather than this directly:
 *
 *     qapi_free_ChardevBackend(backend);   // NULL is fine
 */
#pragma once

#include "qapi/visitor.h"

G_BEGIN_DECLS

QapiVisitor *qapi_dealloc_visitor_new(void);

G_END_DECLS
