/*
 * search.c - `vitrine search` and `vitrine classify`: the terminal's view
 * of POST /v1/collections/{c}/search and POST /v1/classify.
 *
 * Both are thin clients (client.h): the request is the API's, the output
 * either a table for people or the API's own objects as JSON lines for
 * scripts (`--json`), so a script sees exactly what the HTTP API answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/cli.h"
#include "base/err.h"
#include "base/json.h"
#include "base/util.h"
#include "cmd/client.h"
#include "cmd/cmd.h"

#define SEARCH_DEFAULT_LIMIT 10
#define SEARCH_MAX_LIMIT 100000
#define SEARCH_TITLE_COLS 48 /* table column width of the title, in characters */
/* The server refuses larger images; reading more is pointless. */
#define SEARCH_MAX_IMAGE_BYTES (16u * 1024 * 1024)

/* append_image_b64 reads path and appends its bytes as a base64 JSON
 * string value through w. */
static int append_image_b64(JsonWriter *w, const char *path, const char *cmd)
{
    char *bytes;
    size_t len;
    int rc = file_read_all(path, SEARCH_MAX_IMAGE_BYTES, &bytes, &len);
    if (rc) {
        fprintf(stderr, "vitrine %s: cannot read %s: %s\n", cmd, path,
                rc == ERR_NOTFOUND ? "no such file" : rc == ERR_TOOLARGE ? "larger than 16 MiB" : err_str(rc));
        return rc;
    }
    Buf b64;
    buf_init(&b64);
    base64_encode(&b64, bytes, len);
    free(bytes);
    jw_string_len(w, b64.data, b64.len);
    buf_free(&b64);
    return 0;
}

/* write_id writes an id given on the command line: digits are a number,
 * anything else a string (a UUID; the server says when it is not one). */
static void write_id(JsonWriter *w, const char *id)
{
    uint64_t u;
    if (parse_u64(id, &u) == 0) jw_uint(w, u);
    else jw_string(w, id);
}

/* utf8_prefix returns how many bytes of s hold at most cols characters,
 * never splitting a character; *cut reports whether s was longer. */
static size_t utf8_prefix(const char *s, size_t cols, int *cut)
{
    size_t i = 0, c = 0;
    while (s[i] && c < cols) {
        i++;
        while ((s[i] & 0xC0) == 0x80) i++;
        c++;
    }
    *cut = s[i] != '\0';
    return i;
}

/* cell_text writes a payload value for a table cell: strings as they are,
 * other values as JSON. */
static void cell_text(Buf *out, const JsonValue *v)
{
    out->len = 0;
    buf_append(out, "", 0);
    if (!v || v->type == JSON_NULL) return;
    if (v->type == JSON_STRING) {
        buf_append(out, v->u.str, v->len);
        return;
    }
    JsonWriter w;
    jw_init(&w, out);
    jw_value(&w, v);
}

static void search_usage(FILE *f)
{
    fprintf(f,
            "usage: vitrine search --collection NAME (--text T | --image PATH | --id ID) [options]\n"
            "\n"
            "Search a collection by words, by a photo, or for items like an item (POST\n"
            "/v1/collections/NAME/search). Prints a table (id, score, title, price: the\n"
            "payload's title, else its name or _file, and its price), best first.\n"
            "\n"
            "  --collection NAME   the collection (required)\n"
            "  --text T            items whose photo matches the words T\n"
            "  --image PATH        items whose photo looks like this photo\n"
            "  --id ID             items like the item ID (an integer or a UUID), itself excluded\n"
            "  --using V           compare against the items' \"image\" (default) or \"text\" vectors\n"
            "  --filter JSON       a Qdrant filter, e.g. '{\"must\": [{\"key\": \"brand\", \"match\":\n"
            "                      {\"value\": \"acme\"}}]}'\n"
            "  --limit N           results, 1 to %d (default %d)\n"
            "  --json              one JSON object a line, as the API answers: {\"id\", \"score\",\n"
            "                      \"payload\"}\n",
            SEARCH_MAX_LIMIT, SEARCH_DEFAULT_LIMIT);
    client_usage(f);
}

