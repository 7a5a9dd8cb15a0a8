/*
 * index.c - `vitrine index`: a folder of product photos (and a metadata
 * file) into a collection, through the server's /v1 items API.
 *
 * Design. The command is a client of PUT /v1/collections/{c}/items (see
 * client.h for why, also in standalone mode). It walks the paths given,
 * keeps the image files (by extension inside folders; any file named
 * directly), and sends them in batches as multipart/form-data, each with
 * its metadata row's text and payload. Per batch:
 *
 *   1. read each file, check its magic bytes, hash it (SHA-256);
 *   2. ask which hashes the collection already holds: a scroll filtered on
 *      the payload key `_sha256` (match any), so an interrupted or repeated
 *      run skips what is stored, whatever the point ids, and even when
 *      another process indexed it. The alternative rejected, a local state
 *      file, would go stale when the collection is dropped or restored;
 *   3. PUT the items (wait=true: answered once stored and searchable) and
 *      read each item's status: a bad image fails its item, not the run;
 *   4. read back `_moderation` of the stored items (the server's flag
 *      rules wrote it) and search each stored item's nearest neighbour by
 *      id (its stored vector: no second inference) for near-duplicates.
 *
 * Ids: a metadata `id` that is an unsigned integer or a UUID is the point
 * id; otherwise the id is a UUID (version 8, RFC 9562's custom version)
 * made from the SHA-256 of the file's path as indexed (the last component
 * of the folder given, then the path below it), so re-running from another
 * working directory gives the same ids.
 *
 * Payload: the metadata row's columns except the file-name column, plus
 * `_sha256` (hex of the file's bytes) and `_file` (the path as above).
 * The item text (embedded under the `text` vector) is the row's `text`,
 * else `description`, else `title`.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/cli.h"
#include "base/err.h"
#include "base/json.h"
#include "base/sha256.h"
#include "base/util.h"
#include "cmd/client.h"
#include "cmd/cmd.h"

#define INDEX_MIN_BATCH 1
#define INDEX_DEFAULT_BATCH 16
#define INDEX_MAX_BATCH 64 /* the server's images per request (--embed-max-images) */
/* The server refuses larger images (--embed-max-image-bytes' default). */
#define INDEX_MAX_FILE_BYTES (16u * 1024 * 1024)
/* A batch's files stay under this many bytes, below the default request
 * body limit (32 MiB) with room for the items JSON. */
#define INDEX_MAX_BATCH_BYTES (24u * 1024 * 1024)
#define INDEX_DEFAULT_DUP_THRESHOLD 0.95
#define INDEX_MAX_DEPTH 64            /* folder nesting (guards symlink loops) */
#define INDEX_MAX_META_BYTES (1u << 30)
#define INDEX_PROGRESS_LINE_S 5.0     /* plain progress lines, not on a TTY */
#define INDEX_PROGRESS_BAR_S 0.1      /* progress bar redraws, on a TTY */
#define INDEX_SHA_KEY "_sha256"
#define INDEX_FILE_KEY "_file"

/* ---- the files ---- */

typedef struct {
    char *path; /* as opened */
    char *rel;  /* as indexed: the folder's last component / path below it */
} IndexFile;

typedef struct {
    IndexFile *v;
    size_t n, cap;
} FileList;

static const char *const image_exts[] = { "jpg", "jpeg", "jpe", "png", "webp", "gif", "bmp", NULL };

static int has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    for (const char *const *e = image_exts; *e; e++)
        if (!strcasecmp(dot + 1, *e)) return 1;
    return 0;
}

static void files_add(FileList *l, const char *path, const char *rel)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n].path = xstrdup(path);
    l->v[l->n].rel = xstrdup(rel);
    l->n++;
}

static void files_free(FileList *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].rel);
    }
    free(l->v);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* walk adds the image files under dir (sorted by name at each level, so
 * the order and the report are the same on every run); hidden entries
 * (".name") are skipped. Unreadable folders are reported, not fatal. */
static void walk(FileList *l, const char *dir, const char *rel, int depth, FileList *bad)
{
    if (depth > INDEX_MAX_DEPTH) {
        files_add(bad, dir, "folders nested too deep (a symlink loop?)");
        return;
    }
    DIR *d = opendir(dir);
    if (!d) {
        files_add(bad, dir, strerror(errno));
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        Buf p, r;
        buf_init(&p);
        buf_init(&r);
        buf_printf(&p, "%s/%s", dir, names[i]);
        buf_printf(&r, "%s/%s", rel, names[i]);
        struct stat st;
        if (stat(p.data, &st) != 0) {
            if (has_image_ext(names[i])) files_add(bad, p.data, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            walk(l, p.data, r.data, depth + 1, bad);
        } else if (S_ISREG(st.st_mode) && has_image_ext(names[i])) {
            files_add(l, p.data, r.data);
        }
        buf_free(&p);
        buf_free(&r);
        free(names[i]);
    }
    free(names);
}

/* last_component returns the last path component of p (no trailing slashes)
 * in out. */
static void last_component(const char *p, char *out, size_t cap)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && p[s - 1] != '/') s--;
    if (n - s == 0 || (n - s == 1 && p[s] == '.') || (n - s == 2 && p[s] == '.' && p[s + 1] == '.')) {
        /* "." or "..": name the folder by its real name instead. */
        char *real = realpath(p, NULL);
        if (real && strcmp(real, "/")) {
            last_component(real, out, cap);
            free(real);
            return;
        }
        free(real);
        snprintf(out, cap, "root");
        return;
    }
    snprintf(out, cap, "%.*s", (int)(n - s), p + s);
}

/* ---- the metadata file ---- */

typedef struct {
    const JsonValue *row; /* an object */
    const char *file;     /* its file-name column's value, or NULL */
    const char *key;      /* its id column as text, or NULL */
} MetaRow;

typedef struct {
    Arena arena;
    MetaRow *rows;
    size_t n;
    MetaRow **by_file; /* sorted by file */
    MetaRow **by_key;  /* sorted by key */
    size_t n_file, n_key;
    unsigned char *used;
} Meta;

static const char *const file_columns[] = { "file", "filename", "file_name", "image", "path", NULL };
static const char *const text_columns[] = { "text", "description", "title", NULL };

/* csv_field reads one RFC 4180 field at *p (quotes doubled inside quoted
 * fields; a quoted field may hold commas and newlines). Returns 1 at the
 * end of a record, 0 when a comma follows, -1 on a stray quote. */
