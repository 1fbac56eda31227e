/*
 * The qom schema (qapi/qom.json) and every user-creatable type qio-vm
 * has agree, the memory backends included: for each, the schema's
 * members are exactly the properties options can set, with matching
 * types and enum values (qom-schema-check.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crypto/init.h"
#include "qom-schema-check.h"
#include "vm/memory-backend.h"

static void test_schema_matches_properties(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GString) problems = g_string_new(NULL);

    g_assert(qcrypto_init(&err));
    vm_memory_backend_register_types();
    guint compared = qom_schema_check(NULL, problems);
    if (problems->len) {
        fail_msg("the qom schema and the types disagree:\n%s", problems->str);
    }
    assert_int_equal(compared, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_matches_properties),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
