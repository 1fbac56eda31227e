/*
 * Unit tests for chardevs from the schema: -chardev options rearranged
 * into ChardevBackend and read by the generated keyval visitor (QEMU's
 * names, the short boolean forms, sizes, mux=on, each kind of mistake),
 * ChardevBackend from QMP JSON, and the char module's QMP commands with
 * QEMU's wording.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "chardev/char-mux.h"
#include "chardev/char-qapi.h"
#include "chardev/char-ringbuf.h"
#include "qapi/error.h"
#include "qapi/json-visitor.h"
#include "qapi/qapi-commands-char.h"
#include "qapi/qapi-visit-char.h"

static int teardown(void **state)
{
    qio_chardev_remove_all();
    return 0;
}

static ChardevBackend *parse(const char *opts, char **id, bool *mux)
{
    g_autoptr(GError) err = NULL;
    ChardevBackend *b = qio_chardev_parse_opts(opts, id, mux, &err);

    if (!b) {
        fail_msg("%s: %s", opts, err->message);
    }
    return b;
}

static void test_parse_socket(void **state)
{
    g_autofree char *id = NULL;
    bool mux;
    g_autoptr(ChardevBackend) b =
        parse("socket,id=s0,host=127.0.0.1,port=9000,server=on,wait=off,"
              "telnet=on,nodelay=on,tls-creds=tls0,tls-authz=auth0,ipv4=on",
              &id, &mux);
    ChardevSocket *s = b->u.socket.data;

    assert_string_equal(id, "s0");
    assert_false(mux);
    assert_int_equal(b->type, CHARDEV_BACKEND_KIND_SOCKET);
    assert_int_equal(s->addr->type, SOCKET_ADDRESS_TYPE_INET);
    assert_string_equal(s->addr->u.inet.data->host, "127.0.0.1");
    assert_string_equal(s->addr->u.inet.data->port, "9000");
    assert_true(s->addr->u.inet.data->has_ipv4);
    assert_true(s->has_server && s->server);
    assert_true(s->has_wait && !s->wait);
    assert_true(s->has_telnet && s->telnet);
    assert_true(s->has_nodelay && s->nodelay);
    assert_string_equal(s->tls_creds, "tls0");
    assert_string_equal(s->tls_authz, "auth0");
    g_clear_pointer(&b, qapi_free_ChardevBackend);
    g_clear_pointer(&id, g_free);

    /* QEMU 7.2's short forms, and delay=off for nodelay. */
    b = parse("socket,id=s1,host=h,port=1,server,nowait,nodelay,"
              "reconnect=5",
              &id, &mux);
    s = b->u.socket.data;
    assert_true(s->has_server && s->server);
    assert_true(s->has_wait && !s->wait);
    assert_true(s->has_nodelay && s->nodelay);
    assert_true(s->has_reconnect);
    assert_int_equal(s->reconnect, 5);
    g_clear_pointer(&b, qapi_free_ChardevBackend);
    g_clear_pointer(&id, g_free);
    b = parse("socket,id=s1,host=h,port=1,delay=off,reconnect-ms=250", &id,
              &mux);
    assert_true(b->u.socket.data->nodelay);
    assert_int_equal(b->u.socket.data->reconnect_ms, 250);
    g_clear_pointer(&b, qapi_free_ChardevBackend);
    g_clear_pointer(&id, g_free);

    b = parse("socket,id=u0,path=/run/x.sock,abstract=on,tight=off,server=on",
              &id, &mux);
    s = b->u.socket.data;
    assert_int_equal(s->addr->type, SOCKET_ADDRESS_TYPE_Q_UNIX);
    assert_string_equal(s->addr->u.q_unix.data->path, "/run/x.sock");
    assert_true(s->addr->u.q_unix.data->abstract);
    assert_true(s->addr->u.q_unix.data->has_tight);
    assert_false(s->addr->u.q_unix.data->tight);
    g_clear_pointer(&b, qapi_free_ChardevBackend);
    g_clear_pointer(&id, g_free);

    /* tight defaults to on, and is stated, as QEMU's parser does. */
    b = parse("socket,id=u1,path=@x,abstract=on", &id, &mux);
    assert_true(b->u.socket.data->addr->u.q_unix.data->has_tight);
    assert_true(b->u.socket.data->addr->u.q_unix.data->tight);
    g_clear_pointer(&b, qapi_free_ChardevBackend);
    g_clear_pointer(&id, g_free);

    b = parse("socket,id=f0,fd=3,server=on", &id, &mux);
    assert_int_equal(b->u.socket.data->addr->type, SOCKET_ADDRESS_TYPE_FD);
    assert_string_equal(b->u.socket.data->addr->u.fd.data->str, "3");
}