int cmd_search(int argc, char **argv)
{
    Client client;
    client_init(&client);
    const char *collection = NULL, *text = NULL, *image = NULL, *id = NULL, *using = NULL, *filter = NULL;
    long limit = SEARCH_DEFAULT_LIMIT;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            search_usage(stdout);
            return 0;
        }
        if ((r = client_take_option(&client, argc, argv, &i))) {
            if (r < 0) goto usage;
        } else if ((r = cli_take_value(argc, argv, &i, "--collection", &v))) {
            if (r < 0) goto usage;
            collection = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--text", &v))) {
            if (r < 0) goto usage;
            text = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--image", &v))) {
            if (r < 0) goto usage;
            image = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--id", &v))) {
            if (r < 0) goto usage;
            id = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--using", &v))) {
            if (r < 0) goto usage;
            using = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--filter", &v))) {
            if (r < 0) goto usage;
            filter = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--limit", &v))) {
            if (r < 0) goto usage;
            if (parse_int(v, 1, SEARCH_MAX_LIMIT, &limit)) {
                fprintf(stderr, "vitrine search: --limit wants 1 to %d, not '%s'\n", SEARCH_MAX_LIMIT, v);
                goto usage;
            }
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else {
            fprintf(stderr, "vitrine search: unknown argument %s\n", argv[i]);
            goto usage;
        }
    }
    if (!collection) {
        fprintf(stderr, "vitrine search: --collection is required\n");
        goto usage;
    }
    if (!!text + !!image + !!id != 1) {
        fprintf(stderr, "vitrine search: give exactly one of --text, --image, --id\n");
        goto usage;
    }
    Arena a;
    arena_init(&a, 0);
    if (filter) {
        JsonValue *fv;
        char perr[200];
        if (json_parse(&a, filter, strlen(filter), &fv, perr, sizeof perr) || fv->type != JSON_OBJECT) {
            fprintf(stderr, "vitrine search: --filter is not a JSON object%s%s\n", fv ? ": " : "", perr);
            arena_free(&a);
            return 2;
        }
    }
    Buf body;
    buf_init(&body);
    JsonWriter w;
    jw_init(&w, &body);
    jw_object_begin(&w);
    if (text) {
        jw_key(&w, "text");
        jw_string(&w, text);
    } else if (image) {
        jw_key(&w, "image");
        if (append_image_b64(&w, image, "search")) {
            buf_free(&body);
            arena_free(&a);
            return 1;
        }
    } else {
        jw_key(&w, "id");
        write_id(&w, id);
    }
    if (using) {
        jw_key(&w, "using");
        jw_string(&w, using);
    }
    if (filter) {
        jw_key(&w, "filter");
        jw_raw(&w, filter, strlen(filter));
    }
    jw_key(&w, "limit");
    jw_int(&w, limit);
    jw_key(&w, "with_payload");
    jw_bool(&w, 1);
    jw_object_end(&w);

    int status = 1;
    int crc = client_connect(&client, "search");
    if (crc) {
        if (crc == ERR_INVAL) status = 2; /* the options (see client_connect) */
        goto out;
    }
    Buf path;
    buf_init(&path);
    buf_append_str(&path, "/v1/collections/");
    client_path_escape(&path, collection);
    buf_append_str(&path, "/search");
    char err[1024];
    int http;
    JsonValue *doc;
    int rc = client_call(&client, "POST", path.data, NULL, body.data, body.len, &a, &http, &doc, err, sizeof err);
    buf_free(&path);
    const JsonValue *res = client_result(doc);
    if (rc || !res || res->type != JSON_ARRAY) {
        fprintf(stderr, "vitrine search: %s: %s\n", client_url(&client), rc ? err : "the answer has no result list");
        client_close(&client);
        goto out;
    }
    Buf line, cell;
    buf_init(&line);
    buf_init(&cell);
    if (as_json) {
        for (uint32_t k = 0; k < res->len; k++) {
            line.len = 0;
            JsonWriter lw;
            jw_init(&lw, &line);
            jw_value(&lw, &res->u.items[k]);
            printf("%s\n", line.data);
        }
    } else {
        /* The id column is as wide as the widest id. */
        size_t idw = 2;
        char idt[64];
        for (uint32_t k = 0; k < res->len; k++) {
            const JsonValue *iv = json_get(&res->u.items[k], "id");
            cell_text(&cell, iv);
            if (cell.len > idw) idw = cell.len;
        }
        printf("%-*s  %-7s  %-*s  %s\n", (int)idw, "id", "score", SEARCH_TITLE_COLS, "title", "price");
        for (uint32_t k = 0; k < res->len; k++) {
            const JsonValue *hit = &res->u.items[k];
            cell_text(&cell, json_get(hit, "id"));
            snprintf(idt, sizeof idt, "%s", cell.data);
            double score = 0;
            json_as_double(json_get(hit, "score"), &score);
            const JsonValue *p = json_get(hit, "payload");
            const JsonValue *title = json_get(p, "title");
            if (!title) title = json_get(p, "name");
            if (!title) title = json_get(p, "_file");
            cell_text(&cell, title);
            for (size_t c = 0; c < cell.len; c++)
                if (cell.data[c] == '\n' || cell.data[c] == '\t' || cell.data[c] == '\r') cell.data[c] = ' ';
            int cut;
            size_t tb = utf8_prefix(cell.data, SEARCH_TITLE_COLS - 1, &cut);
            /* Pad by characters, not bytes, so accented titles line up. */
            size_t chars = 0;
            for (size_t c = 0; c < tb; c++) chars += (cell.data[c] & 0xC0) != 0x80;
            line.len = 0;
            buf_printf(&line, "%-*s  %-7.4f  %.*s%s", (int)idw, idt, score, (int)tb, cell.data, cut ? "~" : "");
            for (size_t c = chars + (size_t)cut; c < SEARCH_TITLE_COLS; c++) buf_append(&line, " ", 1);
            cell_text(&cell, json_get(p, "price"));
            printf("%s  %s\n", line.data, cell.data);
        }
        if (res->len == 0) printf("(no results)\n");
    }
    buf_free(&line);
    buf_free(&cell);
    status = client_close(&client) ? 1 : 0;
