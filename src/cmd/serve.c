/*
 * serve.c - `vitrine serve`: reads the flags (server.h's ServerConfig),
 * prepares the data directory, and runs the server with the API modules.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "api/qdrant.h"
#include "api/v1.h"
#include "base/err.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "server/server.h"

/* The modules `serve` runs, in start order (stopped in reverse). A module
 * declares `extern const ServerModule x_module;` in its header and adds one
 * line here. */
static const ServerModule *const serve_modules[] = {
    &api_v1_module, /* first: it owns the embedder the Qdrant module uses */
    &api_qdrant_module,
    NULL,
};

/* mkdir_p creates dir and its missing parents (start-up only: blocks). */
static int mkdir_p(const char *dir)
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


int cmd_serve(int argc, char **argv)
{
    ServerConfig cfg;
    server_config_defaults(&cfg);
    /* The embedding flags (--embed-*) first: the server's parser refuses
     * flags it does not know. */
    int rc = v1_options_take(&argc, argv);
    if (rc == 0) rc = server_config_parse(&cfg, argc, argv);
    if (rc == 1) {
        v1_options_usage(stdout);
        return 0;
    }
    if (rc) return 2;

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