static int csv_field(const char **p, const char *end, Buf *out)
{
    const char *s = *p;
    out->len = 0;
    buf_append(out, "", 0);
    if (s < end && *s == '"') {
        s++;
        for (;;) {
            if (s >= end) return -1;
            if (*s == '"') {
                if (s + 1 < end && s[1] == '"') {
                    buf_append(out, "\"", 1);
                    s += 2;
                    continue;
                }
                s++;
                break;
            }
            buf_append(out, s, 1);
            s++;
        }
        if (s < end && *s != ',' && *s != '\n' && *s != '\r') return -1;
    } else {
        const char *f = s;
        while (s < end && *s != ',' && *s != '\n' && *s != '\r') s++;
        buf_append(out, f, (size_t)(s - f));
    }
    if (s < end && *s == ',') {
        *p = s + 1;
        return 0;
    }
    if (s < end && *s == '\r') s++;
    if (s < end && *s == '\n') s++;
    *p = s;
    return 1;
}

/* is_json_number: text is a JSON number as JSON writes it (no leading
 * zeros, so "007" and SKU-like codes stay strings). */
static int is_json_number(const char *s)
{
    const char *p = s;
    if (*p == '-') p++;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (*p >= '0' && *p <= '9') p++;
    else return 0;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') return 0;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (*p < '0' || *p > '9') return 0;
        while (*p >= '0' && *p <= '9') p++;
    }
    return *p == '\0' && p - s < 32;
}

/* csv_to_jsonl turns a CSV file (a header row, then rows) into one JSON
 * object a line: numbers become numbers (see is_json_number), empty cells
 * are left out, everything else is a string. */
static int csv_to_jsonl(const char *text, size_t len, Buf *out, char *err, size_t errlen)
{
    const char *p = text, *end = text + len;
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3; /* a spreadsheet's BOM */
    char **cols = NULL;
    size_t n_cols = 0;
    Buf f;
    buf_init(&f);
    int rc = 0, line = 1;
    for (;;) {
        int r = csv_field(&p, end, &f);
        if (r < 0) goto bad;
        cols = xrealloc(cols, (n_cols + 1) * sizeof *cols);
        cols[n_cols++] = xstrdup(f.data);
        if (r == 1) break;
    }
    JsonWriter w;
    while (p < end) {
        line++;
        if (*p == '\n' || *p == '\r') { /* blank line */
            if (*p == '\r') p++;
            if (p < end && *p == '\n') p++;
            continue;
        }
        jw_init(&w, out);
        jw_object_begin(&w);
        for (size_t c = 0;; c++) {
            int r = csv_field(&p, end, &f);
            if (r < 0) goto bad;
            if (c >= n_cols) {
                if (f.len) {
                    snprintf(err, errlen, "line %d has more fields than the header", line);
                    rc = ERR_FORMAT;
                    goto done;
                }
            } else if (f.len) {
                jw_key(&w, cols[c]);
                if (is_json_number(f.data)) jw_raw(&w, f.data, f.len);
                else jw_string_len(&w, f.data, f.len);
            }
            if (r == 1) break;
        }
        jw_object_end(&w);
        buf_append(out, "\n", 1);
    }
    goto done;
bad:
    snprintf(err, errlen, "line %d: a quote where a field cannot have one", line);
    rc = ERR_FORMAT;
done:
    for (size_t i = 0; i < n_cols; i++) free(cols[i]);
    free(cols);
    buf_free(&f);
    return rc;
}

static int cmp_row_file(const void *a, const void *b)
{
    return strcmp((*(MetaRow *const *)a)->file, (*(MetaRow *const *)b)->file);
}
static int cmp_row_key(const void *a, const void *b)
{
    return strcmp((*(MetaRow *const *)a)->key, (*(MetaRow *const *)b)->key);
}

/* meta_load reads a .csv file, or JSON lines (.jsonl, .json with one
 * object a line), into rows indexed by file name and by id. */
static int meta_load(Meta *m, const char *path, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    arena_init(&m->arena, 0);
    char *text;
    size_t len;
    int rc = file_read_all(path, INDEX_MAX_META_BYTES, &text, &len);
    if (rc) {
        snprintf(err, errlen, "cannot read %s: %s", path, rc == ERR_NOTFOUND ? "no such file" : err_str(rc));
        return rc;
    }
    size_t pl = strlen(path);
    Buf conv;
    buf_init(&conv);
    if (pl > 4 && !strcasecmp(path + pl - 4, ".csv")) {
        char cerr[200];
        rc = csv_to_jsonl(text, len, &conv, cerr, sizeof cerr);
        free(text);
        if (rc) {
            snprintf(err, errlen, "%s: %s", path, cerr);
            buf_free(&conv);
            return rc;
        }
        text = buf_detach(&conv, &len);
    }
    size_t cap = 0;
    int line = 0;
    for (char *p = text, *end = text + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        line++;
        char *s = p;
        p = nl ? nl + 1 : end;
        while (s < le && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
        if (s == le) continue;
        JsonValue *v;
        char perr[200];
        if (json_parse(&m->arena, s, (size_t)(le - s), &v, perr, sizeof perr) || v->type != JSON_OBJECT) {
            snprintf(err, errlen, "%s: line %d is not a JSON object%s%s", path, line, v ? ": " : "", perr);
            free(text);
            return ERR_FORMAT;
        }
        if (m->n == cap) {
            cap = cap ? cap * 2 : 256;
            m->rows = xrealloc(m->rows, cap * sizeof *m->rows);
        }
        MetaRow *r = &m->rows[m->n++];
        r->row = v;
        r->file = NULL;
        r->key = NULL;
        for (const char *const *c = file_columns; *c && !r->file; c++) r->file = json_as_str(json_get(v, *c));
        const JsonValue *id = json_get(v, "id");
        if (id && id->type == JSON_STRING) r->key = id->u.str;
        else if (id && id->type == JSON_NUMBER && id->num_kind != JSON_NUM_DOUBLE) {
            char num[32];
            snprintf(num, sizeof num, "%llu", (unsigned long long)id->n.u);
            r->key = arena_strndup(&m->arena, num, strlen(num));
        }
    }
    free(text);
    m->by_file = xmalloc((m->n + 1) * sizeof *m->by_file);
    m->by_key = xmalloc((m->n + 1) * sizeof *m->by_key);
    for (size_t i = 0; i < m->n; i++) {
        if (m->rows[i].file) m->by_file[m->n_file++] = &m->rows[i];
        if (m->rows[i].key) m->by_key[m->n_key++] = &m->rows[i];
    }
    qsort(m->by_file, m->n_file, sizeof *m->by_file, cmp_row_file);
    qsort(m->by_key, m->n_key, sizeof *m->by_key, cmp_row_key);
    m->used = xcalloc(m->n + 1, 1);
    return 0;
}

static void meta_free(Meta *m)
{
    free(m->rows);
    free(m->by_file);
    free(m->by_key);
    free(m->used);
    arena_free(&m->arena);
}

static MetaRow *meta_find(MetaRow **v, size_t n, const char *s, int by_file)
{
    MetaRow probe = { NULL, s, s }, *pp = &probe;
    MetaRow **hit = bsearch(&pp, v, n, sizeof *v, by_file ? cmp_row_file : cmp_row_key);
    return hit ? *hit : NULL;
}

/* meta_match finds the row of a file: its file column equal to the path
 * as indexed, to the path below the folder, or to the file name; else its
 * id equal to the file name without its extension. */
static const MetaRow *meta_match(Meta *m, const IndexFile *f)
{
    if (!m->n) return NULL;
    const char *base = strrchr(f->rel, '/');
    base = base ? base + 1 : f->rel;
    const char *below = strchr(f->rel, '/');
    MetaRow *r = meta_find(m->by_file, m->n_file, f->rel, 1);
    if (!r && below) r = meta_find(m->by_file, m->n_file, below + 1, 1);
    if (!r) r = meta_find(m->by_file, m->n_file, base, 1);
    if (!r) {
        char stem[1024];
        snprintf(stem, sizeof stem, "%s", base);
        char *dot = strrchr(stem, '.');
        if (dot && dot != stem) *dot = '\0';
        r = meta_find(m->by_key, m->n_key, stem, 0);
    }
    if (r) m->used[r - m->rows] = 1;
    return r;
}

/* ---- ids ---- */

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* uuid_canonical writes s as a lowercase hyphenated UUID when it is one
 * (hyphenated or 32 hex digits), else returns -1. */
static int uuid_canonical(const char *s, char out[37])
{
    char hex[33];
    size_t k = 0, n = strlen(s);
    if (n == 36) {
        for (size_t i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (s[i] != '-') return -1;
            } else if (!is_hex(s[i])) {
                return -1;
            } else {
                hex[k++] = s[i];
            }
        }
    } else if (n == 32) {
        for (size_t i = 0; i < 32; i++) {
            if (!is_hex(s[i])) return -1;
            hex[k++] = s[i];
        }
    } else {
        return -1;
    }
    for (size_t i = 0; i < 32; i++)
        if (hex[i] >= 'A' && hex[i] <= 'F') hex[i] = (char)(hex[i] - 'A' + 'a');
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    return 0;
}