static void test_parse_others(void **state)
{
    g_autofree char *id = NULL;
    bool mux;
    g_autoptr(ChardevBackend) b =
        parse("file,id=f0,path=/out,input-path=/in,append=on,"
              "logfile=/log,logappend=on",
              &id, &mux);

    assert_int_equal(b->type, CHARDEV_BACKEND_KIND_FILE);
    assert_string_equal(b->u.file.data->out, "/out");
    assert_string_equal(b->u.file.data->in, "/in");
    assert_true(b->u.file.data->append);
    assert_string_equal(b->u.file.data->logfile, "/log");
    assert_true(b->u.file.data->logappend);
    g_clear_pointer(&b, qapi_free_ChardevBackend);
    g_clear_pointer(&id, g_free);

    b = parse("pipe,id=p0,path=/run/p", &id, &mux);
    assert_string_equal(b->u.pipe.data->device, "/run/p");
    g_clear_pointer(&b, qapi_free_ChardevBackend);
    g_clear_pointer(&id, g_free);

    b = parse("stdio,id=con,mux=on,signal=off", &id, &mux);
    assert_true(mux);
    assert_true(b->u.stdio.data->has_signal);
    assert_false(b->u.stdio.data->signal);
    g_clear_pointer(&b, qapi_free_ChardevBackend);
    g_clear_pointer(&id, g_free);

    b = parse("ringbuf,id=r0,size=64K", &id, &mux);
    assert_int_equal(b->u.ringbuf.data->size, 65536);
    g_clear_pointer(&b, qapi_free_ChardevBackend);
    g_clear_pointer(&id, g_free);
    b = parse("memory,id=r0", &id, &mux);
    assert_int_equal(b->type, CHARDEV_BACKEND_KIND_RINGBUF);
    g_clear_pointer(&b, qapi_free_ChardevBackend);
    g_clear_pointer(&id, g_free);
    b = parse("pty,id=pt", &id, &mux);
    assert_int_equal(b->type, CHARDEV_BACKEND_KIND_PTY);
    g_clear_pointer(&b, qapi_free_ChardevBackend);
    g_clear_pointer(&id, g_free);
    /* An escaped comma in a value is not an element boundary. */
    b = parse("file,id=f1,path=/a,,b", &id, &mux);
    assert_string_equal(b->u.file.data->out, "/a,b");
}

