/*
 * auth.h - API keys, as Qdrant checks them (src/actix/auth.rs and
 * src/common/auth/mod.rs in Qdrant's source).
 *
 * Design. With no key configured every request is served. With a key, a
 * request must carry it in the `api-key` header or as
 * `Authorization: Bearer <key>` (the `api-key` header wins when both are
 * sent, as in Qdrant). The read-write key may do everything; the read-only
 * key may do what does not change data: GET and HEAD, and the POST routes
 * that only read (search, query, recommend, scroll, count, retrieve, ...,
 * listed in auth.c). Answers follow Qdrant: 401 text/plain
 * "Must provide an API key or an Authorization bearer token" without a
 * key, 401 text/plain "Invalid API key or JWT" with a wrong one, 403 in
 * the JSON error shape "Forbidden: Global manage access is required" for a
 * write with the read-only key. Open without a key: "/", the probes
 * (/healthz, /livez, /readyz), the web UI's static files (/ui,
 * /ui/{file}) and, with AUTH_METRICS_OPEN, /metrics; CORS
 * preflights are answered before this check, as Qdrant's CORS middleware
 * wraps its auth.
 *
 * Keys are compared in constant time: both sides are hashed with SHA-256
 * and the digests compared with an OR of XORs, so neither a key's bytes
 * nor its length shows in the timing. Failures are counted in
 * vitrine_auth_failures_total{reason} and logged at debug level only (a
 * client probing keys must not be able to fill the log); the key itself
 * is never logged.
 */
#ifndef VITRINE_AUTH_H
#define VITRINE_AUTH_H

#include <stdint.h>

#include "base/sha256.h"
#include "server/http.h"
#include "server/router.h"

/* Longest key accepted from a flag, a file or the environment. */
#define AUTH_MAX_KEY_BYTES 4096

/* Who may read /metrics. */
typedef enum {
    AUTH_METRICS_KEY = 0, /* like every other route (Qdrant's behaviour) */
    AUTH_METRICS_OPEN,    /* without a key, for a scraper on a private network */
    AUTH_METRICS_OFF,     /* the route does not exist */
} AuthMetricsMode;

typedef struct {
    int has_rw, has_ro;
    uint8_t rw_digest[SHA256_DIGEST_LEN]; /* SHA-256 of the read-write key */
    uint8_t ro_digest[SHA256_DIGEST_LEN]; /* SHA-256 of the read-only key */
    AuthMetricsMode metrics;
} AuthConfig;

/* auth_config_set_keys keeps the digests of the keys (either may be NULL
 * for none); the caller may wipe its copies afterwards. ERR_INVAL for an
 * empty key or the same key given as both. */
int auth_config_set_keys(AuthConfig *a, const char *rw_key, const char *ro_key);

/* auth_enabled says whether any key is configured. */
int auth_enabled(const AuthConfig *a);

/* auth_equal compares two byte strings in constant time (in the sense
 * above): 1 when equal. */
int auth_equal(const char *x, size_t x_len, const char *y, size_t y_len);

/*
 * auth_check lets req through (returns 1) or answers it with 401 or 403
 * and returns 0. router finds the route of a non-GET request with the
 * read-only key, to tell a read from a write. Loop thread.
 */
int auth_check(const AuthConfig *a, const Router *router, HttpRequest *req);

/* auth_route_is_read says whether (method, route pattern) only reads. */
int auth_route_is_read(HttpMethod method, const char *pattern);

/* auth_read_key_file reads a key from path into out (trailing whitespace
 * stripped). ERR_IO or ERR_INVAL, with the reason printed to stderr. */
int auth_read_key_file(const char *path, char *out, size_t out_len);

#endif
