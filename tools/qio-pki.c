/*
 * qio-pki: write TLS credentials directories in the layout QEMU and qio
 * read with tls-creds-x509 and tls-creds-psk.
 *
 *   qio-pki init DIR --hostname db1.example.org --ip 127.0.0.1 \
 *       --client-name client1
 *   qio-pki server DIR --hostname db2.example.org --force
 *   qio-pki client DIR NAME [--out-dir CLIENTDIR]
 *   qio-pki psk DIR USER...
 *
 * This file only parses and checks arguments; the certificates and files
 * are made by crypto/pki.c (qcrypto_pki_dir_*), so tests and embedders get
 * the same results.  docs/qio-pki.md is the manual.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <gnutls/gnutls.h>

#include "qio-config.h"
#include "crypto/pki.h"
#include "util/cutils.h"
#include "util/error.h"
#include "util/log.h"

#define EXIT_USAGE 2

typedef enum {
    CMD_INIT,
    CMD_SERVER,
    CMD_CLIENT,
    CMD_PSK,
} Command;

enum {
    OPT_HOSTNAME = 256,
    OPT_IP,
    OPT_CLIENT_NAME,
    OPT_OUT_DIR,
    OPT_CA_DIR,
    OPT_CA_NAME,
    OPT_ORGANIZATION,
    OPT_KEY_PASSWORD_FILE,
    OPT_PSK_USER,
    OPT_KEY_TYPE,
    OPT_KEY_BITS,
    OPT_DAYS,
    OPT_FORCE,
};

/* Which command takes which option, checked after parsing. */
#define ON_INIT   (1u << CMD_INIT)
#define ON_SERVER (1u << CMD_SERVER)
#define ON_CLIENT (1u << CMD_CLIENT)
#define ON_PSK    (1u << CMD_PSK)
#define ON_ISSUE  (ON_INIT | ON_SERVER | ON_CLIENT)

static const struct {
    int opt;
    const char *name;
    unsigned int commands;
} option_use[] = {
    { OPT_HOSTNAME, "--hostname", ON_INIT | ON_SERVER },
    { OPT_IP, "--ip", ON_INIT | ON_SERVER },
    { OPT_CLIENT_NAME, "--client-name", ON_INIT },
    { OPT_OUT_DIR, "--out-dir", ON_CLIENT },
    { OPT_CA_DIR, "--ca-dir", ON_ISSUE },
    { OPT_CA_NAME, "--ca-name", ON_INIT },
    { OPT_ORGANIZATION, "--organization", ON_ISSUE },
    { OPT_KEY_PASSWORD_FILE, "--key-password-file", ON_INIT | ON_SERVER },
    { OPT_PSK_USER, "--psk-user", ON_INIT },
    { OPT_KEY_TYPE, "--key-type", ON_ISSUE },
    { OPT_KEY_BITS, "--key-bits", ON_ISSUE },
    { OPT_DAYS, "--days", ON_ISSUE },
    { OPT_FORCE, "--force", ON_ISSUE | ON_PSK },
};

static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { "hostname", required_argument, NULL, OPT_HOSTNAME },
    { "ip", required_argument, NULL, OPT_IP },
    { "client-name", required_argument, NULL, OPT_CLIENT_NAME },
    { "out-dir", required_argument, NULL, OPT_OUT_DIR },
    { "ca-dir", required_argument, NULL, OPT_CA_DIR },
    { "ca-name", required_argument, NULL, OPT_CA_NAME },
    { "organization", required_argument, NULL, OPT_ORGANIZATION },
    { "key-password-file", required_argument, NULL, OPT_KEY_PASSWORD_FILE },
    { "psk-user", required_argument, NULL, OPT_PSK_USER },
    { "key-type", required_argument, NULL, OPT_KEY_TYPE },
    { "key-bits", required_argument, NULL, OPT_KEY_BITS },
    { "days", required_argument, NULL, OPT_DAYS },
    { "force", no_argument, NULL, OPT_FORCE },
    { NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: qio-pki COMMAND DIR [ARGS] [OPTIONS]\n"
        "Write TLS credentials directories for tls-creds-x509 and "
        "tls-creds-psk.\n"
        "\n"
        "Commands:\n"
        "  init DIR      make a CA, a server certificate and optionally a "
        "client\n"
        "                certificate and PSK keys in DIR\n"
        "  server DIR    issue a new server certificate with the CA of DIR\n"
        "  client DIR NAME\n"
        "                issue a client certificate with CN NAME, written as\n"
        "                DIR/NAME-cert.pem and DIR/NAME-key.pem, or as a "
        "complete\n"
        "                client directory with --out-dir\n"
        "  psk DIR USER...\n"
        "                add random 32-byte keys for USERs to DIR/keys.psk\n"
        "\n"
        "Options:\n"
        "  --hostname NAME          server DNS name (repeatable; CN = first)\n"
        "  --ip ADDR                server IPv4/IPv6 address (repeatable)\n"
        "  --client-name NAME       init: also write client-cert.pem with CN "
        "NAME\n"
        "  --out-dir DIR            client: write a client directory there\n"
        "  --ca-dir DIR             keep ca-cert.pem and ca-key.pem in DIR\n"
        "                           (default: the credentials directory)\n"
        "  --ca-name NAME           init: CN of the CA\n"
        "  --organization ORG       subject O of the certificates made\n"
        "  --key-password-file FILE encrypt server-key.pem with the password "
        "in\n"
        "                           FILE (used byte for byte, as QEMU's "
        "secret\n"
        "                           object reads it)\n"
        "  --psk-user NAME          init: also write keys.psk (repeatable)\n"
        "  --key-type ecdsa|rsa     key algorithm (default ecdsa, P-256)\n"
        "  --key-bits N             RSA key size (default 3072)\n"
        "  --days N                 validity of server and client "
        "certificates\n"
        "                           (default 3650; the CA gets at least 3650)\n"
        "  --force                  replace existing files\n"
        "  -h, --help               show this help\n"
        "  -V, --version            show the version\n");
}