static void test_parse_errors(void **state)
{
    static const struct {
        const char *opts;
        const char *message; /* a part of it */
    } cases[] = {
        { "nosuch,id=c", "'nosuch' is not a valid char driver name" },
        { "mux,id=c", "'mux' is not a valid char driver name" },
        { "null", "chardev: no id specified" },
        /* Named as the user wrote them, not by their place in the tree. */
        { "socket,id=s,host=h,port=1,bogus=1", "Invalid parameter 'bogus'" },
        { "null,id=n,size=4", "Invalid parameter 'size'" },
        { "socket,id=s,host=h,port=1,server=maybe",
          "Parameter 'server' expects 'on' or 'off'" },
        { "socket,id=s,path=/p,tight=2", "Parameter 'tight' expects" },
        { "file,id=f,append=on", "Parameter 'path' is missing" },
        /* -chardev ids are identifiers, as QEMU's option parser wants. */
        { "null,id=0bad", "Parameter 'id' expects an identifier" },
        { "null,id=a b", "Parameter 'id' expects an identifier" },
        { "pipe,id=p", "Parameter 'path' is missing" },
        { "socket,id=s,host=h", "no port given" },
        { "socket,id=s", "give host and port" },
        { "ringbuf,id=r,size=abc", "Parameter 'size' expects a size value" },
        { "ringbuf,id=r,size=16E", "size" },
        { "stdio,id=s,mux=perhaps", "mux" },
        { "socket,id=s,path=/x,id=t", "id" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        g_autofree char *id = NULL;
        bool mux;
        ChardevBackend *b =
            qio_chardev_parse_opts(cases[i].opts, &id, &mux, &err);

        if (b || !err || !strstr(err->message, cases[i].message)) {
            fail_msg("%s: expected an error with \"%s\", got %s", cases[i].opts,
                     cases[i].message, err ? err->message : "success");
        }
        assert_null(id);
    }
}

static void test_new_from_opts(void **state)
{
    g_autoptr(GError) err = NULL;
    QIOChardev *chr = qio_chardev_new_from_opts("ringbuf,id=r0,size=4K", &err);
    QIOChardev *mux;

    assert_non_null(chr);
    assert_ptr_equal(qio_chardev_find("r0"), chr);
    assert_null(qio_chardev_new_from_opts("null,id=r0", &err));
    assert_string_equal(err->message, "Duplicate ID 'r0' for chardev");
    g_clear_error(&err);

    mux = qio_chardev_new_from_opts("ringbuf,id=m0,mux=on", &err);
    assert_non_null(mux);
    assert_string_equal(qio_chardev_get_backend_name(mux), "mux");
    assert_ptr_equal(qio_chardev_mux_get_base(mux),
                     qio_chardev_find("m0-base"));
    assert_true(qio_chardev_frontend_open(qio_chardev_find("m0-base")));

    /* An abstract UNIX server, named as QEMU names it, and reachable. */
    {
        g_autofree char *name = g_strdup_printf("qio-test-%d", getpid());
        g_autofree char *srv = g_strdup_printf(
            "socket,id=ab,path=%s,abstract=on,server=on,wait=off", name);
        g_autofree char *cli =
            g_strdup_printf("socket,id=ac,path=%s,abstract=on", name);
        g_autofree char *want = g_strdup_printf(
            "disconnected:unix:%s,abstract=on,tight=on,server=on", name);
        g_autofree char *fn = NULL;

        chr = qio_chardev_new_from_opts(srv, &err);
        assert_non_null(chr);
        fn = qio_chardev_get_filename(chr);
        assert_string_equal(fn, want);
        assert_non_null(qio_chardev_new_from_opts(cli, &err));
    }

    /* A failed backend leaves nothing behind. */
    assert_null(qio_chardev_new_from_opts("ringbuf,id=bad,size=3", &err));
    assert_null(qio_chardev_find("bad"));
    g_clear_error(&err);
    assert_null(
        qio_chardev_new_from_opts("null,id=bad,logfile=/no/such/dir/x", &err));
    assert_null(qio_chardev_find("bad"));
    g_clear_error(&err);
    assert_null(qio_chardev_new_from_opts(
        "socket,id=bad,host=127.0.0.1,port=0,reconnect=1,server=on", &err));
    assert_null(qio_chardev_find("bad"));
}

static ChardevBackend *backend_from_json(const char *json)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) node = json_from_string(json, &err);
    g_autoptr(QapiVisitor) v = NULL;
    ChardevBackend *b = NULL;

    assert_non_null(node);
    v = qapi_json_input_visitor_new(node);
    if (!visit_type_ChardevBackend(v, NULL, &b, &err)) {
        fail_msg("%s: %s", json, err->message);
    }
    return b;
}

static void test_qmp_chardev_add(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(ChardevBackend) sock = backend_from_json(
        "{\"type\": \"socket\", \"data\": {\"addr\": {\"type\": \"inet\", "
        "\"data\": {\"host\": \"127.0.0.1\", \"port\": \"0\"}}, "
        "\"server\": true, \"wait\": false}}");
    g_autoptr(ChardevBackend) ring =
        backend_from_json("{\"type\": \"ringbuf\", \"data\": {\"size\": 12}}");
    g_autoptr(ChardevBackend) pty =
        backend_from_json("{\"type\": \"pty\", \"data\": {}}");
    g_autoptr(ChardevInfoList) infos = NULL;
    g_autoptr(ChardevBackendInfoList) kinds = NULL;
    ChardevReturn *ret;
    bool seen_socket = false;

    ret = qmp_chardev_add("c0", sock, &err);
    assert_non_null(ret);
    assert_null(ret->pty);
    qapi_free_ChardevReturn(ret);
    assert_null(qmp_chardev_add("c0", sock, &err));
    assert_string_equal(err->message, "Chardev with id 'c0' already exists");
    assert_string_equal(qapi_error_class(err), "GenericError");
    g_clear_error(&err);

    assert_null(qmp_chardev_add("rb2", ring, &err));
    assert_string_equal(err->message,
                        "Failed to add chardev 'rb2': size of ringbuf "
                        "chardev must be power of two");
    g_clear_error(&err);

    /* QMP takes any id, as QEMU's chardev-add does. */
    ret = qmp_chardev_add("0-odd id", ring, &err);
    assert_null(ret);
    assert_true(g_str_has_prefix(err->message, "Failed to add chardev "
                                               "'0-odd id': size of ringbuf"));
    g_clear_error(&err);
    {
        g_autoptr(ChardevBackend) null =
            backend_from_json("{\"type\": \"null\", \"data\": {}}");

        ret = qmp_chardev_add("0bad", null, &err);
        assert_non_null(ret);
        qapi_free_ChardevReturn(ret);
        qmp_chardev_remove("0bad", &err);
        assert_null(err);
    }

    ret = qmp_chardev_add("pt0", pty, &err);
    assert_non_null(ret);
    assert_true(g_str_has_prefix(ret->pty, "/dev/pts/"));
    qapi_free_ChardevReturn(ret);

    infos = qmp_query_chardev(&err);
    assert_non_null(infos);
    assert_string_equal(infos->value->label, "c0");
    assert_true(g_str_has_prefix(infos->value->filename,
                                 "disconnected:tcp:127.0.0.1:"));
    assert_true(g_str_has_suffix(infos->value->filename, ",server=on"));
    assert_false(infos->value->frontend_open);
    assert_non_null(infos->next);
    assert_string_equal(infos->next->value->label, "pt0");
    assert_true(g_str_has_prefix(infos->next->value->filename, "pty:/dev/"));
    assert_null(infos->next->next);

    kinds = qmp_query_chardev_backends(&err);
    for (ChardevBackendInfoList *k = kinds; k; k = k->next) {
        seen_socket |= !strcmp(k->value->name, "socket");
    }
    assert_true(seen_socket);

    qmp_chardev_remove("nope", &err);
    assert_string_equal(err->message, "Chardev 'nope' not found");
    g_clear_error(&err);
    qmp_chardev_remove("c0", &err);
    assert_null(err);
    assert_null(qio_chardev_find("c0"));
}

