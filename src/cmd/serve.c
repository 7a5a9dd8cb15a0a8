/*
 * serve.c - `vitrine serve`: reads the flags (server.h's ServerConfig),
 * prepares the data directory, and runs the server with the API modules.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/qdrant.h"
#include "api/ui.h"
#include "api/v1.h"
#include "base/cli.h"
#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "server/auth.h"
#include "server/server.h"

/* The modules `serve` runs, in start order (stopped in reverse). A module
 * declares `extern const ServerModule x_module;` in its header and adds one
 * line here. */
static const ServerModule *const serve_modules[] = {
    &api_v1_module, /* first: it owns the embedder the Qdrant module uses */
    &api_qdrant_module,
    &api_ui_module, /* the web page at /ui, a client of the two above */
    NULL,
};

const ServerModule *const *serve_module_list(size_t *n)
{
    size_t k = 0;
    while (serve_modules[k]) k++;
    *n = k;
    return serve_modules;
}

/* mkdir_p creates dir and its missing parents (start-up only: blocks). */
int mkdir_p(const char *dir)
{
    char tmp[SERVER_MAX_PATH];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) && errno != EEXIST) return ERR_IO;
        *p = '/';
    }
    if (mkdir(tmp, 0755) && errno != EEXIST) return ERR_IO;
    struct stat st;
    return stat(tmp, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : ERR_IO;
}

/* ---- security flags (server/auth.h) ---- */

static void security_usage(FILE *f)
{
    fprintf(f,
            "\nSecurity (Qdrant's API keys: header `api-key: KEY` or `Authorization: Bearer KEY`):\n"
            "  --api-key KEY                 read-write key (VITRINE_API_KEY); prefer the file or the\n"
            "                                environment, a flag shows in the process list until read\n"
            "  --api-key-file PATH           read-write key from a file (VITRINE_API_KEY_FILE)\n"
            "  --read-only-api-key KEY       key for reads only (VITRINE_READ_ONLY_API_KEY)\n"
            "  --read-only-api-key-file PATH (VITRINE_READ_ONLY_API_KEY_FILE)\n"
            "  --metrics key|open|off        /metrics needs the key (default, as Qdrant), is open to\n"
            "                                all, or is not served (VITRINE_METRICS)\n");
}

typedef struct {
    char rw[AUTH_MAX_KEY_BYTES + 1], ro[AUTH_MAX_KEY_BYTES + 1];
    int has_rw, has_ro;
} SecurityKeys;

/* security_set applies one setting; key: 0 --api-key, 1 --api-key-file,
 * 2 --read-only-api-key, 3 --read-only-api-key-file, 4 --metrics. */
static int security_set(ServerConfig *cfg, SecurityKeys *k, int key, const char *v, const char *source)
{
    char *dst = key < 2 ? k->rw : k->ro;
    switch (key) {
    case 0:
    case 2:
        if (!*v || strlen(v) > AUTH_MAX_KEY_BYTES) {
            fprintf(stderr, "vitrine serve: %s: a key is 1 to %d bytes\n", source, AUTH_MAX_KEY_BYTES);
            return ERR_INVAL;
        }
        snprintf(dst, AUTH_MAX_KEY_BYTES + 1, "%s", v);
        break;
    case 1:
    case 3:
        if (auth_read_key_file(v, dst, AUTH_MAX_KEY_BYTES + 1)) return ERR_INVAL;
        break;
    default:
        if (!strcmp(v, "key")) cfg->auth.metrics = AUTH_METRICS_KEY;
        else if (!strcmp(v, "open")) cfg->auth.metrics = AUTH_METRICS_OPEN;
        else if (!strcmp(v, "off")) cfg->auth.metrics = AUTH_METRICS_OFF;
        else {
            fprintf(stderr, "vitrine serve: %s: '%s' is not key, open or off\n", source, v);
            return ERR_INVAL;
        }
        return 0;
    }
    if (key < 2) k->has_rw = 1;
    else k->has_ro = 1;
    return 0;
}

