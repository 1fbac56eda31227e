/*
 * qcrypto_init(): after one call every crypto and authz type is creatable
 * by its user-facing name, a second call is harmless, and objects of each
 * kind can be made through the --object front end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "crypto/init.h"
#include "crypto/tls-creds.h"
#include "qom/object-cli.h"
#include "qom/object.h"

static void test_types_registered(void **state)
{
    static const char *const names[] = {
        "secret",         "secret_keyring", "tls-creds-x509", "tls-creds-psk",
        "tls-creds-anon", "authz-simple",   "authz-list",     "authz-listfile",
    };

    assert_true(qcrypto_init(NULL));
    assert_true(qcrypto_init(NULL));
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (qom_type_lookup(names[i]) == G_TYPE_INVALID) {
            fail_msg("type '%s' is not registered", names[i]);
        }
    }
    assert_string_equal(qom_type_get_description(QCRYPTO_TYPE_TLS_CREDS),
                        "TLS credentials");
}

static void test_create_from_cli(void **state)
{
    g_autoptr(GError) err = NULL;

    assert_true(qcrypto_init(NULL));
    assert_non_null(qom_object_add_from_cli("secret,id=s0,data=hunter2", &err));
    assert_non_null(qom_object_add_from_cli(
        "tls-creds-anon,id=anon0,endpoint=server", &err));
    assert_non_null(
        qom_object_add_from_cli("{\"qom-type\":\"authz-simple\",\"id\":\"az0\","
                                "\"identity\":\"CN=client1\"}",
                                &err));

    /* The typed lookup every consumer does, and its refusal. */
    assert_non_null(
        qom_object_find_typed("anon0", QCRYPTO_TYPE_TLS_CREDS, &err));
    assert_null(qom_object_find_typed("s0", QCRYPTO_TYPE_TLS_CREDS, &err));
    assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_WRONG_TYPE));
    assert_non_null(
        strstr(err->message, "object 's0' is a 'secret', not TLS credentials"));
    qom_object_table_clear();
}

/* Once registered with spaces: "qcrypto - error - quark". */
static void test_quark_name(void **state)
{
    assert_string_equal(g_quark_to_string(QCRYPTO_ERROR),
                        "qcrypto-error-quark");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quark_name),
        cmocka_unit_test(test_types_registered),
        cmocka_unit_test(test_create_from_cli),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