/* item_id writes the point id as JSON text: the row's id when it is a
 * point id, else a version-8 UUID of the SHA-256 of the indexed path. */
static void item_id(const MetaRow *row, const IndexFile *f, char *out, size_t cap)
{
    const JsonValue *id = row ? json_get(row->row, "id") : NULL;
    char u[37];
    if (id && id->type == JSON_NUMBER && id->num_kind != JSON_NUM_DOUBLE && (id->num_kind == JSON_NUM_UINT || id->n.i >= 0)) {
        snprintf(out, cap, "%llu", (unsigned long long)id->n.u);
        return;
    }
    if (id && id->type == JSON_STRING && uuid_canonical(id->u.str, u) == 0) {
        snprintf(out, cap, "\"%s\"", u);
        return;
    }
    uint8_t d[SHA256_DIGEST_LEN];
    Buf name;
    buf_init(&name);
    buf_printf(&name, "vitrine:file:%s", f->rel);
    sha256(name.data, name.len, d);
    buf_free(&name);
    d[6] = (uint8_t)((d[6] & 0x0f) | 0x80); /* version 8 */
    d[8] = (uint8_t)((d[8] & 0x3f) | 0x80); /* RFC 9562 variant */
    snprintf(out, cap,
             "\"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\"", d[0], d[1], d[2], d[3],
             d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]);
}

/* id_text writes a result's id (a number or a UUID string) as item_id does. */
static void id_text(const JsonValue *id, char *out, size_t cap)
{
    if (id && id->type == JSON_NUMBER) snprintf(out, cap, "%llu", (unsigned long long)id->n.u);
    else if (id && id->type == JSON_STRING) snprintf(out, cap, "\"%s\"", id->u.str);
    else snprintf(out, cap, "null");
}

/* ---- image files ---- */

/* image_mime names the image format from its first bytes (NULL: none we
 * read), so a text file named .jpg fails here with a clear reason. */
static const char *image_mime(const unsigned char *b, size_t n)
{
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return "image/jpeg";
    if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return "image/png";
    if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4)) return "image/webp";
    if (n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6))) return "image/gif";
    if (n >= 2 && b[0] == 'B' && b[1] == 'M') return "image/bmp";
    return NULL;
}

/* ---- the report ---- */

typedef struct {
    char *path;
    char *reason;
} Failure;

typedef struct {
    char *path, *id;       /* the new item */
    char *other_id;        /* JSON text of the id it resembles */
    char *other_file;      /* that item's _file, or NULL */
    double score;
} Duplicate;

typedef struct {
    char *path, *id;
    char *moderation; /* the `_moderation` value, as JSON */
} Flagged;

typedef struct {
    size_t found, indexed, skipped, identical;
    Failure *failed;
    size_t n_failed, cap_failed;
    Duplicate *dups;
    size_t n_dups, cap_dups;
    Flagged *flagged;
    size_t n_flagged, cap_flagged;
} Report;

#define GROW(arr, n, cap)                                        \
    do {                                                         \
        if ((n) == (cap)) {                                      \
            (cap) = (cap) ? (cap) * 2 : 16;                      \
            (arr) = xrealloc((arr), (cap) * sizeof *(arr));      \
        }                                                        \
    } while (0)

static void report_fail(Report *r, const char *path, const char *reason)
{
    GROW(r->failed, r->n_failed, r->cap_failed);
    r->failed[r->n_failed].path = xstrdup(path);
    r->failed[r->n_failed].reason = xstrdup(reason);
    r->n_failed++;
}

/* SeenSet maps strings to strings (a file's hash to the first file that
 * had it; a path to itself), an open-addressing table, so a run over 100k
 * files stays linear. */
typedef struct {
    char **keys; /* owned */
    char **vals; /* owned */
    size_t cap, n;
} SeenSet;

static uint64_t str_hash(const char *h) /* FNV-1a */
{
    uint64_t x = 1469598103934665603ull;
    for (; *h; h++) x = (x ^ (unsigned char)*h) * 1099511628211ull;
    return x;
}

static const char *seen_get(const SeenSet *s, const char *hash)
{
    if (!s->cap) return NULL;
    for (size_t i = str_hash(hash) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (!s->keys[i]) return NULL;
        if (!strcmp(s->keys[i], hash)) return s->vals[i];
    }
}

static void seen_put(SeenSet *s, const char *hash, const char *file)
{
    if ((s->n + 1) * 2 > s->cap) {
        SeenSet g = { NULL, NULL, s->cap ? s->cap * 2 : 1024, 0 };
        g.keys = xcalloc(g.cap, sizeof *g.keys);
        g.vals = xcalloc(g.cap, sizeof *g.vals);
        for (size_t i = 0; i < s->cap; i++)
            if (s->keys[i]) {
                size_t j = str_hash(s->keys[i]) & (g.cap - 1);
                while (g.keys[j]) j = (j + 1) & (g.cap - 1);
                g.keys[j] = s->keys[i];
                g.vals[j] = s->vals[i];
                g.n++;
            }
        free(s->keys);
        free(s->vals);
        *s = g;
    }
    size_t j = str_hash(hash) & (s->cap - 1);
    while (s->keys[j]) j = (j + 1) & (s->cap - 1);
    s->keys[j] = xstrdup(hash);
    s->vals[j] = xstrdup(file);
    s->n++;
}

