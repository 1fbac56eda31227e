/*
 * Unit tests for run states (vm/runstate.c): QEMU's transitions, the
 * requests that change nothing (and must not report an event), and the
 * "info status" wording.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vm/runstate.h"

typedef struct Changes {
    GString *log;
} Changes;

static void on_change(void *opaque, VMRunState old, VMRunState new,
                      VMShutdownCause cause)
{
    Changes *c = opaque;

    g_string_append_printf(c->log, "%s>%s", vm_run_state_str(old),
                           vm_run_state_str(new));
    if (new == VM_RUN_STATE_SHUTDOWN) {
        g_string_append_printf(c->log, "(%s)", vm_shutdown_cause_str(cause));
    }
    g_string_append_c(c->log, ' ');
}

static void test_prelaunch(void **state)
{
    g_autoptr(GError) err = NULL;
    Changes c = { g_string_new(NULL) };
    VMRunStateMachine *rs = vm_run_state_new(true);

    vm_run_state_set_listener(rs, on_change, &c);
    assert_int_equal(vm_run_state_get(rs), VM_RUN_STATE_PRELAUNCH);
    assert_false(vm_run_state_is_running(rs));
    /* stop in prelaunch stays in prelaunch, silently, as in QEMU. */
    assert_true(vm_run_state_stop(rs, &err));
    assert_int_equal(vm_run_state_get(rs), VM_RUN_STATE_PRELAUNCH);
    assert_true(vm_run_state_cont(rs, &err));
    assert_true(vm_run_state_is_running(rs));
    assert_true(vm_run_state_cont(rs, &err));
    assert_true(vm_run_state_stop(rs, &err));
    assert_true(vm_run_state_stop(rs, &err));
    assert_int_equal(vm_run_state_get(rs), VM_RUN_STATE_PAUSED);
    assert_true(vm_run_state_cont(rs, &err));
    assert_true(vm_run_state_shutdown(rs, VM_SHUTDOWN_HOST_SIGNAL));
    assert_false(vm_run_state_shutdown(rs, VM_SHUTDOWN_HOST_QMP_QUIT));
    assert_string_equal(c.log->str,
                        "prelaunch>running running>paused paused>running "
                        "running>shutdown(host-signal) ");
    vm_run_state_free(rs);
    g_string_free(c.log, TRUE);
}

static void test_shutdown_is_final(void **state)
{
    g_autoptr(GError) err = NULL;
    VMRunStateMachine *rs = vm_run_state_new(false);

    assert_true(vm_run_state_is_running(rs));
    assert_true(vm_run_state_shutdown(rs, VM_SHUTDOWN_HOST_QMP_QUIT));
    assert_false(vm_run_state_cont(rs, &err));
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_BAD_STATE));
    g_clear_error(&err);
    assert_false(vm_run_state_stop(rs, &err));
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_BAD_STATE));
    assert_int_equal(vm_run_state_get(rs), VM_RUN_STATE_SHUTDOWN);
    vm_run_state_free(rs);
}

static void test_describe(void **state)
{
    static const char *const want[VM_RUN_STATE__MAX] = {
        [VM_RUN_STATE_PRELAUNCH] = "VM status: paused (prelaunch)",
        [VM_RUN_STATE_RUNNING] = "VM status: running",
        [VM_RUN_STATE_PAUSED] = "VM status: paused",
        [VM_RUN_STATE_SHUTDOWN] = "VM status: paused (shutdown)",
    };

    for (int s = 0; s < VM_RUN_STATE__MAX; s++) {
        g_autofree char *text = vm_run_state_describe(s);

        assert_string_equal(text, want[s]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prelaunch),
        cmocka_unit_test(test_shutdown_is_final),
        cmocka_unit_test(test_describe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
