/*
 * export.c - `vitrine export`: copy a collection (ids, every vector, named
 * and sparse and multi, payloads) into any Qdrant server, for a shop that
 * outgrows one box.
 *
 * Design. Only Qdrant's public API on both sides: pages of
 * POST /collections/{c}/points/scroll (with vectors and payloads) from the
 * source, each written with PUT /collections/{c}/points?wait=true to the
 * target, which is created first with the source's vector configuration
 * (GET /collections/{c}: config.params.vectors and sparse_vectors). The
 * target can be Qdrant itself, a Qdrant cluster, or another vitrine.
 *
 * Resuming. A scroll walks the points in id order and names the next
 * page's first id (next_page_offset). After each page is acknowledged by
 * the target (wait=true: stored), that offset is written to a state file
 * (through a temporary file and rename, so a crash leaves the old or the
 * new one), and a new run with the same source, collection and target
 * starts from it. The alternative rejected, asking the target which ids it
 * has, costs a round trip per page and still cannot tell a point that was
 * half-written from one that is complete. Rewriting a page is harmless
 * (upserts by id), so a crash between the write and the state update only
 * repeats one page. The state file is removed when the export completes.
 *
 * Thumbnails are vitrine's own (not Qdrant data) and are not exported.
 * Points written to the source while the export runs may or may not be
 * included, as with any scroll; run it again to catch up (it starts over
 * once a previous run completed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/cli.h"
#include "base/err.h"
#include "base/json.h"
#include "base/util.h"
#include "cmd/client.h"
#include "cmd/cmd.h"

#define EXPORT_MIN_BATCH 1
#define EXPORT_DEFAULT_BATCH 256
/* 1000 points of two 512-d vectors are about 11 MB of JSON: well under the
 * default request body limit (32 MiB) of a vitrine target. */
#define EXPORT_MAX_BATCH 1000
#define EXPORT_PROGRESS_S 5.0
#define EXPORT_MAX_STATE_BYTES (64 * 1024)

static void export_usage(FILE *f)
{
    fprintf(f,
            "usage: vitrine export --collection NAME --to URL [options]\n"
            "\n"
            "Copy a collection (point ids, all vectors, payloads) into a Qdrant server (or\n"
            "another vitrine) through Qdrant's REST API: the target collection is created\n"
            "with the source's vector configuration when missing (an existing one must have\n"
            "the same vectors), then points are copied page by page (scroll, then upsert\n"
            "with wait=true). Thumbnails stay behind (they are vitrine's own).\n"
            "\n"
            "  --collection NAME     the source collection (required)\n"
            "  --to URL              the target server, e.g. http://qdrant:6333 (required)\n"
            "  --to-collection NAME  the target collection (default: the same name)\n"
            "  --api-key KEY         the target's API key (sent as the api-key header)\n"
            "  --source-api-key KEY  the source's API key (with --url)\n"
            "  --batch N             points per page, %d to %d (default %d)\n"
            "  --state FILE          where progress is kept to resume an interrupted export\n"
            "                        (default: vitrine-export-NAME.state in this folder; removed\n"
            "                        when the export completes)\n"
            "  --restart             ignore an existing state file and start from the first point\n"
            "\n"
            "The source is --url (a running server) or --data/--weights (the data directory,\n"
            "opened in this process); --api-key here is the target's.\n",
            EXPORT_MIN_BATCH, EXPORT_MAX_BATCH, EXPORT_DEFAULT_BATCH);
    client_usage(f);
}