static void seen_free(SeenSet *s)
{
    for (size_t i = 0; i < s->cap; i++) {
        free(s->keys[i]);
        free(s->vals[i]);
    }
    free(s->keys);
    free(s->vals);
}

static void report_free(Report *r)
{
    for (size_t i = 0; i < r->n_failed; i++) free(r->failed[i].path), free(r->failed[i].reason);
    for (size_t i = 0; i < r->n_dups; i++)
        free(r->dups[i].path), free(r->dups[i].id), free(r->dups[i].other_id), free(r->dups[i].other_file);
    for (size_t i = 0; i < r->n_flagged; i++)
        free(r->flagged[i].path), free(r->flagged[i].id), free(r->flagged[i].moderation);
    free(r->failed);
    free(r->dups);
    free(r->flagged);
}

/* ---- progress ---- */

typedef struct {
    int tty;
    double start, last;
    size_t total;
    int drawn; /* a bar is on the terminal's last line */
} Progress;

static void fmt_duration(char *out, size_t cap, double s)
{
    if (!isfinite(s) || s < 0) {
        snprintf(out, cap, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(out, cap, "%ld:%02ld", t / 60, t % 60);
}

/* progress_show draws the bar (TTY) or prints a line (otherwise), at most
 * every INDEX_PROGRESS_BAR_S / _LINE_S seconds unless final. */
static void progress_show(Progress *p, const Report *r, int final)
{
    double now = now_seconds();
    if (!final && now - p->last < (p->tty ? INDEX_PROGRESS_BAR_S : INDEX_PROGRESS_LINE_S)) return;
    p->last = now;
    size_t done = r->indexed + r->skipped + r->identical + r->n_failed;
    double el = now - p->start;
    /* The rate counts the images this run sent (skips are nearly free). */
    double rate = el > 0 ? (double)r->indexed / el : 0;
    double per_file = done ? el / (double)done : 0;
    char eta[32];
    fmt_duration(eta, sizeof eta, done ? per_file * (double)(p->total - done) : NAN);
    if (p->tty) {
        int width = 30;
        int fill = p->total ? (int)((double)width * (double)done / (double)p->total) : width;
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r\033[K[%s] %zu/%zu  %.1f images/s  ETA %s", bar, done, p->total, rate, eta);
        p->drawn = 1;
        if (final) {
            fputc('\n', stderr);
            p->drawn = 0;
        }
    } else {
        fprintf(stderr, "index: %zu/%zu files (%zu indexed, %zu skipped, %zu failed), %.1f images/s, ETA %s\n",
                done, p->total, r->indexed, r->skipped + r->identical, r->n_failed, rate, eta);
    }
    fflush(stderr);
}

/* ---- one batch ---- */

typedef struct {
    const IndexFile *f;
    char *bytes;
    size_t len;
    const char *mime;
    char sha[SHA256_HEX_LEN + 1];
    char id[64];
    const MetaRow *row;
    int state; /* 0 pending, 1 skipped (stored), 2 failed, 3 sent */
} Pending;

typedef struct {
    Client *client;
    const char *collection;
    char coll_path[1024]; /* /collections/<escaped> */
    Meta *meta;
    int have_meta;
    Report report;
    SeenSet seen; /* file hash -> the first file with it, this run */
    SeenSet ids;  /* point id -> the file it went to, this run */
    double dup_threshold;
    int check_dups;
    int force;      /* --force: send every photo, stored or not */
    int index_made; /* the keyword index on _sha256 exists */
} Indexer;

/* batch_skip_stored asks which of the batch's hashes the collection holds
 * (a scroll filtered on _sha256) and marks those skipped. */
static int batch_skip_stored(Indexer *ix, Pending *b, size_t n, char *err, size_t errlen)
{
    Buf body;
    buf_init(&body);
    JsonWriter w;
    jw_init(&w, &body);
    jw_object_begin(&w);
    jw_key(&w, "filter");
    jw_object_begin(&w);
    jw_key(&w, "must");
    jw_array_begin(&w);
    jw_object_begin(&w);
    jw_key(&w, "key");
    jw_string(&w, INDEX_SHA_KEY);
    jw_key(&w, "match");
    jw_object_begin(&w);
    jw_key(&w, "any");
    jw_array_begin(&w);
    size_t asked = 0;
    for (size_t i = 0; i < n; i++)
        if (b[i].state == 0) jw_string(&w, b[i].sha), asked++;
    jw_array_end(&w);
    jw_object_end(&w);
    jw_object_end(&w);
    jw_array_end(&w);
    jw_object_end(&w);
    /* A hash may be stored under several ids (files copied before this
     * check existed): ask for more than one page's worth. */
    jw_key(&w, "limit");
    jw_uint(&w, asked * 4 + 16);
    jw_key(&w, "with_payload");
    jw_array_begin(&w);
    jw_string(&w, INDEX_SHA_KEY);
    jw_array_end(&w);
    jw_key(&w, "with_vector");
    jw_bool(&w, 0);
    jw_object_end(&w);
    if (!asked) {
        buf_free(&body);
        return 0;
    }
    Buf path;
    buf_init(&path);
    buf_printf(&path, "%s/points/scroll", ix->coll_path);
    Arena a;
    arena_init(&a, 0);
    int status;
    JsonValue *doc;
    int rc = client_call(ix->client, "POST", path.data, NULL, body.data, body.len, &a, &status, &doc, err, errlen);
    if (rc == ERR_NOTFOUND) rc = 0; /* no collection yet: nothing stored */
    else if (!rc) {
        const JsonValue *pts = json_get(client_result(doc), "points");
        for (uint32_t k = 0; pts && pts->type == JSON_ARRAY && k < pts->len; k++) {
            const char *h = json_as_str(json_get_path(&pts->u.items[k], "payload." INDEX_SHA_KEY));
            for (size_t i = 0; h && i < n; i++)
                if (b[i].state == 0 && !strcmp(b[i].sha, h)) {
                    b[i].state = 1;
                    ix->report.skipped++;
                }
        }
    }
    arena_free(&a);
    buf_free(&path);
    buf_free(&body);
    return rc;
}

/* write_payload writes the item's payload object: the metadata row's
 * columns but the file-name column, then _sha256 and _file. */
static void write_payload(JsonWriter *w, const Pending *p)
{
    jw_object_begin(w);
    if (p->row) {
        const JsonValue *o = p->row->row;
        for (uint32_t k = 0; k < o->len; k++) {
            const JsonMember *m = &o->u.members[k];
            int skip = !strcmp(m->key, INDEX_SHA_KEY) || !strcmp(m->key, INDEX_FILE_KEY);
            for (const char *const *c = file_columns; *c && !skip; c++)
                if (p->row->file && !strcmp(m->key, *c) && m->value.type == JSON_STRING &&
                    !strcmp(m->value.u.str, p->row->file))
                    skip = 1;
            if (skip) continue;
            jw_key_len(w, m->key, m->key_len);
            jw_value(w, &m->value);
        }
    }
    jw_key(w, INDEX_SHA_KEY);
    jw_string(w, p->sha);
    jw_key(w, INDEX_FILE_KEY);
    jw_string(w, p->f->rel);
    jw_object_end(w);
}

static const char *row_text(const MetaRow *row)
{
    if (!row) return NULL;
    for (const char *const *c = text_columns; *c; c++) {
        const char *t = json_as_str(json_get(row->row, *c));
        if (t && *t) return t;
    }
    return NULL;
}

/* batch_send PUTs the batch's pending items as multipart and records each
 * item's outcome. */
static int batch_send(Indexer *ix, Pending *b, size_t n, char *err, size_t errlen)
{
    Buf items;
    buf_init(&items);
    JsonWriter w;
    jw_init(&w, &items);
    jw_object_begin(&w);
    jw_key(&w, "items");
    jw_array_begin(&w);
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i].state != 0) continue;
        jw_object_begin(&w);
        jw_key(&w, "id");
        jw_raw(&w, b[i].id, strlen(b[i].id));
        char field[32];
        snprintf(field, sizeof field, "f%zu", i);
        jw_key(&w, "image");
        jw_string(&w, field);
        const char *text = row_text(b[i].row);
        if (text) {
            jw_key(&w, "text");
            jw_string(&w, text);
        }
        jw_key(&w, "payload");
        write_payload(&w, &b[i]);
        jw_object_end(&w);
        sent++;
    }
    jw_array_end(&w);
    jw_object_end(&w);
    if (!sent) {
        buf_free(&items);
        return 0;
    }
    /* A boundary that none of the files contains. */
    char boundary[64];
    for (unsigned attempt = 0;; attempt++) {
        snprintf(boundary, sizeof boundary, "vitrine-%08lx%08x%04x", (unsigned long)time(NULL),
                 (unsigned)rand(), attempt);
        int clash = 0;
        for (size_t i = 0; i < n && !clash; i++)
            if (b[i].state == 0 && memmem(b[i].bytes, b[i].len, boundary, strlen(boundary))) clash = 1;
        if (!clash) break;
    }
    Buf body;
    buf_init(&body);
    buf_printf(&body, "--%s\r\nContent-Disposition: form-data; name=\"items\"\r\n"
                      "Content-Type: application/json\r\n\r\n", boundary);
    buf_append(&body, items.data, items.len);
    buf_append_str(&body, "\r\n");
    for (size_t i = 0; i < n; i++) {
        if (b[i].state != 0) continue;
        buf_printf(&body, "--%s\r\nContent-Disposition: form-data; name=\"f%zu\"; filename=\"f%zu\"\r\n"
                          "Content-Type: %s\r\n\r\n", boundary, i, i, b[i].mime);
        buf_append(&body, b[i].bytes, b[i].len);
        buf_append_str(&body, "\r\n");
    }
    buf_printf(&body, "--%s--\r\n", boundary);
    char ct[128];
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", boundary);
    Buf path;
    buf_init(&path);
    buf_append_str(&path, "/v1");
    buf_append_str(&path, ix->coll_path);
    buf_append_str(&path, "/items?wait=true");
    Arena a;
    arena_init(&a, 0);
    int status;
    JsonValue *doc;
    int rc = client_call(ix->client, "PUT", path.data, ct, body.data, body.len, &a, &status, &doc, err, errlen);
    const JsonValue *list = json_get(client_result(doc), "items");
    /* A 400 with every item failed still lists them: per-item reasons. */
    if (rc == ERR_INVAL && status == 400 && list && list->type == JSON_ARRAY && list->len == sent) rc = 0;
    if (!rc) {
        if (!list || list->type != JSON_ARRAY || list->len != sent) {
            snprintf(err, errlen, "PUT %s: the answer does not list the %zu items sent", path.data, sent);
            rc = ERR_FORMAT;
        } else {
            size_t k = 0;
            for (size_t i = 0; i < n; i++) {
                if (b[i].state != 0) continue;
                const JsonValue *it = &list->u.items[k++];
                const char *st = json_as_str(json_get(it, "status"));
                if (st && !strcmp(st, "ok")) {
                    b[i].state = 3;
                    ix->report.indexed++;
                } else {
                    const char *e = json_as_str(json_get(it, "error"));
                    report_fail(&ix->report, b[i].f->path, e ? e : "refused by the server");
                    b[i].state = 2;
                }
            }
        }
    }
    arena_free(&a);
    buf_free(&path);
    buf_free(&body);
    buf_free(&items);
    return rc;
}

