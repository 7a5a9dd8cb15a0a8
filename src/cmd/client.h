/*
 * client.h - what the client commands (index, search, classify, export)
 * share: the options that say which server to talk to, the in-process
 * server of standalone mode, JSON requests with Qdrant's envelope, base64.
 *
 * Design. Every client command is an HTTP client of the server's public
 * API, whether the server is remote (--url) or started in this process on
 * the data directory (--data DIR --weights DIR): there is one code path,
 * so `vitrine index --data` stores exactly what `vitrine index --url`
 * would, and the API's limits, moderation and thumbnails apply alike. The
 * alternative rejected, calling the engine's C functions directly, would
 * have been a second implementation of ingest to keep equal to the API's.
 * The in-process server takes the data directory's lock (store.c), so a
 * standalone command refuses a directory a running `vitrine serve` holds.
 */
#ifndef VITRINE_CLIENT_H
#define VITRINE_CLIENT_H

#include <stdio.h>

#include "base/arena.h"
#include "base/json.h"
#include "base/util.h"
#include "cmd/httpc.h"
#include "server/server.h"

#define CLIENT_DEFAULT_URL "http://127.0.0.1:6333"

typedef struct {
    const char *url;         /* --url (VITRINE_URL); NULL with --data */
    int url_given;           /* --url was on the command line (refused with --data) */
    const char *data_dir;    /* --data: standalone mode */
    const char *weights_dir; /* --weights (VITRINE_WEIGHTS) */
    const char *api_key;     /* --api-key (VITRINE_API_KEY): sent as the api-key header */
    int timeout_ms;          /* --timeout SECONDS */
    int verbose;             /* --verbose: the in-process server's info logs */
    ServerConfig cfg;        /* standalone: the in-process server's settings */
    ServerThread *server;    /* standalone: the in-process server */
    char base_url[64];       /* standalone: http://127.0.0.1:PORT */
    char standalone_key[65]; /* standalone: the in-process server's random API key */
    HttpClient http;
} Client;

void client_init(Client *c);

/*
 * client_take_option recognises argv[*i] as one of the shared options
 * (--url, --data, --weights, --api-key, --timeout, --verbose): 1 taken
 * (*i advanced past a value), 0 not one of them, -1 bad value (printed).
 */
int client_take_option(Client *c, int argc, char **argv, int *i);

/* client_usage prints the shared options for a command's --help. */
void client_usage(FILE *f);

/*
 * client_connect prepares the connection: to --url, or (with --data) to a
 * server started in this process on 127.0.0.1 with a free port. cmd names
 * the command in messages. 0, or ERR_* after printing why: ERR_INVAL for
 * the options (--url with --data, a URL that is not http://, a key with a
 * line break), which the commands answer with exit status 2; ERR_IO when
 * the data directory cannot be opened (held by another process).
 */
int client_connect(Client *c, const char *cmd);

/* client_close stops the in-process server (if any) and closes the
 * connection; returns ERR_IO when the server did not stop cleanly. */
int client_close(Client *c);

/* client_url is the URL requests go to (for messages). */
const char *client_url(const Client *c);

/*
 * client_call sends body (JSON text, NULL for none; or content_type other
 * than JSON for e.g. multipart) and parses the answer as JSON into arena.
 * *status gets the HTTP status and *doc the parsed body (NULL when the
 * body is not JSON). Returns 0 for a 2xx answer; otherwise a negative
 * ERR_* with err holding "HTTP 404: <the server's message>" or the
 * transport's error: ERR_NOTFOUND (404), ERR_BUSY (503; one with a Retry-After
 * is first retried up to CLIENT_BUSY_RETRIES times as it asks), ERR_IO (no answer),
 * ERR_INVAL (another status). *doc is set on error statuses too.
 */
#define CLIENT_BUSY_RETRIES 20
int client_call(Client *c, const char *method, const char *path, const char *content_type, const void *body,
                size_t body_len, Arena *arena, int *status, JsonValue **doc, char *err, size_t errlen);

/* client_result is doc's "result" member (NULL when absent). */
const JsonValue *client_result(const JsonValue *doc);

/* base64_encode appends standard base64 of data[0..n) to out. */
void base64_encode(Buf *out, const void *data, size_t n);

/* client_path_escape appends s percent-encoded for a URL path segment. */
void client_path_escape(Buf *out, const char *s);

#endif