/* vector_same compares one vector's config: size, distance, multivector. */
static int vector_same(const JsonValue *a, const JsonValue *b, const char *name, char *why, size_t cap)
{
    uint64_t sa = 0, sb = 0;
    json_as_uint64(json_get(a, "size"), &sa);
    json_as_uint64(json_get(b, "size"), &sb);
    const char *da = json_as_str(json_get(a, "distance"));
    const char *db = json_as_str(json_get(b, "distance"));
    const JsonValue *mva = json_get(a, "multivector_config"), *mvb = json_get(b, "multivector_config");
    int ma = mva && mva->type != JSON_NULL, mb = mvb && mvb->type != JSON_NULL;
    if (sa == sb && da && db && !strcmp(da, db) && ma == mb) return 1;
    snprintf(why, cap, "vector \"%s\": size %llu %s%s here, size %llu %s%s there", name, (unsigned long long)sa,
             da ? da : "?", ma ? " multivector" : "", (unsigned long long)sb, db ? db : "?", mb ? " multivector" : "");
    return 0;
}

/* vectors_compatible compares two `vectors` configs (one unnamed vector
 * {size, distance} or a map of named ones): same names, sizes, distances
 * and multivector-ness. Other settings (hnsw, on_disk) may differ. */
static int vectors_compatible(const JsonValue *a, const JsonValue *b, char *why, size_t cap)
{
    if (!a || !b) {
        if (a == b) return 1;
        snprintf(why, cap, "one has dense vectors, the other none");
        return 0;
    }
    int a_single = json_get(a, "size") != NULL, b_single = json_get(b, "size") != NULL;
    if (a_single != b_single) {
        snprintf(why, cap, "one has a single unnamed vector, the other named vectors");
        return 0;
    }
    if (a_single) return vector_same(a, b, "", why, cap);
    if (a->type != JSON_OBJECT || b->type != JSON_OBJECT || a->len != b->len) {
        snprintf(why, cap, "different vector names");
        return 0;
    }
    for (uint32_t k = 0; k < a->len; k++) {
        const char *name = a->u.members[k].key;
        const JsonValue *vb = json_get(b, name);
        if (!vb) {
            snprintf(why, cap, "the target has no vector \"%s\"", name);
            return 0;
        }
        if (!vector_same(&a->u.members[k].value, vb, name, why, cap)) return 0;
    }
    return 1;
}

/* state_write saves the resume point (the JSON text of the next page's
 * first id) atomically. */
static int state_write(const char *path, const char *source, const char *collection, const char *to,
                       const char *to_collection, const char *offset_json, uint64_t exported)
{
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "source");
    jw_string(&w, source);
    jw_key(&w, "collection");
    jw_string(&w, collection);
    jw_key(&w, "to");
    jw_string(&w, to);
    jw_key(&w, "to_collection");
    jw_string(&w, to_collection);
    jw_key(&w, "offset");
    jw_raw(&w, offset_json, strlen(offset_json));
    jw_key(&w, "exported");
    jw_uint(&w, exported);
    jw_object_end(&w);
    buf_append_str(&b, "\n");
    Buf tmp;
    buf_init(&tmp);
    buf_printf(&tmp, "%s.tmp", path);
    FILE *f = fopen(tmp.data, "w");
    int ok = f && fwrite(b.data, 1, b.len, f) == b.len;
    if (f && (fflush(f) || fsync(fileno(f)))) ok = 0;
    if (f && fclose(f)) ok = 0;
    if (ok && rename(tmp.data, path)) ok = 0;
    if (!ok) fprintf(stderr, "vitrine export: cannot write the state file %s: %s\n", path, strerror(errno));
    buf_free(&tmp);
    buf_free(&b);
    return ok ? 0 : ERR_IO;
}