/* batch_moderation reads `_moderation` of the stored items of the batch. */
static int batch_moderation(Indexer *ix, Pending *b, size_t n, char *err, size_t errlen)
{
    Buf body;
    buf_init(&body);
    JsonWriter w;
    jw_init(&w, &body);
    jw_object_begin(&w);
    jw_key(&w, "ids");
    jw_array_begin(&w);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (b[i].state == 3) jw_raw(&w, b[i].id, strlen(b[i].id)), k++;
    jw_array_end(&w);
    jw_key(&w, "with_payload");
    jw_array_begin(&w);
    jw_string(&w, "_moderation");
    jw_array_end(&w);
    jw_key(&w, "with_vector");
    jw_bool(&w, 0);
    jw_object_end(&w);
    int rc = 0;
    if (k) {
        Buf path;
        buf_init(&path);
        buf_printf(&path, "%s/points", ix->coll_path);
        Arena a;
        arena_init(&a, 0);
        int status;
        JsonValue *doc;
        rc = client_call(ix->client, "POST", path.data, NULL, body.data, body.len, &a, &status, &doc, err, errlen);
        const JsonValue *pts = client_result(doc);
        for (uint32_t j = 0; !rc && pts && pts->type == JSON_ARRAY && j < pts->len; j++) {
            const JsonValue *mod = json_get_path(&pts->u.items[j], "payload._moderation");
            if (!mod || (mod->type == JSON_ARRAY && mod->len == 0)) continue;
            char idt[64];
            id_text(json_get(&pts->u.items[j], "id"), idt, sizeof idt);
            for (size_t i = 0; i < n; i++) {
                if (b[i].state != 3 || strcmp(b[i].id, idt)) continue;
                Report *r = &ix->report;
                GROW(r->flagged, r->n_flagged, r->cap_flagged);
                Buf mj;
                buf_init(&mj);
                JsonWriter mw;
                jw_init(&mw, &mj);
                jw_value(&mw, mod);
                r->flagged[r->n_flagged].path = xstrdup(b[i].f->path);
                r->flagged[r->n_flagged].id = xstrdup(b[i].id);
                r->flagged[r->n_flagged].moderation = buf_detach(&mj, NULL);
                r->n_flagged++;
            }
        }
        arena_free(&a);
        buf_free(&path);
    }
    buf_free(&body);
    return rc;
}

