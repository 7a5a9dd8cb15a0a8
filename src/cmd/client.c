/*
 * client.c - shared plumbing of the client commands (see client.h).
 */
#include "cmd/client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/v1.h"
#include "base/cli.h"
#include "base/err.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "server/auth.h"

/* The longest a 503's Retry-After is honoured for, in seconds. */
#define CLIENT_MAX_RETRY_WAIT_S 30

void client_init(Client *c)
{
    memset(c, 0, sizeof *c);
    c->url = getenv("VITRINE_URL");
    if (c->url && !*c->url) c->url = NULL;
    c->weights_dir = env_or("VITRINE_WEIGHTS", SERVER_DEFAULT_WEIGHTS);
    c->api_key = getenv("VITRINE_API_KEY");
    if (c->api_key && !*c->api_key) c->api_key = NULL;
    c->timeout_ms = HTTPC_DEFAULT_TIMEOUT_MS;
    c->http.fd = -1;
}

int client_take_option(Client *c, int argc, char **argv, int *i)
{
    const char *v;
    int r;
    if ((r = cli_take_value(argc, argv, i, "--url", &v))) {
        if (r > 0) c->url = v, c->url_given = 1;
        return r;
    }
    if ((r = cli_take_value(argc, argv, i, "--data", &v))) {
        if (r > 0) c->data_dir = v;
        return r;
    }
    if ((r = cli_take_value(argc, argv, i, "--weights", &v))) {
        if (r > 0) c->weights_dir = v;
        return r;
    }
    if ((r = cli_take_value(argc, argv, i, "--precision", &v))) {
        if (r > 0 && v1_options_precision(v)) return -1;
        return r;
    }
    if ((r = cli_take_value(argc, argv, i, "--api-key", &v))) {
        if (r > 0) c->api_key = v;
        return r;
    }
    if ((r = cli_take_value(argc, argv, i, "--timeout", &v))) {
        if (r < 0) return r;
        long s;
        if (parse_int(v, 1, 86400, &s)) {
            fprintf(stderr, "vitrine: --timeout wants seconds from 1 to 86400, not '%s'\n", v);
            return -1;
        }
        c->timeout_ms = (int)s * 1000;
        return 1;
    }
    if (!strcmp(argv[*i], "--verbose")) {
        c->verbose = 1;
        return 1;
    }
    return 0;
}

void client_usage(FILE *f)
{
    fprintf(f,
            "\n"
            "Which server (one of):\n"
            "  --url URL          a running vitrine (or Qdrant) server (VITRINE_URL, default %s)\n"
            "  --data DIR         no server: open the data directory DIR in this process (refused\n"
            "                     while a `vitrine serve` holds it)\n"
            "  --weights DIR      with --data: the CLIP model folder (VITRINE_WEIGHTS, default %s)\n"
            "  --precision P      with --data: the model in f32 (default), bf16 or int8\n"
            "                     (VITRINE_PRECISION; see docs/cli.md)\n"
            "  --api-key KEY      sent as the api-key header (VITRINE_API_KEY)\n"
            "  --timeout SECONDS  give up on a request making no progress this long (default %d)\n"
            "  --verbose          with --data: show the in-process server's log\n",
            CLIENT_DEFAULT_URL, SERVER_DEFAULT_WEIGHTS, HTTPC_DEFAULT_TIMEOUT_MS / 1000);
}