/*
 * security_take reads the security settings from the environment, then
 * takes their flags out of argv (flags win), and stores the keys' digests
 * in cfg->auth. A key given on the command line is overwritten in argv
 * once read, so /proc/PID/cmdline stops showing it.
 */
static int security_take(ServerConfig *cfg, int *argc, char **argv)
{
    static const struct {
        const char *flag, *env;
    } opts[] = {
        { "--api-key", "VITRINE_API_KEY" },
        { "--api-key-file", "VITRINE_API_KEY_FILE" },
        { "--read-only-api-key", "VITRINE_READ_ONLY_API_KEY" },
        { "--read-only-api-key-file", "VITRINE_READ_ONLY_API_KEY_FILE" },
        { "--metrics", "VITRINE_METRICS" },
    };
    SecurityKeys *k = xcalloc(1, sizeof *k);
    int rc = 0;
    for (size_t o = 0; o < ARRAY_LEN(opts) && !rc; o++) {
        const char *v = getenv(opts[o].env);
        if (v && *v) rc = security_set(cfg, k, (int)o, v, opts[o].env);
    }
    int out = 1;
    for (int i = 1; i < *argc && !rc; i++) {
        int taken = 0, start = i;
        for (size_t o = 0; o < ARRAY_LEN(opts) && !taken && !rc; o++) {
            const char *v;
            int r = cli_take_value(*argc, argv, &i, opts[o].flag, &v);
            if (r < 0) rc = ERR_INVAL;
            if (r != 1) continue;
            taken = 1;
            rc = security_set(cfg, k, (int)o, v, opts[o].flag);
            if (o == 0 || o == 2) memset((char *)v, 'x', strlen(v));
        }
        if (!taken) argv[out++] = argv[start];
    }
    if (!rc) {
        argv[out] = NULL;
        *argc = out;
        rc = auth_config_set_keys(&cfg->auth, k->has_rw ? k->rw : NULL, k->has_ro ? k->ro : NULL);
        if (rc) fprintf(stderr, "vitrine serve: the read-only key must differ from the read-write key\n");
    }
    /* The digests are all the server keeps. */
    memset(k, 0, sizeof *k);
    free(k);
    return rc;
}

/* host_is_loopback says whether a listen address only takes local clients. */
static int host_is_loopback(const char *host)
{
    return !strncmp(host, "127.", 4) || !strcmp(host, "::1") || !strcmp(host, "localhost");
}

int cmd_serve(int argc, char **argv)
{
    ServerConfig cfg;
    server_config_defaults(&cfg);
    /* The embedding flags (--embed-*) first: the server's parser refuses
     * flags it does not know. */
    int rc = v1_options_take(&argc, argv);
    if (rc == 0) rc = security_take(&cfg, &argc, argv);
    if (rc == 0) rc = server_config_parse(&cfg, argc, argv);
    if (rc == 1) {
        v1_options_usage(stdout);
        security_usage(stdout);
        return 0;
    }
    if (rc) return 2;
    if (!host_is_loopback(cfg.host) && !auth_enabled(&cfg.auth))
        log_warn("listening on %s without an API key: anyone who can reach this address can read and "
                 "change every collection (set --api-key-file or VITRINE_API_KEY)",
                 cfg.host);
    else if (!host_is_loopback(cfg.host) && !cfg.auth.has_rw)
        log_warn("listening on %s with only a read-only key: writes are refused to everyone", cfg.host);

    if (mkdir_p(cfg.data_dir)) {
        log_error("cannot create data directory %s: %s", cfg.data_dir, strerror(errno));
        return 1;
    }
    struct stat st;
    cfg.have_weights = stat(cfg.weights_dir, &st) == 0 && S_ISDIR(st.st_mode);
    if (!cfg.have_weights)
        log_info("no CLIP weights at %s: serving as a pure vector database; embedding endpoints disabled",
                 cfg.weights_dir);
    size_t n = 0;
    while (serve_modules[n]) n++;
    return server_run(&cfg, serve_modules, n);
}