/* batch_duplicates searches each stored item's nearest other item by its
 * stored image vector; at or above the threshold it is a near-duplicate.
 * A pair found from both sides is reported once. */
static int batch_duplicates(Indexer *ix, Pending *b, size_t n, char *err, size_t errlen)
{
    Buf path;
    buf_init(&path);
    buf_append_str(&path, "/v1");
    buf_append_str(&path, ix->coll_path);
    buf_append_str(&path, "/search");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (b[i].state != 3) continue;
        Buf body;
        buf_init(&body);
        buf_printf(&body, "{\"id\": %s, \"limit\": 1, \"score_threshold\": %.9g, \"with_payload\": [\"%s\"]}", b[i].id,
                   /* score_threshold keeps scores above it; "at or above"
                    * is wanted, so ask a hair below and compare here. */
                   ix->dup_threshold - 1e-6, INDEX_FILE_KEY);
        Arena a;
        arena_init(&a, 0);
        int status;
        JsonValue *doc;
        rc = client_call(ix->client, "POST", path.data, NULL, body.data, body.len, &a, &status, &doc, err, errlen);
        const JsonValue *res = client_result(doc);
        if (!rc && res && res->type == JSON_ARRAY && res->len > 0) {
            const JsonValue *hit = &res->u.items[0];
            double score = 0;
            json_as_double(json_get(hit, "score"), &score);
            char other[64];
            id_text(json_get(hit, "id"), other, sizeof other);
            Report *r = &ix->report;
            int seen = 0;
            for (size_t d = 0; d < r->n_dups && !seen; d++)
                seen = r->dups[d].id && !strcmp(r->dups[d].id, other) && !strcmp(r->dups[d].other_id, b[i].id);
            if (score >= ix->dup_threshold && !seen) {
                GROW(r->dups, r->n_dups, r->cap_dups);
                const char *of = json_as_str(json_get_path(hit, "payload." INDEX_FILE_KEY));
                r->dups[r->n_dups] = (Duplicate){ xstrdup(b[i].f->path), xstrdup(b[i].id), xstrdup(other),
                                                  of ? xstrdup(of) : NULL, score };
                r->n_dups++;
            }
        }
        arena_free(&a);
        buf_free(&body);
    }
    buf_free(&path);
    return rc;
}

/* ensure_sha_index makes the keyword index on _sha256 once the collection
 * exists, so the resume check stays fast on big collections. Failing is
 * harmless (a Qdrant-compatible server without it scans). */
static void ensure_sha_index(Indexer *ix)
{
    if (ix->index_made) return;
    ix->index_made = 1;
    Buf path;
    buf_init(&path);
    buf_printf(&path, "%s/index?wait=true", ix->coll_path);
    static const char body[] = "{\"field_name\": \"" INDEX_SHA_KEY "\", \"field_schema\": \"keyword\"}";
    Arena a;
    arena_init(&a, 0);
    int status;
    JsonValue *doc;
    char err[256];
    client_call(ix->client, "PUT", path.data, NULL, body, sizeof body - 1, &a, &status, &doc, err, sizeof err);
    arena_free(&a);
    buf_free(&path);
}

/* index_batch runs the four steps of the design note on files[0..n). */
static int index_batch(Indexer *ix, const IndexFile *files, size_t n, char *err, size_t errlen)
{
    Pending *b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i < n; i++) {
        Pending *p = &b[i];
        p->f = &files[i];
        errno = 0;
        int rc = file_read_all(p->f->path, INDEX_MAX_FILE_BYTES, &p->bytes, &p->len);
        char why[256];
        if (rc) {
            if (rc == ERR_TOOLARGE)
                snprintf(why, sizeof why, "larger than %u MiB, the server's image limit", INDEX_MAX_FILE_BYTES >> 20);
            else
                snprintf(why, sizeof why, "cannot read: %s", errno ? strerror(errno) : err_str(rc));
            report_fail(&ix->report, p->f->path, why);
            p->state = 2;
            continue;
        }
        p->mime = image_mime((const unsigned char *)p->bytes, p->len);
        if (!p->mime) {
            report_fail(&ix->report, p->f->path,
                        p->len ? "not an image: not JPEG, PNG, WebP, GIF or BMP data" : "empty file");
            p->state = 2;
            continue;
        }
        uint8_t d[SHA256_DIGEST_LEN];
        sha256(p->bytes, p->len, d);
        sha256_hex(d, p->sha);
        const char *first = seen_get(&ix->seen, p->sha);
        if (first) {
            /* The same bytes twice in this run: one item is enough. */
            GROW(ix->report.dups, ix->report.n_dups, ix->report.cap_dups);
            ix->report.dups[ix->report.n_dups++] =
                (Duplicate){ xstrdup(p->f->path), NULL, NULL, xstrdup(first), 1.0 };
            ix->report.identical++;
            p->state = 1;
            continue;
        }
        p->row = ix->have_meta ? meta_match(ix->meta, p->f) : NULL;
        item_id(p->row, p->f, p->id, sizeof p->id);
        /* Two photos matched to one metadata row would get its id and the
         * second would silently replace the first: refuse the second. */
        const char *owner = seen_get(&ix->ids, p->id);
        if (owner) {
            snprintf(why, sizeof why, "its metadata row (id %s) already went to %s", p->id, owner);
            report_fail(&ix->report, p->f->path, why);
            p->state = 2;
            continue;
        }
        seen_put(&ix->ids, p->id, p->f->path);
        seen_put(&ix->seen, p->sha, p->f->path);
    }
    int rc = ix->force ? 0 : batch_skip_stored(ix, b, n, err, errlen);
    if (!rc) rc = batch_send(ix, b, n, err, errlen);
    int stored = 0;
    for (size_t i = 0; i < n; i++) stored |= b[i].state == 3;
    if (!rc && stored) {
        ensure_sha_index(ix);
        rc = batch_moderation(ix, b, n, err, errlen);
        if (!rc && ix->check_dups) rc = batch_duplicates(ix, b, n, err, errlen);
    }
    for (size_t i = 0; i < n; i++) free(b[i].bytes);
    free(b);
    return rc;
}

/* ---- the report's output ---- */