static void test_qmp_busy(void **state)
{
    g_autoptr(GError) err = NULL;
    QIOChardev *mux = qio_chardev_new_from_opts("null,id=n0,mux=on", &err);

    assert_non_null(mux);
    qmp_chardev_remove("n0-base", &err);
    assert_string_equal(err->message, "Chardev 'n0-base' is busy");
    g_clear_error(&err);
    qmp_chardev_remove("n0", &err);
    assert_null(err);
    qmp_chardev_remove("n0-base", &err);
    assert_null(err);
}

static void test_qmp_ringbuf(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *s = NULL;

    assert_non_null(qio_chardev_new_from_opts("ringbuf,id=r,size=16", &err));
    assert_non_null(qio_chardev_new_from_opts("null,id=n", &err));

    qmp_ringbuf_write("r", "aGVsbG8=", true, DATA_FORMAT_BASE64, &err);
    assert_null(err);
    s = qmp_ringbuf_read("r", 3, false, 0, &err);
    assert_string_equal(s, "hel");
    g_clear_pointer(&s, g_free);
    /* A size far beyond the ring allocates only what the ring holds. */
    s = qmp_ringbuf_read("r", G_MAXINT64, true, DATA_FORMAT_BASE64, &err);
    assert_string_equal(s, "bG8=");
    g_clear_pointer(&s, g_free);

    /* utf8 output stays valid UTF-8 whatever the guest wrote. */
    assert_int_equal(qio_chardev_write(qio_chardev_find("r"), "a\xff", 2, NULL),
                     2);
    s = qmp_ringbuf_read("r", 10, true, DATA_FORMAT_UTF8, &err);
    assert_true(g_utf8_validate(s, -1, NULL));
    assert_true(s[0] == 'a');
    g_clear_pointer(&s, g_free);

    qmp_ringbuf_write("r", "not base64!", true, DATA_FORMAT_BASE64, &err);
    assert_non_null(err);
    g_clear_error(&err);
    qmp_ringbuf_write("r", "abc", true, DATA_FORMAT_BASE64, &err);
    assert_non_null(err);
    g_clear_error(&err);
    assert_null(qmp_ringbuf_read("n", 10, false, 0, &err));
    assert_string_equal(err->message, "n is not a ringbuf device");
    g_clear_error(&err);
    qmp_ringbuf_write("n", "x", false, 0, &err);
    assert_string_equal(err->message, "n is not a ringbuf device");
    g_clear_error(&err);
    assert_null(qmp_ringbuf_read("zz", 10, false, 0, &err));
    assert_string_equal(err->message, "Device 'zz' not found");
    g_clear_error(&err);
    assert_null(qmp_ringbuf_read("r", 0, false, 0, &err));
    assert_non_null(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_parse_socket, teardown),
        cmocka_unit_test_teardown(test_parse_others, teardown),
        cmocka_unit_test_teardown(test_parse_errors, teardown),
        cmocka_unit_test_teardown(test_new_from_opts, teardown),
        cmocka_unit_test_teardown(test_qmp_chardev_add, teardown),
        cmocka_unit_test_teardown(test_qmp_busy, teardown),
        cmocka_unit_test_teardown(test_qmp_ringbuf, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