out:
    buf_free(&body);
    arena_free(&a);
    return status;

usage:
    fprintf(stderr, "run `vitrine search --help` for the options\n");
    return 2;
}

/* ---- classify ---- */

static void classify_usage(FILE *f)
{
    fprintf(f,
            "usage: vitrine classify --image PATH --labels A,B,C [options]\n"
            "\n"
            "Zero-shot classification of a photo with CLIP (POST /v1/classify): prints each\n"
            "label with its probability (softmax over the labels), highest first.\n"
            "\n"
            "  --image PATH        the photo\n"
            "  --labels A,B,C      the labels, comma-separated\n"
            "  --template T        a prompt template with {} for the label, e.g. \"a photo of a {}.\";\n"
            "                      repeat for an ensemble (default: the server's six product-photo\n"
            "                      templates)\n"
            "  --templates T1|T2   several templates at once, separated by |\n"
            "  --json              the API's result: [{\"label\", \"score\"}, ...]\n");
    client_usage(f);
}

/* write_split writes s split at sep as JSON strings (empty items skipped). */
static size_t write_split(JsonWriter *w, const char *s, char sep)
{
    size_t n = 0;
    while (*s) {
        const char *e = strchr(s, sep);
        size_t len = e ? (size_t)(e - s) : strlen(s);
        const char *b = s;
        while (len && (*b == ' ')) b++, len--;
        while (len && b[len - 1] == ' ') len--;
        if (len) {
            jw_string_len(w, b, len);
            n++;
        }
        if (!e) break;
        s = e + 1;
    }
    return n;
}