static void report_print(const Indexer *ix, FILE *f, double seconds, size_t unmatched)
{
    const Report *r = &ix->report;
    fprintf(f, "%s: %zu files: %zu indexed, %zu already indexed, %zu identical to another file, %zu failed "
               "(%.1f s, %.1f images/s)\n",
            ix->collection, r->found, r->indexed, r->skipped, r->identical, r->n_failed, seconds,
            seconds > 0 ? (double)r->indexed / seconds : 0.0);
    if (r->n_failed) {
        fprintf(f, "failed:\n");
        for (size_t i = 0; i < r->n_failed; i++) fprintf(f, "  %s: %s\n", r->failed[i].path, r->failed[i].reason);
    }
    if (r->n_dups) {
        fprintf(f, "duplicates (identical bytes, or image cosine >= %.3g):\n", ix->dup_threshold);
        for (size_t i = 0; i < r->n_dups; i++) {
            const Duplicate *d = &r->dups[i];
            if (!d->id)
                fprintf(f, "  %s: the same bytes as %s (not indexed again)\n", d->path, d->other_file);
            else
                fprintf(f, "  %s (id %s) ~ id %s%s%s%s, score %.4f\n", d->path, d->id, d->other_id,
                        d->other_file ? " (" : "", d->other_file ? d->other_file : "", d->other_file ? ")" : "",
                        d->score);
        }
    }
    if (r->n_flagged) {
        fprintf(f, "flagged by moderation rules:\n");
        for (size_t i = 0; i < r->n_flagged; i++)
            fprintf(f, "  %s (id %s): %s\n", r->flagged[i].path, r->flagged[i].id, r->flagged[i].moderation);
    }
    if (unmatched) fprintf(f, "%zu metadata rows matched no image file\n", unmatched);
}

