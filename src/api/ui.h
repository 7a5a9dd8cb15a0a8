/*
 * ui.h - the web page at /ui: search by words or by photo, thumbnails,
 * "more like this", a payload filter and zero-shot classification, all
 * through the public HTTP API (the page is a client like any other).
 *
 * Design. The page is three files kept as real HTML, CSS and plain
 * JavaScript in src/api/ui/ (no framework, nothing fetched from elsewhere
 * at run time). tools/embed_files.sh turns them into a C table at build
 * time (build/<kind>/gen/ui_assets.c), so the binary carries the page and
 * serves it from memory. Routes: GET /ui (the page) and GET /ui/{file}
 * (its stylesheet, script and icon), each with a strong ETag, no-cache
 * revalidation and a Content-Security-Policy that allows only this origin,
 * so a page that tried to load anything from elsewhere would fail loudly.
 *
 * GET / belongs to Qdrant's API (its clients read the version there); a
 * browser asking for HTML there is sent to /ui instead (ui_redirect_browser,
 * called by that route), while API clients keep getting the JSON.
 */
#ifndef VITRINE_API_UI_H
#define VITRINE_API_UI_H

#include <stddef.h>

#include "server/http.h"
#include "server/server.h"

/* One embedded file: its base name and bytes (followed by a NUL that len
 * does not count). */
typedef struct {
    const char *name;
    const unsigned char *data;
    size_t len;
} UiAsset;

/* The embedded files, ended by an entry with a NULL name (generated). */
extern const UiAsset ui_assets[];

/* The module that serves the page; serve lists it after the API modules. */
extern const ServerModule api_ui_module;

/* ui_accepts_html is 1 when an Accept header value lists text/html with a
 * non-zero quality (what browsers send for a page), 0 otherwise (NULL,
 * a wildcard, application/json). */
int ui_accepts_html(const char *accept);

/*
 * ui_redirect_browser answers req with 303 See Other to /ui and returns 1
 * when the page is being served and the request's Accept asks for HTML;
 * otherwise it returns 0 and leaves req alone. Loop thread.
 */
int ui_redirect_browser(HttpRequest *req);

#endif