int cmd_classify(int argc, char **argv)
{
    Client client;
    client_init(&client);
    const char *image = NULL, *labels = NULL;
    /* Each --template is one template, each --templates a |-list: kept in
     * command-line order with a flag saying which. */
    const char **templates = xcalloc((size_t)argc + 1, sizeof *templates);
    int *is_list = xcalloc((size_t)argc + 1, sizeof *is_list);
    size_t n_templates = 0;
    int as_json = 0, status = 2;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            classify_usage(stdout);
            status = 0;
            goto done;
        }
        if ((r = client_take_option(&client, argc, argv, &i))) {
            if (r < 0) goto usage;
        } else if ((r = cli_take_value(argc, argv, &i, "--image", &v))) {
            if (r < 0) goto usage;
            image = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--labels", &v))) {
            if (r < 0) goto usage;
            labels = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--templates", &v))) {
            if (r < 0) goto usage;
            is_list[n_templates] = 1;
            templates[n_templates++] = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--template", &v))) {
            if (r < 0) goto usage;
            templates[n_templates++] = v;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else {
            fprintf(stderr, "vitrine classify: unknown argument %s\n", argv[i]);
            goto usage;
        }
    }
    if (!image || !labels) {
        fprintf(stderr, "vitrine classify: %s is required\n", !image ? "--image" : "--labels");
        goto usage;
    }
    Buf body;
    buf_init(&body);
    JsonWriter w;
    jw_init(&w, &body);
    jw_object_begin(&w);
    jw_key(&w, "labels");
    jw_array_begin(&w);
    size_t n_labels = write_split(&w, labels, ',');
    jw_array_end(&w);
    if (n_templates) {
        jw_key(&w, "templates");
        jw_array_begin(&w);
        for (size_t k = 0; k < n_templates; k++) {
            if (is_list[k]) write_split(&w, templates[k], '|');
            else jw_string(&w, templates[k]);
        }
        jw_array_end(&w);
    }
    if (!n_labels) {
        fprintf(stderr, "vitrine classify: --labels names no label\n");
        buf_free(&body);
        goto usage;
    }
    status = 1;
    jw_key(&w, "image");
    if (append_image_b64(&w, image, "classify")) {
        buf_free(&body);
        goto done;
    }
    jw_object_end(&w);
    int crc = client_connect(&client, "classify");
    if (crc) {
        if (crc == ERR_INVAL) status = 2; /* the options (see client_connect) */
        buf_free(&body);
        goto done;
    }
    Arena a;
    arena_init(&a, 0);
    char err[1024];
    int http;
    JsonValue *doc;
    int rc = client_call(&client, "POST", "/v1/classify", NULL, body.data, body.len, &a, &http, &doc, err, sizeof err);
    buf_free(&body);
    const JsonValue *res = client_result(doc);
    if (rc || !res || res->type != JSON_ARRAY) {
        fprintf(stderr, "vitrine classify: %s: %s\n", client_url(&client), rc ? err : "the answer has no result list");
        client_close(&client);
        arena_free(&a);
        goto done;
    }
    Buf line;
    buf_init(&line);
    if (as_json) {
        JsonWriter lw;
        jw_init(&lw, &line);
        jw_value(&lw, res);
        printf("%s\n", line.data);
    } else {
        size_t lw = 5;
        for (uint32_t k = 0; k < res->len; k++) {
            const char *l = json_as_str(json_get(&res->u.items[k], "label"));
            if (l && strlen(l) > lw) lw = strlen(l);
        }
        for (uint32_t k = 0; k < res->len; k++) {
            const char *l = json_as_str(json_get(&res->u.items[k], "label"));
            double score = 0;
            json_as_double(json_get(&res->u.items[k], "score"), &score);
            printf("%-*s  %.4f\n", (int)lw, l ? l : "?", score);
        }
    }
    buf_free(&line);
    arena_free(&a);
    status = client_close(&client) ? 1 : 0;
    goto done;
usage:
    fprintf(stderr, "run `vitrine classify --help` for the options\n");
    status = 2;
done:
    free(templates);
    free(is_list);
    return status;
}