static G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN
    void usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("qio-pki: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(EXIT_USAGE);
}

static bool is_ip_address(const char *text)
{
    guint8 buf[16];

    return inet_pton(AF_INET, text, buf) == 1 ||
           inet_pton(AF_INET6, text, buf) == 1;
}

/*
 * A DNS name as it goes into a dNSName SAN: LDH labels of 1-63 bytes,
 * at most 253 in all, with an optional "*." wildcard in front.  Underscores
 * are tolerated because internal names use them.
 */
static bool is_dns_name(const char *name)
{
    size_t label = 0;
    size_t total = strlen(name);
    const char *p = name;

    if (strncmp(p, "*.", 2) == 0) {
        p += 2;
    }
    if (!*p || total > 253) {
        return false;
    }
    for (; *p; p++) {
        if (*p == '.') {
            if (label == 0 || p[-1] == '-') {
                return false;
            }
            label = 0;
            continue;
        }
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_') {
            return false;
        }
        if (*p == '-' && label == 0) {
            return false;
        }
        if (++label > 63) {
            return false;
        }
    }
    return p[-1] != '-';
}

static unsigned int parse_uint_option(const char *name, const char *value,
                                      unsigned int min, unsigned int max)
{
    g_autoptr(GError) err = NULL;
    uint64_t v;

    if (!qutil_strtou64(value, &v, &err)) {
        usage_error("%s: %s", name, err->message);
    }
    if (v < min || v > max) {
        usage_error("%s: '%s' is out of range (%u to %u)", name, value, min,
                    max);
    }
    return (unsigned int)v;
}

static void wipe_free(char *s)
{
    if (s) {
        gnutls_memset(s, 0, strlen(s));
        g_free(s);
    }
}