int cmd_export(int argc, char **argv)
{
    Client src, dst;
    client_init(&src);
    client_init(&dst);
    const char *collection = NULL, *to = NULL, *to_collection = NULL, *state_path = NULL;
    const char *to_key = NULL;
    long batch = EXPORT_DEFAULT_BATCH;
    int restart = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            export_usage(stdout);
            return 0;
        }
        /* --api-key is the target's here (the interface), so it
         * is taken before the shared options. */
        if ((r = cli_take_value(argc, argv, &i, "--api-key", &v))) {
            if (r < 0) goto usage;
            to_key = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--source-api-key", &v))) {
            if (r < 0) goto usage;
            src.api_key = v;
        } else if ((r = client_take_option(&src, argc, argv, &i))) {
            if (r < 0) goto usage;
        } else if ((r = cli_take_value(argc, argv, &i, "--collection", &v))) {
            if (r < 0) goto usage;
            collection = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--to", &v))) {
            if (r < 0) goto usage;
            to = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--to-collection", &v))) {
            if (r < 0) goto usage;
            to_collection = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--state", &v))) {
            if (r < 0) goto usage;
            state_path = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--batch", &v))) {
            if (r < 0) goto usage;
            if (parse_int(v, EXPORT_MIN_BATCH, EXPORT_MAX_BATCH, &batch)) {
                fprintf(stderr, "vitrine export: --batch wants %d to %d, not '%s'\n", EXPORT_MIN_BATCH,
                        EXPORT_MAX_BATCH, v);
                goto usage;
            }
        } else if (!strcmp(argv[i], "--restart")) {
            restart = 1;
        } else {
            fprintf(stderr, "vitrine export: unknown argument %s\n", argv[i]);
            goto usage;
        }
    }
    if (!collection || !to) {
        fprintf(stderr, "vitrine export: %s is required\n", !collection ? "--collection" : "--to");
        goto usage;
    }
    if (!to_collection) to_collection = collection;
    dst.url = to;
    dst.url_given = 1;
    dst.api_key = to_key;
    dst.timeout_ms = src.timeout_ms;
    Buf default_state;
    buf_init(&default_state);
    if (!state_path) {
        buf_printf(&default_state, "vitrine-export-%s.state", collection);
        for (char *c = default_state.data; *c; c++)
            if (*c == '/') *c = '_';
        state_path = default_state.data;
    }

    int status = 1;
    char err[1024];
    Arena a;
    arena_init(&a, 0);
    int crc = client_connect(&src, "export");
    if (!crc) {
        crc = client_connect(&dst, "export");
        if (crc) client_close(&src);
    }
    if (crc) {
        if (crc == ERR_INVAL) status = 2; /* the options (see client_connect) */
        goto out_noconn;
    }
    /* Which source this is, for the state file: the URL, or the data
     * directory (the in-process server's port changes every run). */
    char source_name[SERVER_MAX_PATH + 16];
    if (src.data_dir) {
        char *real = realpath(src.data_dir, NULL);
        snprintf(source_name, sizeof source_name, "data:%s", real ? real : src.data_dir);
        free(real);
    } else {
        snprintf(source_name, sizeof source_name, "%s", src.url);
    }

    Buf sp, dp;
    buf_init(&sp);
    buf_init(&dp);
    buf_append_str(&sp, "/collections/");
    client_path_escape(&sp, collection);
    buf_append_str(&dp, "/collections/");
    client_path_escape(&dp, to_collection);
    size_t sp_len = sp.len, dp_len = dp.len;

    /* 1. The source's configuration; the target created or checked. */
    int http;
    JsonValue *doc;
    if (client_call(&src, "GET", sp.data, NULL, NULL, 0, &a, &http, &doc, err, sizeof err)) {
        fprintf(stderr, "vitrine export: source %s: %s\n", client_url(&src), err);
        goto out;
    }
    const JsonValue *params = json_get_path(client_result(doc), "config.params");
    const JsonValue *vectors = json_get(params, "vectors");
    const JsonValue *sparse = json_get(params, "sparse_vectors");
    JsonValue *tdoc;
    int rc = client_call(&dst, "GET", dp.data, NULL, NULL, 0, &a, &http, &tdoc, err, sizeof err);
    if (rc == ERR_NOTFOUND) {
        Buf body;
        buf_init(&body);
        JsonWriter w;
        jw_init(&w, &body);
        jw_object_begin(&w);
        if (vectors) {
            jw_key(&w, "vectors");
            jw_value(&w, vectors);
        }
        if (sparse && sparse->type == JSON_OBJECT) {
            jw_key(&w, "sparse_vectors");
            jw_value(&w, sparse);
        }
        jw_object_end(&w);
        rc = client_call(&dst, "PUT", dp.data, NULL, body.data, body.len, &a, &http, &tdoc, err, sizeof err);
        buf_free(&body);
        if (rc) {
            fprintf(stderr, "vitrine export: cannot create %s on %s: %s\n", to_collection, to, err);
            goto out;
        }
        fprintf(stderr, "export: created %s on %s\n", to_collection, to);
    } else if (rc) {
        fprintf(stderr, "vitrine export: target %s: %s\n", to, err);
        goto out;
    } else {
        char why[512];
        const JsonValue *tv = json_get_path(client_result(tdoc), "config.params.vectors");
        if (!vectors_compatible(vectors, tv, why, sizeof why)) {
            fprintf(stderr, "vitrine export: %s on %s exists with other vectors than the source's (%s)\n",
                    to_collection, to, why);
            goto out;
        }
    }

    /* 2. Where to start: the state file of an interrupted run, if any. */
    Buf offset;
    buf_init(&offset);
    buf_append_str(&offset, "null");
    uint64_t exported = 0;
    char *st_text;
    size_t st_len;
    if (!restart && file_read_all(state_path, EXPORT_MAX_STATE_BYTES, &st_text, &st_len) == 0) {
        JsonValue *st;
        char perr[200];
        int ok = json_parse(&a, st_text, st_len, &st, perr, sizeof perr) == 0 && st->type == JSON_OBJECT;
        const char *s_src = ok ? json_as_str(json_get(st, "source")) : NULL;
        const char *s_col = ok ? json_as_str(json_get(st, "collection")) : NULL;
        const char *s_to = ok ? json_as_str(json_get(st, "to")) : NULL;
        const char *s_tc = ok ? json_as_str(json_get(st, "to_collection")) : NULL;
        free(st_text);
        if (!s_src || !s_col || !s_to || !s_tc) {
            fprintf(stderr, "vitrine export: %s is not an export state file; remove it or pass --restart\n",
                    state_path);
            buf_free(&offset);
            goto out;
        }
        if (strcmp(s_src, source_name) || strcmp(s_col, collection) || strcmp(s_to, to) ||
            strcmp(s_tc, to_collection)) {
            fprintf(stderr, "vitrine export: %s belongs to another export (%s %s -> %s %s); pass --state "
                            "FILE for this one, or --restart\n", state_path, s_src, s_col, s_to, s_tc);
            buf_free(&offset);
            goto out;
        }
        offset.len = 0;
        JsonWriter ow;
        jw_init(&ow, &offset);
        jw_value(&ow, json_get(st, "offset"));
        json_as_uint64(json_get(st, "exported"), &exported);
        fprintf(stderr, "export: resuming after %llu points (from %s)\n", (unsigned long long)exported, state_path);
    }

    /* 3. Page by page. */
    double t0 = now_seconds(), last = t0;
    uint64_t this_run = 0;
    buf_append_str(&sp, "/points/scroll");
    buf_append_str(&dp, "/points?wait=true");
    for (;;) {
        Arena pa;
        arena_init(&pa, 0);
        Buf body;
        buf_init(&body);
        buf_printf(&body, "{\"limit\": %ld, \"with_payload\": true, \"with_vector\": true", batch);
        if (strcmp(offset.data, "null")) buf_printf(&body, ", \"offset\": %s", offset.data);
        buf_append_str(&body, "}");
        rc = client_call(&src, "POST", sp.data, NULL, body.data, body.len, &pa, &http, &doc, err, sizeof err);
        buf_free(&body);
        const JsonValue *res = client_result(doc);
        const JsonValue *pts = json_get(res, "points");
        if (rc || !pts || pts->type != JSON_ARRAY) {
            fprintf(stderr, "vitrine export: source %s: %s\n", client_url(&src), rc ? err : "no points in the answer");
            arena_free(&pa);
            buf_free(&offset);
            goto out;
        }
        if (pts->len) {
            buf_init(&body);
            JsonWriter w;
            jw_init(&w, &body);
            jw_object_begin(&w);
            jw_key(&w, "points");
            jw_array_begin(&w);
            for (uint32_t k = 0; k < pts->len; k++) {
                const JsonValue *p = &pts->u.items[k];
                jw_object_begin(&w);
                jw_key(&w, "id");
                jw_value(&w, json_get(p, "id"));
                const JsonValue *vec = json_get(p, "vector");
                if (vec && vec->type != JSON_NULL) {
                    jw_key(&w, "vector");
                    jw_value(&w, vec);
                }
                const JsonValue *pl = json_get(p, "payload");
                if (pl && pl->type == JSON_OBJECT) {
                    jw_key(&w, "payload");
                    jw_value(&w, pl);
                }
                jw_object_end(&w);
            }
            jw_array_end(&w);
            jw_object_end(&w);
            JsonValue *wdoc;
            rc = client_call(&dst, "PUT", dp.data, NULL, body.data, body.len, &pa, &http, &wdoc, err, sizeof err);
            buf_free(&body);
            if (rc) {
                fprintf(stderr, "vitrine export: target %s: %s\n", to, err);
                fprintf(stderr, "vitrine export: stopped after %llu points; run the same command again to resume\n",
                        (unsigned long long)exported);
                arena_free(&pa);
                buf_free(&offset);
                goto out;
            }
            exported += pts->len;
            this_run += pts->len;
        }
        const JsonValue *next = json_get(res, "next_page_offset");
        offset.len = 0;
        JsonWriter ow;
        jw_init(&ow, &offset);
        if (next) jw_value(&ow, next);
        else jw_null(&ow);
        arena_free(&pa);
        if (!strcmp(offset.data, "null")) break;
        if (state_write(state_path, source_name, collection, to, to_collection, offset.data, exported)) {
            buf_free(&offset);
            goto out;
        }
        double now = now_seconds();
        if (now - last >= EXPORT_PROGRESS_S) {
            last = now;
            fprintf(stderr, "export: %llu points (%.0f points/s)\n", (unsigned long long)exported,
                    (double)this_run / (now - t0));
        }
    }
    buf_free(&offset);
    if (unlink(state_path) && errno != ENOENT)
        fprintf(stderr, "vitrine export: cannot remove %s: %s\n", state_path, strerror(errno));

    /* 4. Counts on both sides, as a check the user can read. */
    uint64_t n_src = 0, n_dst = 0;
    static const char count_body[] = "{\"exact\": true}";
    sp.len = sp_len;
    dp.len = dp_len;
    buf_append_str(&sp, "/points/count");
    buf_append_str(&dp, "/points/count");
    if (client_call(&src, "POST", sp.data, NULL, count_body, sizeof count_body - 1, &a, &http, &doc, err, sizeof err) == 0)
        json_as_uint64(json_get_path(client_result(doc), "count"), &n_src);
    if (client_call(&dst, "POST", dp.data, NULL, count_body, sizeof count_body - 1, &a, &http, &doc, err, sizeof err) == 0)
        json_as_uint64(json_get_path(client_result(doc), "count"), &n_dst);
    printf("exported %llu points of %s to %s %s in %.1f s (source now has %llu points, target %llu)\n",
           (unsigned long long)exported, collection, to, to_collection, now_seconds() - t0,
           (unsigned long long)n_src, (unsigned long long)n_dst);
    status = 0;
out:
    buf_free(&sp);
    buf_free(&dp);
    if (client_close(&dst)) status = 1;
    if (client_close(&src)) status = 1;
out_noconn:
    arena_free(&a);
    buf_free(&default_state);
    return status;

usage:
    fprintf(stderr, "run `vitrine export --help` for the options\n");
    return 2;
}
