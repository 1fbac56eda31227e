/*
 * What the qapi unit tests share: the command implementations of the
 * test schema count their calls here.
 */
#pragma once

#include <string.h>

/* Incremented by every qmp_test_*() implementation. */
extern int qapi_test_calls;