static int report_write_json(const Indexer *ix, const char *path, double seconds, size_t unmatched)
{
    const Report *r = &ix->report;
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "collection");
    jw_string(&w, ix->collection);
    jw_key(&w, "files");
    jw_uint(&w, r->found);
    jw_key(&w, "indexed");
    jw_uint(&w, r->indexed);
    jw_key(&w, "skipped");
    jw_uint(&w, r->skipped);
    jw_key(&w, "identical");
    jw_uint(&w, r->identical);
    jw_key(&w, "seconds");
    jw_double(&w, seconds);
    jw_key(&w, "unmatched_metadata_rows");
    jw_uint(&w, unmatched);
    jw_key(&w, "failed");
    jw_array_begin(&w);
    for (size_t i = 0; i < r->n_failed; i++) {
        jw_object_begin(&w);
        jw_key(&w, "path");
        jw_string(&w, r->failed[i].path);
        jw_key(&w, "reason");
        jw_string(&w, r->failed[i].reason);
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_key(&w, "duplicates");
    jw_array_begin(&w);
    for (size_t i = 0; i < r->n_dups; i++) {
        const Duplicate *d = &r->dups[i];
        jw_object_begin(&w);
        jw_key(&w, "path");
        jw_string(&w, d->path);
        jw_key(&w, "id");
        if (d->id) jw_raw(&w, d->id, strlen(d->id));
        else jw_null(&w);
        jw_key(&w, "duplicate_of");
        if (d->other_id) jw_raw(&w, d->other_id, strlen(d->other_id));
        else jw_null(&w);
        jw_key(&w, "duplicate_of_file");
        if (d->other_file) jw_string(&w, d->other_file);
        else jw_null(&w);
        jw_key(&w, "identical");
        jw_bool(&w, d->id == NULL);
        jw_key(&w, "score");
        jw_double(&w, d->score);
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_key(&w, "flagged");
    jw_array_begin(&w);
    for (size_t i = 0; i < r->n_flagged; i++) {
        jw_object_begin(&w);
        jw_key(&w, "path");
        jw_string(&w, r->flagged[i].path);
        jw_key(&w, "id");
        jw_raw(&w, r->flagged[i].id, strlen(r->flagged[i].id));
        jw_key(&w, "moderation");
        jw_raw(&w, r->flagged[i].moderation, strlen(r->flagged[i].moderation));
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_object_end(&w);
    buf_append_str(&b, "\n");
    FILE *f = fopen(path, "w");
    int ok = f && fwrite(b.data, 1, b.len, f) == b.len;
    if (f && fclose(f)) ok = 0;
    buf_free(&b);
    if (!ok) {
        fprintf(stderr, "vitrine index: cannot write the report %s: %s\n", path, strerror(errno));
        return ERR_IO;
    }
    return 0;
}

/* ---- the command ---- */

static void index_usage(FILE *f)
{
    fprintf(f,
            "usage: vitrine index --collection NAME PATH... [options]\n"
            "\n"
            "Index product photos into a collection: every JPEG, PNG, WebP, GIF and BMP file\n"
            "(by extension) under the folders given, and any file named directly (checked by\n"
            "its bytes). Each photo is embedded (image, and text from the metadata) and stored\n"
            "with a thumbnail, through the server's PUT /v1/collections/NAME/items. The\n"
            "collection is created when missing. Photos already in the collection (same\n"
            "SHA-256 of the file, kept in the payload as _sha256) are skipped, so an\n"
            "interrupted run resumes where it stopped.\n"
            "\n"
            "  --collection NAME    the collection (required)\n"
            "  --meta FILE          product data: .csv (header row) or .jsonl (an object a line).\n"
            "                       A row matches a photo by its file/filename/image/path column\n"
            "                       (the path below the folder, or the file name), else by its\n"
            "                       id column equal to the file name without extension. Its text\n"
            "                       (text, else description, else title) is embedded; all its\n"
            "                       columns but the file name become the payload.\n"
            "  --batch N            photos per request, %d to %d (default %d)\n"
            "  --dup-threshold X    report a photo whose image cosine to another item is at\n"
            "                       least X as a near-duplicate (default %.2f)\n"
            "  --no-dup-check       skip the near-duplicate search\n"
            "  --force              send every photo, also those already in the collection (to\n"
            "                       apply edited metadata; the server's image cache spares the\n"
            "                       inference of photos it has seen)\n"
            "  --report FILE        also write the final report as JSON\n"
            "  --no-progress        no progress output\n"
            "\n"
            "Ids: the metadata id when it is an unsigned integer or a UUID, else a UUID made\n"
            "from the photo's path (the folder's name and the path below it). The payload\n"
            "gets _file (that path) and _sha256.\n"
            "\n"
            "Progress goes to stderr: a bar on a terminal, else a line every %g s. Unreadable\n"
            "or broken files do not stop the run; the report at the end (stdout) lists them\n"
            "with the reason, near-duplicates, and photos flagged by moderation rules\n"
            "(_moderation). Exit status: 0 when the run finished (even with failed files),\n"
            "1 when it could not (server unreachable, a request refused), 2 for bad usage.\n",
            INDEX_MIN_BATCH, INDEX_MAX_BATCH, INDEX_DEFAULT_BATCH, INDEX_DEFAULT_DUP_THRESHOLD,
            INDEX_PROGRESS_LINE_S);
    client_usage(f);
}

int cmd_index(int argc, char **argv)
{
    Client client;
    client_init(&client);
    const char *collection = NULL, *meta_path = NULL, *report_path = NULL;
    long batch = INDEX_DEFAULT_BATCH;
    double dup = INDEX_DEFAULT_DUP_THRESHOLD;
    int check_dups = 1, progress_on = 1, force = 0;
    char **paths = xcalloc((size_t)argc + 1, sizeof *paths);
    size_t n_paths = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            index_usage(stdout);
            free(paths);
            return 0;
        }
        if ((r = client_take_option(&client, argc, argv, &i))) {
            if (r < 0) goto usage;
        } else if ((r = cli_take_value(argc, argv, &i, "--collection", &v))) {
            if (r < 0) goto usage;
            collection = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--meta", &v))) {
            if (r < 0) goto usage;
            meta_path = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--report", &v))) {
            if (r < 0) goto usage;
            report_path = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--batch", &v))) {
            if (r < 0) goto usage;
            if (parse_int(v, INDEX_MIN_BATCH, INDEX_MAX_BATCH, &batch)) {
                fprintf(stderr, "vitrine index: --batch wants %d to %d, not '%s'\n", INDEX_MIN_BATCH,
                        INDEX_MAX_BATCH, v);
                goto usage;
            }
        } else if ((r = cli_take_value(argc, argv, &i, "--dup-threshold", &v))) {
            if (r < 0) goto usage;
            char *end;
            dup = strtod(v, &end);
            if (*end || end == v || !(dup >= -1 && dup <= 1)) {
                fprintf(stderr, "vitrine index: --dup-threshold wants a cosine from -1 to 1, not '%s'\n", v);
                goto usage;
            }
        } else if (!strcmp(argv[i], "--no-dup-check")) {
            check_dups = 0;
        } else if (!strcmp(argv[i], "--force")) {
            force = 1;
        } else if (!strcmp(argv[i], "--no-progress")) {
            progress_on = 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "vitrine index: unknown option %s\n", argv[i]);
            goto usage;
        } else {
            paths[n_paths++] = argv[i];
        }
    }
    if (!collection || !n_paths) {
        fprintf(stderr, "vitrine index: %s\n", !collection ? "--collection is required" : "no PATH to index");
        goto usage;
    }

    /* The metadata first: a broken file should stop us before any work. */
    Meta meta;
    memset(&meta, 0, sizeof meta);
    char err[1024];
    if (meta_path && meta_load(&meta, meta_path, err, sizeof err)) {
        fprintf(stderr, "vitrine index: %s\n", err);
        meta_free(&meta);
        free(paths);
        return 1;
    }

    FileList files = { 0 }, bad = { 0 };
    for (size_t k = 0; k < n_paths; k++) {
        struct stat st;
        if (stat(paths[k], &st) != 0) {
            files_add(&bad, paths[k], strerror(errno));
            continue;
        }
        char name[1024];
        last_component(paths[k], name, sizeof name);
        if (S_ISDIR(st.st_mode)) walk(&files, paths[k], name, 0, &bad);
        else files_add(&files, paths[k], name);
    }
    /* The same file given twice (a folder and a file in it) counts once. */
    {
        SeenSet paths_seen = { 0 };
        size_t w = 0;
        for (size_t i = 0; i < files.n; i++) {
            if (seen_get(&paths_seen, files.v[i].path)) {
                free(files.v[i].path);
                free(files.v[i].rel);
                continue;
            }
            seen_put(&paths_seen, files.v[i].path, "");
            files.v[w++] = files.v[i];
        }
        files.n = w;
        seen_free(&paths_seen);
    }

    Indexer ix;
    memset(&ix, 0, sizeof ix);
    ix.client = &client;
    ix.collection = collection;
    ix.meta = &meta;
    ix.have_meta = meta_path != NULL;
    ix.dup_threshold = dup;
    ix.check_dups = check_dups;
    ix.force = force;
    Buf cp;
    buf_init(&cp);
    buf_append_str(&cp, "/collections/");
    client_path_escape(&cp, collection);
    snprintf(ix.coll_path, sizeof ix.coll_path, "%s", cp.data);
    buf_free(&cp);
    ix.report.found = files.n + bad.n;
    for (size_t i = 0; i < bad.n; i++) report_fail(&ix.report, bad.v[i].path, bad.v[i].rel);

    int status = 0;
    int crc = client_connect(&client, "index");
    if (crc) {
        status = crc == ERR_INVAL ? 2 : 1; /* ERR_INVAL: the options (see client_connect) */
        goto out;
    }
    srand((unsigned)(time(NULL) ^ (unsigned)getpid()));
    Progress prog = { isatty(2), now_seconds(), 0, ix.report.found, 0 };
    prog.last = prog.start;
    double t0 = prog.start;
    for (size_t i = 0; i < files.n;) {
        /* A batch: up to --batch files and INDEX_MAX_BATCH_BYTES. */
        size_t n = 0, bytes = 0;
        while (i + n < files.n && n < (size_t)batch) {
            struct stat st;
            size_t sz = stat(files.v[i + n].path, &st) == 0 ? (size_t)st.st_size : 0;
            if (sz > INDEX_MAX_FILE_BYTES) sz = 0; /* refused before sending anyway */
            if (n && bytes + sz > INDEX_MAX_BATCH_BYTES) break;
            bytes += sz;
            n++;
        }
        if (index_batch(&ix, files.v + i, n, err, sizeof err)) {
            if (prog.drawn) fputc('\n', stderr);
            fprintf(stderr, "vitrine index: %s: %s\n", client_url(&client), err);
            fprintf(stderr, "vitrine index: stopped after %zu of %zu files; run the same command again to "
                            "resume\n", i, files.n);
            status = 1;
            break;
        }
        i += n;
        if (progress_on) progress_show(&prog, &ix.report, i == files.n);
    }
    double seconds = now_seconds() - t0;
    size_t unmatched = 0;
    for (size_t k = 0; k < meta.n; k++) unmatched += !meta.used[k];
    /* The report also after a stop: what failed so far is worth fixing
     * before the run is resumed. */
    report_print(&ix, stdout, seconds, ix.have_meta ? unmatched : 0);
    if (report_path && report_write_json(&ix, report_path, seconds, ix.have_meta ? unmatched : 0)) status = 1;
    if (client_close(&client)) status = 1;
out:
    report_free(&ix.report);
    seen_free(&ix.seen);
    seen_free(&ix.ids);
    files_free(&files);
    files_free(&bad);
    if (meta_path) meta_free(&meta);
    free(paths);
    return status;

usage:
    fprintf(stderr, "run `vitrine index --help` for the options\n");
    free(paths);
    return 2;
}