/* client_random_key writes 32 random bytes as hex into out (65 bytes). */
static int client_random_key(char *out, size_t cap)
{
    unsigned char raw[32];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ERR_IO;
    ssize_t n = read(fd, raw, sizeof raw);
    close(fd);
    if (n != (ssize_t)sizeof raw || cap < 2 * sizeof raw + 1) return ERR_IO;
    for (size_t i = 0; i < sizeof raw; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

const char *client_url(const Client *c)
{
    return c->server ? c->base_url : c->url;
}

int client_connect(Client *c, const char *cmd)
{
    char err[512];
    if (c->data_dir && c->url_given) {
        fprintf(stderr, "vitrine %s: give --url or --data, not both\n", cmd);
        return ERR_INVAL;
    }
    if (c->data_dir) {
        /* Standalone: the same server `serve` runs, on a loopback port
         * only this process knows, for the command's lifetime. */
        server_config_defaults(&c->cfg);
        snprintf(c->cfg.host, sizeof c->cfg.host, "127.0.0.1");
        c->cfg.port = 0;
        if (snprintf(c->cfg.data_dir, sizeof c->cfg.data_dir, "%s", c->data_dir) >= (int)sizeof c->cfg.data_dir ||
            snprintf(c->cfg.weights_dir, sizeof c->cfg.weights_dir, "%s", c->weights_dir) >=
                (int)sizeof c->cfg.weights_dir) {
            fprintf(stderr, "vitrine %s: path too long\n", cmd);
            return ERR_INVAL;
        }
        /* The only client is this command: a request may take as long as
         * the command itself is willing to wait. */
        c->cfg.request_timeout_ms = (unsigned)c->timeout_ms;
        if (mkdir_p(c->cfg.data_dir)) {
            fprintf(stderr, "vitrine %s: cannot create the data directory %s: %s\n", cmd, c->cfg.data_dir,
                    strerror(errno));
            return ERR_IO;
        }
        struct stat st;
        c->cfg.have_weights = stat(c->cfg.weights_dir, &st) == 0 && S_ISDIR(st.st_mode);
        /* The in-process server listens on loopback, where any local user
         * could reach it while the command runs: it gets a random key of
         * its own (an --api-key given is for a remote server, not this). */
        if (client_random_key(c->standalone_key, sizeof c->standalone_key) ||
            auth_config_set_keys(&c->cfg.auth, c->standalone_key, NULL)) {
            fprintf(stderr, "vitrine %s: cannot make a key for the in-process server\n", cmd);
            return ERR_IO;
        }
        c->api_key = c->standalone_key;
        if (!c->verbose && log_get_level() < LOG_WARN) log_set_level(LOG_WARN);
        size_t n;
        const ServerModule *const *mods = serve_module_list(&n);
        if (server_thread_start(&c->cfg, mods, n, &c->server)) {
            fprintf(stderr, "vitrine %s: cannot open the data directory %s (see above)\n", cmd, c->cfg.data_dir);
            c->server = NULL;
            return ERR_IO;
        }
        snprintf(c->base_url, sizeof c->base_url, "http://127.0.0.1:%d", server_thread_port(c->server));
    } else if (!c->url) {
        c->url = CLIENT_DEFAULT_URL;
    }
    if (httpc_init(&c->http, client_url(c), c->timeout_ms, err, sizeof err)) {
        fprintf(stderr, "vitrine %s: %s\n", cmd, err);
        client_close(c);
        return ERR_INVAL;
    }
    if (c->api_key && httpc_add_header(&c->http, "api-key", c->api_key)) {
        fprintf(stderr, "vitrine %s: the API key must not contain line breaks\n", cmd);
        client_close(c);
        return ERR_INVAL;
    }
    return 0;
}

int client_close(Client *c)
{
    httpc_free(&c->http);
    int rc = 0;
    if (c->server && server_thread_stop(c->server)) rc = ERR_IO;
    c->server = NULL;
    return rc;
}

const JsonValue *client_result(const JsonValue *doc)
{
    return doc ? json_get(doc, "result") : NULL;
}

/* error_message finds the server's words in an error body: Qdrant's
 * {"status": {"error": "..."}} or OpenAI's {"error": {"message": "..."}}. */
static const char *error_message(const JsonValue *doc)
{
    if (!doc) return NULL;
    const char *m = json_as_str(json_get_path(doc, "status.error"));
    if (!m) m = json_as_str(json_get_path(doc, "error.message"));
    if (!m) m = json_as_str(json_get(doc, "error"));
    return m;
}

int client_call(Client *c, const char *method, const char *path, const char *content_type, const void *body,
                size_t body_len, Arena *arena, int *status, JsonValue **doc, char *err, size_t errlen)
{
    *doc = NULL;
    *status = 0;
    if (body && !content_type) content_type = "application/json";
    for (int attempt = 0;; attempt++) {
        HttpcResponse r;
        char herr[512];
        int rc = httpc_request(&c->http, method, path, content_type, body, body_len, &r, herr, sizeof herr);
        if (rc) {
            snprintf(err, errlen, "%s %s: %s", method, path, herr);
            return ERR_IO;
        }
        *status = r.status;
        if (r.status == 503 && r.retry_after[0] && attempt < CLIENT_BUSY_RETRIES) {
            /* Queues full (the server says when to come back): wait and
             * send the same request again; every request here is
             * idempotent. A 503 without Retry-After (no model loaded) is
             * not going to change: it is reported at once. */
            long wait = 1;
            parse_int(r.retry_after, 1, CLIENT_MAX_RETRY_WAIT_S, &wait);
            httpc_response_free(&r);
            sleep((unsigned)wait);
            continue;
        }
        char perr[256];
        JsonValue *v = NULL;
        if (r.body.len && json_parse(arena, r.body.data, r.body.len, &v, perr, sizeof perr) == 0) *doc = v;
        if (r.status >= 200 && r.status < 300) {
            httpc_response_free(&r);
            if (!*doc) {
                snprintf(err, errlen, "%s %s: the answer is not JSON", method, path);
                return ERR_FORMAT;
            }
            return 0;
        }
        const char *m = error_message(*doc);
        /* The path without its query, to say which request failed. */
        int pl = (int)strcspn(path, "?");
        snprintf(err, errlen, "%s %.*s: HTTP %d: %.*s", method, pl, path, r.status,
                 m ? 400 : (int)(r.body.len > 200 ? 200 : r.body.len), m ? m : r.body.data ? r.body.data : "");
        httpc_response_free(&r);
        return *status == 404 ? ERR_NOTFOUND : *status == 503 ? ERR_BUSY : ERR_INVAL;
    }
}

void base64_encode(Buf *out, const void *data, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *d = data;
    buf_reserve(out, (n + 2) / 3 * 4 + 1);
    char *o = out->data + out->len;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
        *o++ = tbl[v >> 18];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = tbl[(v >> 6) & 63];
        *o++ = tbl[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0);
        *o++ = tbl[v >> 18];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0'; /* a Buf stays NUL-terminated */
    out->len = (size_t)(o - out->data);
}

void client_path_escape(Buf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '_' || ch == '.' || ch == '~')
            buf_append(out, s, 1);
        else
            buf_printf(out, "%%%02X", ch);
    }
}
