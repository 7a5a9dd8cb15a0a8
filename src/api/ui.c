/*
 * ui.c - the web page at /ui (see ui.h): serves the files that
 * tools/embed_files.sh compiled in from src/api/ui/, and sends browsers
 * that open the server's root to it.
 */
#include "api/ui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/log.h"
#include "base/sha256.h"
#include "base/util.h"

/* The page's entry file, served at /ui itself. */
#define UI_INDEX "index.html"
/* Embedded files at most (the page has four). */
#define UI_MAX_FILES 16

/*
 * Only this origin: the page must work with nothing from elsewhere, and a
 * mistake that pulls a script, font or image from a CDN shows up as a
 * refused load (a console error the browser test fails on) instead of
 * silently working only when online. blob: is for the preview of the
 * photo being searched with (URL.createObjectURL); inline styles and
 * scripts stay forbidden.
 */
#define UI_CSP "default-src 'none'; script-src 'self'; style-src 'self'; " \
               "img-src 'self' blob:; connect-src 'self'; base-uri 'none'; " \
               "form-action 'none'; frame-ancestors 'none'"

typedef struct {
    const UiAsset *asset;
    const char *content_type;
    char etag[SHA256_HEX_LEN + 3]; /* "\"<hex>\"" */
} UiFile;

static UiFile ui_files[UI_MAX_FILES];
static size_t ui_n_files;
/* Set while the module runs, so GET / redirects only to a page that is
 * served (a server built without this module keeps answering JSON). */
static int ui_running;

/* content_type_for maps the embedded files' extensions to their types. */
static const char *content_type_for(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return "application/octet-stream";
    if (!strcmp(dot, ".html")) return "text/html; charset=utf-8";
    if (!strcmp(dot, ".css")) return "text/css; charset=utf-8";
    if (!strcmp(dot, ".js")) return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".svg")) return "image/svg+xml";
    return "application/octet-stream";
}

/* etag_matches: If-None-Match lists etag (weak comparison, RFC 9110
 * 13.1.2: a W/ prefix is ignored) or is "*". */
static int etag_matches(const char *header, const char *etag)
{
    if (!header) return 0;
    size_t elen = strlen(etag);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (*p == '*') return 1;
        if (!strncmp(p, "W/", 2)) p += 2;
        const char *start = p;
        while (*p && *p != ',') p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
        if ((size_t)(end - start) == elen && !strncmp(start, etag, elen)) return 1;
    }
    return 0;
}

static void respond_file(HttpRequest *req, const UiFile *f)
{
    http_set_header(req, "ETag", f->etag);
    /* Revalidate each time: after an upgrade the page must not run an old
     * script against a new server, and a 304 costs one round trip. */
    http_set_header(req, "Cache-Control", "no-cache");
    http_set_header(req, "X-Content-Type-Options", "nosniff");
    http_set_header(req, "Referrer-Policy", "no-referrer");
    if (!strcmp(f->asset->name, UI_INDEX)) {
        http_set_header(req, "Content-Security-Policy", UI_CSP);
        http_set_header(req, "X-Frame-Options", "DENY");
    }
    if (etag_matches(http_header(req, "If-None-Match"), f->etag)) {
        http_respond(req, 304, NULL, NULL, 0);
        return;
    }
    http_respond(req, 200, f->content_type, f->asset->data, f->asset->len);
}

static const UiFile *find_file(const char *name)
{
    for (size_t i = 0; i < ui_n_files; i++)
        if (!strcmp(ui_files[i].asset->name, name)) return &ui_files[i];
    return NULL;
}

/* GET /ui: the page. */
static void handle_page(HttpRequest *req, void *ctx)
{
    (void)ctx;
    const UiFile *f = find_file(UI_INDEX);
    if (!f) {
        http_respond_error(req, 404, "Not found: the web page is not built into this binary");
        return;
    }
    respond_file(req, f);
}

/* GET /ui/{file}: the page's stylesheet, script and icon. */
static void handle_file(HttpRequest *req, void *ctx)
{
    (void)ctx;
    const char *name = http_param(req, "file");
    const UiFile *f = name ? find_file(name) : NULL;
    if (!f) {
        http_respond_error(req, 404, "Not found: no file %s in the web page", name ? name : "");
        return;
    }
    respond_file(req, f);
}

int ui_accepts_html(const char *accept)
{
    if (!accept) return 0;
    const char *p = accept;
    while (*p) {
        /* One element of the list: a media range, then ;parameters. */
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') p++;
        int html = (size_t)(p - start) == 9 && !strncasecmp(start, "text/html", 9);
        double q = 1.0;
        while (*p && *p != ',') {
            while (*p == ' ' || *p == '\t' || *p == ';') p++;
            if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
                char *end;
                q = strtod(p + 2, &end);
                p = end;
            }
            while (*p && *p != ';' && *p != ',') p++;
        }
        if (html && q > 0) return 1;
    }
    return 0;
}

int ui_redirect_browser(HttpRequest *req)
{
    if (!ui_running || !find_file(UI_INDEX)) return 0;
    if (req->method != HTTP_METHOD_GET && req->method != HTTP_METHOD_HEAD) return 0;
    if (!ui_accepts_html(http_header(req, "Accept"))) return 0;
    /* The answer depends on Accept: caches must keep the two apart. */
    http_set_header(req, "Vary", "Accept");
    http_set_header(req, "Location", "/ui");
    http_respond(req, 303, "text/plain; charset=utf-8", "See /ui\n", 8);
    return 1;
}

static int module_start(Server *srv, Router *router, void **state)
{
    (void)srv;
    ui_n_files = 0;
    for (const UiAsset *a = ui_assets; a->name; a++) {
        if (ui_n_files == UI_MAX_FILES) {
            log_error("the web page has more than %d files", UI_MAX_FILES);
            return ERR_FULL;
        }
        UiFile *f = &ui_files[ui_n_files++];
        f->asset = a;
        f->content_type = content_type_for(a->name);
        uint8_t digest[SHA256_DIGEST_LEN];
        char hex[SHA256_HEX_LEN + 1];
        sha256(a->data, a->len, digest);
        sha256_hex(digest, hex);
        snprintf(f->etag, sizeof f->etag, "\"%s\"", hex);
    }
    int rc = router_add(router, "GET", "/ui", handle_page, NULL);
    if (!rc) rc = router_add(router, "GET", "/ui/{file}", handle_file, NULL);
    if (rc) {
        log_error("cannot add the /ui routes: %s", err_str(rc));
        return rc;
    }
    ui_running = 1;
    *state = NULL;
    return 0;
}

static void module_destroy(void *state)
{
    (void)state;
    ui_running = 0;
}

const ServerModule api_ui_module = { "ui", module_start, NULL, module_destroy };
