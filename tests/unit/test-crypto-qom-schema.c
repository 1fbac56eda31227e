/*
 * The qom schema (qapi/qom.json) and the crypto and authz types agree:
 * for each, the schema's members are exactly the properties options can
 * set, with matching types and enum values (qom-schema-check.c).  The
 * memory backends belong to vm/; test-vm-qom-schema checks them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crypto/init.h"
#include "qom-schema-check.h"

static void test_schema_matches_properties(void **state)
{
    static const char *const not_here[] = {
        "memory-backend-file",
        "memory-backend-ram",
        NULL,
    };
    g_autoptr(GError) err = NULL;
    g_autoptr(GString) problems = g_string_new(NULL);

    g_assert(qcrypto_init(&err));
    guint compared = qom_schema_check(not_here, problems);
    if (problems->len) {
        fail_msg("the qom schema and the types disagree:\n%s", problems->str);
    }
    assert_int_equal(compared, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_matches_properties),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