int main(int argc, char **argv)
{
    g_autoptr(GPtrArray) hostnames = g_ptr_array_new();
    g_autoptr(GPtrArray) ips = g_ptr_array_new();
    g_autoptr(GPtrArray) psk_users = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *ca_dir = NULL;
    g_autofree char *client_dir = NULL;
    QCryptoPKIDirOptions opts = { 0 };
    const char *password_file = NULL;
    char *password = NULL;
    unsigned int seen = 0;
    Command cmd;
    bool ok = false;
    int c;
    size_t i;

    /* Messages from the libraries, too, go to stderr with our name. */
    qutil_log_init("qio-pki");
    if (argc < 2) {
        usage_error("no command given");
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return EXIT_SUCCESS;
    }
    if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("qio-pki %s\n", QIO_VERSION);
        return EXIT_SUCCESS;
    }
    if (strcmp(argv[1], "init") == 0) {
        cmd = CMD_INIT;
    } else if (strcmp(argv[1], "server") == 0) {
        cmd = CMD_SERVER;
    } else if (strcmp(argv[1], "client") == 0) {
        cmd = CMD_CLIENT;
    } else if (strcmp(argv[1], "psk") == 0) {
        cmd = CMD_PSK;
    } else {
        usage_error("'%s' is not a command (init, server, client, psk)",
                    argv[1]);
    }

    /* getopt sees the command as its program name and parses the rest. */
    argc--;
    argv++;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hV", long_options, NULL)) != -1) {
        for (i = 0; i < G_N_ELEMENTS(option_use); i++) {
            if (option_use[i].opt == c) {
                seen |= 1u << i;
            }
        }
        switch (c) {
        case 'h':
            usage(stdout);
            return EXIT_SUCCESS;
        case 'V':
            printf("qio-pki %s\n", QIO_VERSION);
            return EXIT_SUCCESS;
        case OPT_HOSTNAME:
            if (is_ip_address(optarg)) {
                usage_error("--hostname: '%s' is an IP address; use --ip",
                            optarg);
            }
            if (!is_dns_name(optarg)) {
                usage_error("--hostname: '%s' is not a DNS host name", optarg);
            }
            g_ptr_array_add(hostnames, optarg);
            break;
        case OPT_IP:
            if (!is_ip_address(optarg)) {
                usage_error("--ip: '%s' is not an IP address", optarg);
            }
            g_ptr_array_add(ips, optarg);
            break;
        case OPT_CLIENT_NAME:
            if (!*optarg) {
                usage_error("--client-name: the name is empty");
            }
            opts.client_name = optarg;
            break;
        case OPT_OUT_DIR:
            g_free(client_dir);
            client_dir = g_canonicalize_filename(optarg, NULL);
            opts.client_dir = client_dir;
            break;
        case OPT_CA_DIR:
            g_free(ca_dir);
            ca_dir = g_canonicalize_filename(optarg, NULL);
            opts.ca_dir = ca_dir;
            break;
        case OPT_CA_NAME:
            if (!*optarg) {
                usage_error("--ca-name: the name is empty");
            }
            opts.ca_name = optarg;
            break;
        case OPT_ORGANIZATION:
            opts.organization = optarg;
            break;
        case OPT_KEY_PASSWORD_FILE:
            password_file = optarg;
            break;
        case OPT_PSK_USER:
            g_ptr_array_add(psk_users, optarg);
            break;
        case OPT_KEY_TYPE:
            if (strcmp(optarg, "ecdsa") == 0) {
                opts.key_type = QCRYPTO_PKI_KEY_ECDSA_P256;
            } else if (strcmp(optarg, "rsa") == 0) {
                opts.key_type = QCRYPTO_PKI_KEY_RSA;
            } else {
                usage_error("--key-type: '%s' is not ecdsa or rsa", optarg);
            }
            break;
        case OPT_KEY_BITS:
            opts.key_bits =
                parse_uint_option("--key-bits", optarg, 2048, 16384);
            break;
        case OPT_DAYS:
            opts.days = parse_uint_option("--days", optarg, 1, 36500);
            break;
        case OPT_FORCE:
            opts.force = true;
            break;
        case ':':
            usage_error("%s needs an argument", argv[optind - 1]);
        default:
            if (optopt && optopt < 256) {
                usage_error("unknown option '-%c'", optopt);
            }
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    for (i = 0; i < G_N_ELEMENTS(option_use); i++) {
        if ((seen & (1u << i)) && !(option_use[i].commands & (1u << cmd))) {
            usage_error("%s: %s is not an option of this command", argv[0],
                        option_use[i].name);
        }
    }
    if (opts.key_bits && opts.key_type != QCRYPTO_PKI_KEY_RSA) {
        usage_error("--key-bits: only used with --key-type rsa");
    }

    /* Positional arguments: DIR, then NAME (client) or USER... (psk). */
    if (optind >= argc) {
        usage_error("%s: no directory given", argv[0]);
    }
    /* Absolute, so that every message names the full path. */
    dir = g_canonicalize_filename(argv[optind++], NULL);
    opts.dir = dir;
    if (cmd == CMD_CLIENT) {
        if (optind >= argc) {
            usage_error("client: no client name given");
        }
        opts.client_name = argv[optind++];
        if (!*opts.client_name) {
            usage_error("client: the client name is empty");
        }
    } else if (cmd == CMD_PSK) {
        if (optind >= argc) {
            usage_error("psk: no user given");
        }
        while (optind < argc) {
            g_ptr_array_add(psk_users, argv[optind++]);
        }
    }
    if (optind < argc) {
        usage_error("%s: unexpected argument '%s'", argv[0], argv[optind]);
    }
    if ((cmd == CMD_INIT || cmd == CMD_SERVER) && !hostnames->len &&
        !ips->len) {
        usage_error("%s: give the server's names with --hostname or --ip",
                    argv[0]);
    }

    g_ptr_array_add(hostnames, NULL);
    g_ptr_array_add(ips, NULL);
    g_ptr_array_add(psk_users, NULL);
    opts.hostnames = (const char *const *)hostnames->pdata;
    opts.ip_addrs = (const char *const *)ips->pdata;
    opts.psk_users =
        psk_users->len > 1 ? (const char *const *)psk_users->pdata : NULL;

    if (password_file) {
        password = qcrypto_pki_read_password_file(password_file, &err);
        if (!password) {
            fprintf(stderr, "qio-pki: --key-password-file: %s\n", err->message);
            return EXIT_FAILURE;
        }
        opts.server_key_password = password;
    }

    switch (cmd) {
    case CMD_INIT:
        ok = qcrypto_pki_dir_init(&opts, &err);
        break;
    case CMD_SERVER:
        ok = qcrypto_pki_dir_add_server(&opts, &err);
        break;
    case CMD_CLIENT:
        ok = qcrypto_pki_dir_add_client(&opts, &err);
        break;
    case CMD_PSK:
        ok = qcrypto_pki_dir_add_psk(&opts, &err);
        break;
    }
    wipe_free(password);
    if (!ok) {
        fprintf(stderr, "qio-pki: %s\n", err->message);
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}
