/*
 * v1_classify.c - CLIP's zero-shot classification and moderation rules:
 *
 *   POST /v1/classify          {"image", "labels", "templates"?} -> labels
 *                              with probabilities, highest first
 *   PUT  /v1/moderation/rules  replace the rules (persisted)
 *   GET  /v1/moderation/rules  the rules
 *   POST /v1/moderate          {"image"} -> every rule's score, and which fire
 *
 * Classification is CLIP's recipe (Radford et al. 2021, section 3.1.4 and
 * the prompt-ensembling notebook of openai/CLIP): each label's text
 * embedding is the normalised mean of the normalised embeddings of its
 * templates filled with the label ("a photo of a {}." -> "a photo of a
 * cat."); the probabilities are softmax over labels of exp(logit_scale) x
 * cosine(image, label). Label embeddings are cached in memory, keyed by
 * label and template list, so a shop's fixed category list costs text
 * inference once.
 *
 * Moderation rules are named sets of prompts with a threshold and an
 * action. A rule's score for an image is the best cosine similarity
 * between the image and one of its prompts; the rule fires when the score
 * reaches the threshold. Items added through PUT .../items are checked on
 * ingest (v1_items.c): a "flag" rule that fires is recorded in the
 * payload under "_moderation", a "reject" rule refuses the item. The rules
 * are kept as a database record (written by the writer thread) and in
 * memory with their prompts' embeddings, as one reference-counted set that
 * a PUT replaces whole: a check running meanwhile finishes with the set
 * it started with.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1.h"
#include "api/v1_routes.h"
#include "base/err.h"
#include "base/util.h"
#include "base/vec.h"

/* Limits of a classify request. */
#define V1_MAX_LABELS 1000
#define V1_MAX_TEMPLATES 64
#define V1_MAX_LABEL_BYTES 1024
/* Label embeddings kept (2 KB each for ViT-B/32). */
#define V1_LABEL_CACHE 2048
/* The record holding the moderation rules (docs/storage.md). */
#define V1_RULES_KEY "v1/moderation_rules"

/*
 * The default templates: a small ensemble for product photos, in CLIP's
 * style (the ImageNet ensemble of openai/CLIP's notebook adapted to
 * catalogue pictures: packshots on white, close-ups, worn or in use).
 * docs/http-api.md lists them.
 */
static const char *const default_templates[] = {
    "a photo of a {}.",
    "a product photo of a {}.",
    "a close-up photo of a {}.",
    "a photo of a {} on a white background.",
    "a studio photo of a {}.",
    "an online shop photo of a {}.",
};

/* ---- embedding many texts ---- */

/*
 * embed_texts embeds texts[0..n) into vecs (n x dim), in chunks that
 * respect the per-request text limit. On failure *bad is the index of
 * the failed text and msg says why; returns its code.
 */
static int embed_texts(Db *db, Embedder *e, char *const *texts, size_t n, float *vecs,
                       size_t *bad, char *msg, size_t msglen)
{
    int dim = embedder_dim(e);
    size_t chunk = embedder_options(e)->max_texts;
    V1EmbedItem *it = xcalloc(chunk < n ? chunk : n ? n : 1, sizeof *it);
    int rc = 0;
    for (size_t start = 0; start < n && !rc; start += chunk) {
        size_t m = n - start < chunk ? n - start : chunk;
        for (size_t i = 0; i < m; i++) {
            memset(&it[i], 0, sizeof it[i]);
            it[i].in = (EmbedInput){ EMBED_TEXT, texts[start + i], strlen(texts[start + i]) };
            it[i].vec = vecs + (start + i) * (size_t)dim;
        }
        rc = v1_embed(db, e, it, m, EMBED_FAIL_FAST);
        if (rc) {
            size_t k = 0;
            while (k + 1 < m && (!it[k].st.code || it[k].st.code == ERR_BUSY)) k++;
            *bad = start + k;
            snprintf(msg, msglen, "%s", it[k].st.message);
            rc = it[k].st.code;
        }
    }
    free(it);
    return rc;
}

/* fill_template replaces every "{}" of t with label. */
static char *fill_template(Arena *a, const char *t, const char *label)
{
    Buf b;
    buf_init(&b);
    for (const char *p = t; *p;) {
        const char *q = strstr(p, "{}");
        if (!q) {
            buf_append_str(&b, p);
            break;
        }
        buf_append(&b, p, (size_t)(q - p));
        buf_append_str(&b, label);
        p = q + 2;
    }
    char *s = arena_strndup(a, b.data ? b.data : "", b.len);
    buf_free(&b);
    return s;
}

/* ---- the label cache ---- */

typedef struct {
    uint64_t hash;
    char *key; /* templates, each followed by \x1e, then \x1f and the label */
    float *vec;
    uint64_t used;
} LabelEntry;

static struct {
    pthread_mutex_t lock;
    const Embedder *owner; /* entries belong to this model */
    LabelEntry e[V1_LABEL_CACHE];
    size_t n;
    uint64_t clock;
} label_cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

static int label_cache_get(const Embedder *e, const char *key, uint64_t h, float *out, int dim)
{
    int hit = 0;
    pthread_mutex_lock(&label_cache.lock);
    if (label_cache.owner == e) {
        for (size_t i = 0; i < label_cache.n; i++) {
            LabelEntry *le = &label_cache.e[i];
            if (le->hash == h && !strcmp(le->key, key)) {
                memcpy(out, le->vec, (size_t)dim * sizeof *out);
                le->used = ++label_cache.clock;
                hit = 1;
                break;
            }
        }
    }
    pthread_mutex_unlock(&label_cache.lock);
    return hit;
}

static void label_cache_put(const Embedder *e, const char *key, uint64_t h, const float *vec, int dim)
{
    pthread_mutex_lock(&label_cache.lock);
    if (label_cache.owner != e) {
        for (size_t i = 0; i < label_cache.n; i++) {
            free(label_cache.e[i].key);
            free(label_cache.e[i].vec);
        }
        label_cache.n = 0;
        label_cache.owner = e;
    }
    LabelEntry *le;
    if (label_cache.n < V1_LABEL_CACHE) {
        le = &label_cache.e[label_cache.n++];
    } else {
        /* Evict the least recently used entry. */
        le = &label_cache.e[0];
        for (size_t i = 1; i < label_cache.n; i++)
            if (label_cache.e[i].used < le->used) le = &label_cache.e[i];
        free(le->key);
        free(le->vec);
    }
    le->hash = h;
    le->key = xstrdup(key);
    le->vec = xmalloc((size_t)dim * sizeof *vec);
    memcpy(le->vec, vec, (size_t)dim * sizeof *vec);
    le->used = ++label_cache.clock;
    pthread_mutex_unlock(&label_cache.lock);
}

/* ---- POST /v1/classify ---- */

typedef struct {
    const char *label;
    float score;
    size_t index;
} LabelScore;

static int by_score(const void *a, const void *b)
{
    const LabelScore *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* check_model: an optional "model" must be one of the model's names. */
static int check_model(ApiJob *j, Embedder *e)
{
    const char *model = NULL;
    if (api_get_str(j, j->body, "model", &model)) return -1;
    if (model && !embedder_model_known(e, model))
        return api_fail(j, QERR_NOT_FOUND, "model \"%s\" is not served here (GET /v1/models lists it)",
                        model);
    return 0;
}

/* string_list reads an array of 1..max non-empty strings. */
static int string_list(ApiJob *j, const JsonValue *arr, const char *what, size_t max,
                       const char ***out, size_t *n)
{
    if (arr->type != JSON_ARRAY)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a sequence at `%s`", what);
    if (arr->len == 0 || arr->len > max)
        return api_fail(j, QERR_BAD_REQUEST, "%s: 1 to %zu strings", what, max);
    const char **s = arena_alloc(api_arena(j), arr->len * sizeof *s);
    for (uint32_t i = 0; i < arr->len; i++) {
        const JsonValue *v = api_item(j, arr, i);
        if (v->type != JSON_STRING)
            return api_fail(j, QERR_FORMAT, "invalid type, expected a string at `%s[%u]`", what, i);
        if (v->len == 0) return api_fail(j, QERR_BAD_REQUEST, "%s[%u]: an empty string", what, i);
        if (strlen(v->u.str) != v->len)
            return api_fail(j, QERR_BAD_REQUEST, "%s[%u]: a NUL character", what, i);
        s[i] = v->u.str;
    }
    *out = s;
    *n = arr->len;
    return 0;
}

static void classify(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    Embedder *e = v1_job_embedder(j);
    if (!e || check_model(j, e)) return;
    int dim = embedder_dim(e);
    Arena *a = api_arena(j);
    const JsonValue *image = json_get(j->body, "image"), *labels_v = json_get(j->body, "labels");
    if (!image) return (void)api_fail(j, QERR_FORMAT, "missing field `image`");
    if (!labels_v) return (void)api_fail(j, QERR_FORMAT, "missing field `labels`");
    const char **labels, **templates;
    size_t n_labels, n_templates;
    if (string_list(j, labels_v, "labels", V1_MAX_LABELS, &labels, &n_labels)) return;
    for (size_t i = 0; i < n_labels; i++) {
        if (strlen(labels[i]) > V1_MAX_LABEL_BYTES)
            return (void)api_fail(j, QERR_BAD_REQUEST, "labels[%zu]: longer than %d bytes", i,
                                  V1_MAX_LABEL_BYTES);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(labels[k], labels[i]))
                return (void)api_fail(j, QERR_BAD_REQUEST, "labels[%zu]: \"%s\" is given twice", i,
                                      labels[i]);
    }
    const JsonValue *tv = json_get(j->body, "templates");
    if (tv && tv->type != JSON_NULL) {
        if (string_list(j, tv, "templates", V1_MAX_TEMPLATES, &templates, &n_templates)) return;
        for (size_t i = 0; i < n_templates; i++)
            if (!strstr(templates[i], "{}"))
                return (void)api_fail(j, QERR_BAD_REQUEST,
                                      "templates[%zu]: a template holds {} where the label goes", i);
    } else {
        templates = (const char **)default_templates;
        n_templates = ARRAY_LEN(default_templates);
    }
    const void *bytes;
    size_t len;
    if (v1_image_bytes(j, e, image, "image", &bytes, &len)) return;
    float *img = arena_alloc(a, (size_t)dim * sizeof *img);
    char msg[EMBED_MAX_MESSAGE];
    int rc = v1_embed_one(j->api->db, e, EMBED_IMAGE, bytes, len, img, msg, sizeof msg);
    if (rc) return (void)api_fail_embed(j, rc, "image", msg);

    /* Label embeddings: from the cache, else from their templates. */
    Buf kb;
    buf_init(&kb);
    for (size_t t = 0; t < n_templates; t++) {
        buf_append_str(&kb, templates[t]);
        buf_append(&kb, "\x1e", 1);
    }
    buf_append(&kb, "\x1f", 1);
    size_t kprefix = kb.len;
    float *lv = arena_alloc(a, n_labels * (size_t)dim * sizeof *lv);
    char **keys = arena_alloc(a, n_labels * sizeof *keys);
    uint64_t *hashes = arena_alloc(a, n_labels * sizeof *hashes);
    size_t *missing = arena_alloc(a, n_labels * sizeof *missing), n_missing = 0;
    for (size_t i = 0; i < n_labels; i++) {
        kb.len = kprefix;
        buf_append_str(&kb, labels[i]);
        keys[i] = arena_strndup(a, kb.data, kb.len);
        hashes[i] = fnv1a(keys[i]);
        if (!label_cache_get(e, keys[i], hashes[i], lv + i * (size_t)dim, dim)) missing[n_missing++] = i;
    }
    buf_free(&kb);
    if (n_missing) {
        size_t nt = n_missing * n_templates;
        char **texts = arena_alloc(a, nt * sizeof *texts);
        for (size_t m = 0; m < n_missing; m++)
            for (size_t t = 0; t < n_templates; t++)
                texts[m * n_templates + t] = fill_template(a, templates[t], labels[missing[m]]);
        float *tv_all = xmalloc(nt * (size_t)dim * sizeof *tv_all);
        size_t bad = 0;
        rc = embed_texts(j->api->db, e, texts, nt, tv_all, &bad, msg, sizeof msg);
        if (rc) {
            free(tv_all);
            char what[64];
            snprintf(what, sizeof what, "labels[%zu] in templates[%zu]", missing[bad / n_templates],
                     bad % n_templates);
            return (void)api_fail_embed(j, rc, what, msg);
        }
        for (size_t m = 0; m < n_missing; m++) {
            float *out = lv + missing[m] * (size_t)dim;
            /* The mean of the unit template embeddings, made unit. */
            for (int d = 0; d < dim; d++) {
                double s = 0;
                for (size_t t = 0; t < n_templates; t++) s += tv_all[(m * n_templates + t) * (size_t)dim + d];
                out[d] = (float)(s / (double)n_templates);
            }
            vec_normalize(out, (size_t)dim);
            label_cache_put(e, keys[missing[m]], hashes[missing[m]], out, dim);
        }
        free(tv_all);
    }

    /* softmax(exp(logit_scale) x cosine) over the labels. */
    double scale = embedder_logit_scale(e);
    LabelScore *ls = arena_alloc(a, n_labels * sizeof *ls);
    double *logit = arena_alloc(a, n_labels * sizeof *logit), max = -INFINITY, sum = 0;
    for (size_t i = 0; i < n_labels; i++) {
        double c = 0;
        for (int d = 0; d < dim; d++) c += (double)img[d] * lv[i * (size_t)dim + d];
        logit[i] = scale * c;
        if (logit[i] > max) max = logit[i];
    }
    for (size_t i = 0; i < n_labels; i++) sum += exp(logit[i] - max);
    for (size_t i = 0; i < n_labels; i++)
        ls[i] = (LabelScore){ labels[i], (float)(exp(logit[i] - max) / sum), i };
    qsort(ls, n_labels, sizeof *ls, by_score);
    JsonWriter *w = api_result(j);
    jw_array_begin(w);
    for (size_t i = 0; i < n_labels; i++) {
        jw_object_begin(w);
        jw_key(w, "label");
        jw_string(w, ls[i].label);
        jw_key(w, "score");
        jw_float(w, ls[i].score);
        jw_object_end(w);
    }
    jw_array_end(w);
}

/* ---- moderation rules ---- */

typedef struct {
    char name[V1_MAX_RULE_NAME + 1];
    int reject;
    float threshold;
    size_t n_prompts;
    char **prompts; /* malloc'd, each malloc'd */
    float *vecs;    /* (n_prompts, dim) */
} Rule;

typedef struct {
    int refs;
    size_t n;
    Rule rules[V1_MAX_RULES];
    char *json; /* the canonical JSON, as stored */
} RuleSet;

static struct {
    pthread_mutex_t lock;
    const Db *db;
    const Embedder *e;
    RuleSet *cur;  /* NULL until loaded */
    uint64_t gen;  /* bumped by every PUT */
} mod = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void ruleset_free(RuleSet *rs)
{
    if (!rs) return;
    for (size_t i = 0; i < rs->n; i++) {
        for (size_t k = 0; k < rs->rules[i].n_prompts; k++) free(rs->rules[i].prompts[k]);
        free(rs->rules[i].prompts);
        free(rs->rules[i].vecs);
    }
    free(rs->json);
    free(rs);
}

static void ruleset_release(RuleSet *rs)
{
    pthread_mutex_lock(&mod.lock);
    int last = --rs->refs == 0;
    pthread_mutex_unlock(&mod.lock);
    if (last) ruleset_free(rs);
}

/*
 * rules_parse reads {"rules": [{"name", "prompts", "threshold", "action"}]}
 * into a new set (without embeddings) and its canonical JSON. 0, or
 * ERR_INVAL with a message.
 */
static int rules_parse(const JsonValue *body, RuleSet **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!body || body->type != JSON_OBJECT)
        return err_set(err, errlen, ERR_INVAL, "expected an object with `rules`");
    const JsonValue *arr = json_get(body, "rules");
    if (!arr) return err_set(err, errlen, ERR_INVAL, "missing field `rules`");
    if (arr->type != JSON_ARRAY) return err_set(err, errlen, ERR_INVAL, "`rules` must be a list");
    if (arr->len > V1_MAX_RULES)
        return err_set(err, errlen, ERR_INVAL, "at most %d rules", V1_MAX_RULES);
    RuleSet *rs = xcalloc(1, sizeof *rs);
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "rules");
    jw_array_begin(&w);
    int rc = 0;
    for (uint32_t i = 0; i < arr->len && !rc; i++) {
        JsonValue item = json_item(arr, i);
        const JsonValue *o = &item;
        Rule *r = &rs->rules[rs->n];
        if (o->type != JSON_OBJECT) {
            rc = err_set(err, errlen, ERR_INVAL, "rules[%u]: expected an object", i);
            break;
        }
        const char *name = json_as_str(json_get(o, "name"));
        if (!name || !*name || strlen(name) > V1_MAX_RULE_NAME) {
            rc = err_set(err, errlen, ERR_INVAL, "rules[%u].name: a string of 1 to %d bytes", i,
                         V1_MAX_RULE_NAME);
            break;
        }
        for (size_t k = 0; k < rs->n; k++)
            if (!strcmp(rs->rules[k].name, name))
                rc = err_set(err, errlen, ERR_INVAL, "rules[%u].name: \"%s\" is given twice", i, name);
        if (rc) break;
        snprintf(r->name, sizeof r->name, "%s", name);
        const JsonValue *th = json_get(o, "threshold");
        double t;
        if (!th || json_as_double(th, &t) || !(t >= -1 && t <= 1)) {
            rc = err_set(err, errlen, ERR_INVAL,
                         "rules[%u].threshold: a cosine similarity between -1 and 1", i);
            break;
        }
        r->threshold = (float)t;
        const JsonValue *act = json_get(o, "action");
        const char *action = act ? json_as_str(act) : "flag";
        if (!action || (strcmp(action, "flag") && strcmp(action, "reject"))) {
            rc = err_set(err, errlen, ERR_INVAL, "rules[%u].action: \"flag\" or \"reject\"", i);
            break;
        }
        r->reject = !strcmp(action, "reject");
        const JsonValue *pr = json_get(o, "prompts");
        if (!pr || pr->type != JSON_ARRAY || pr->len == 0 || pr->len > V1_MAX_RULE_PROMPTS) {
            rc = err_set(err, errlen, ERR_INVAL, "rules[%u].prompts: a list of 1 to %d texts", i,
                         V1_MAX_RULE_PROMPTS);
            break;
        }
        r->prompts = xcalloc(pr->len, sizeof *r->prompts);
        rs->n++;
        for (uint32_t k = 0; k < pr->len; k++) {
            JsonValue pv = json_item(pr, k);
            if (pv.type != JSON_STRING || pv.len == 0 || strlen(pv.u.str) != pv.len) {
                rc = err_set(err, errlen, ERR_INVAL, "rules[%u].prompts[%u]: a non-empty text", i, k);
                break;
            }
            r->prompts[r->n_prompts++] = xstrdup(pv.u.str);
        }
        if (rc) break;
        jw_object_begin(&w);
        jw_key(&w, "name");
        jw_string(&w, r->name);
        jw_key(&w, "prompts");
        jw_array_begin(&w);
        for (size_t k = 0; k < r->n_prompts; k++) jw_string(&w, r->prompts[k]);
        jw_array_end(&w);
        jw_key(&w, "threshold");
        jw_float(&w, r->threshold);
        jw_key(&w, "action");
        jw_string(&w, r->reject ? "reject" : "flag");
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_object_end(&w);
    if (rc) {
        buf_free(&b);
        ruleset_free(rs);
        return rc;
    }
    size_t len;
    rs->json = buf_detach(&b, &len);
    *out = rs;
    return 0;
}

/* rules_embed embeds every rule's prompts (a threadpool thread). */
static int rules_embed(Db *db, Embedder *e, RuleSet *rs, char *msg, size_t msglen)
{
    int dim = embedder_dim(e);
    size_t total = 0;
    for (size_t i = 0; i < rs->n; i++) total += rs->rules[i].n_prompts;
    if (!total) return 0;
    char **texts = xmalloc(total * sizeof *texts);
    float *vecs = xmalloc(total * (size_t)dim * sizeof *vecs);
    size_t k = 0;
    for (size_t i = 0; i < rs->n; i++)
        for (size_t p = 0; p < rs->rules[i].n_prompts; p++) texts[k++] = rs->rules[i].prompts[p];
    size_t bad = 0;
    char why[EMBED_MAX_MESSAGE];
    int rc = embed_texts(db, e, texts, total, vecs, &bad, why, sizeof why);
    if (rc) {
        /* Name the rule and prompt that failed. */
        size_t i = 0, off = bad;
        while (i < rs->n && off >= rs->rules[i].n_prompts) off -= rs->rules[i++].n_prompts;
        snprintf(msg, msglen, "rule \"%s\", prompt %zu: %s", i < rs->n ? rs->rules[i].name : "?", off, why);
    } else {
        k = 0;
        for (size_t i = 0; i < rs->n; i++) {
            size_t np = rs->rules[i].n_prompts;
            rs->rules[i].vecs = xmalloc(np * (size_t)dim * sizeof(float));
            memcpy(rs->rules[i].vecs, vecs + k * (size_t)dim, np * (size_t)dim * sizeof(float));
            k += np;
        }
    }
    free(vecs);
    free(texts);
    return rc;
}

/*
 * rules_acquire returns the current rule set of db with a reference
 * (release it with ruleset_release), loading it from the database and
 * embedding its prompts the first time. 0, or an error with msg.
 */
static int rules_acquire(Db *db, Embedder *e, RuleSet **out, char *msg, size_t msglen)
{
    for (;;) {
        pthread_mutex_lock(&mod.lock);
        if (mod.cur && mod.db == db && mod.e == e) {
            mod.cur->refs++;
            *out = mod.cur;
            pthread_mutex_unlock(&mod.lock);
            return 0;
        }
        uint64_t gen = mod.gen;
        pthread_mutex_unlock(&mod.lock);
        /* Load outside the lock: embedding the prompts takes a while. */
        Arena a;
        arena_init(&a, 0);
        void *val;
        size_t vlen;
        RuleSet *rs = NULL;
        int rc = collection_record_get(db, V1_RULES_KEY, strlen(V1_RULES_KEY), &a, &val, &vlen);
        if (rc == ERR_NOTFOUND) {
            rs = xcalloc(1, sizeof *rs);
            rs->json = xstrdup("{\"rules\":[]}");
            rc = 0;
        } else if (rc == 0) {
            JsonValue *body;
            char err[256];
            rc = json_parse(&a, val, vlen, &body, err, sizeof err);
            if (!rc) rc = rules_parse(body, &rs, err, sizeof err);
            if (rc) snprintf(msg, msglen, "the stored moderation rules do not parse: %s", err);
        } else {
            snprintf(msg, msglen, "cannot read the moderation rules: %s", err_str(rc));
        }
        arena_free(&a);
        if (!rc) rc = rules_embed(db, e, rs, msg, msglen);
        if (rc) {
            ruleset_free(rs);
            return rc;
        }
        pthread_mutex_lock(&mod.lock);
        if (mod.gen == gen) {
            /* Still the newest: install it (unless another loader won). */
            if (!(mod.cur && mod.db == db && mod.e == e)) {
                RuleSet *old = mod.cur;
                rs->refs = 1; /* the module's */
                mod.cur = rs;
                mod.db = db;
                mod.e = e;
                rs = NULL;
                if (old && --old->refs == 0) {
                    pthread_mutex_unlock(&mod.lock);
                    ruleset_free(old);
                    continue;
                }
            }
        }
        pthread_mutex_unlock(&mod.lock);
        ruleset_free(rs);
        /* Take the installed set on the next turn. */
    }
}

/* rules_install makes rs (prompts embedded, stored) the current set. */
static void rules_install(Db *db, Embedder *e, RuleSet *rs)
{
    pthread_mutex_lock(&mod.lock);
    RuleSet *old = mod.cur;
    rs->refs = 1;
    mod.cur = rs;
    mod.db = db;
    mod.e = e;
    mod.gen++;
    int last = old && --old->refs == 0;
    pthread_mutex_unlock(&mod.lock);
    if (last) ruleset_free(old);
}

static int by_rule_score(const void *a, const void *b)
{
    const V1RuleScore *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return strcmp(x->name, y->name);
}

int v1_moderate_vector(Db *db, Embedder *e, const float *image, V1Moderation *out, char *msg,
                       size_t msglen)
{
    out->n = out->n_fired = 0;
    RuleSet *rs;
    int rc = rules_acquire(db, e, &rs, msg, msglen);
    if (rc) return rc;
    int dim = embedder_dim(e);
    for (size_t i = 0; i < rs->n; i++) {
        const Rule *r = &rs->rules[i];
        float best = -INFINITY;
        for (size_t k = 0; k < r->n_prompts; k++) {
            float c = vec_dot(image, r->vecs + k * (size_t)dim, (size_t)dim);
            if (c > best) best = c;
        }
        V1RuleScore *s = &out->rules[out->n++];
        snprintf(s->name, sizeof s->name, "%s", r->name);
        s->reject = r->reject;
        s->threshold = r->threshold;
        s->score = best;
        s->fired = best >= r->threshold;
        out->n_fired += s->fired;
    }
    ruleset_release(rs);
    if (out->n) qsort(out->rules, out->n, sizeof *out->rules, by_rule_score);
    return 0;
}

/*
 * PUT /v1/moderation/rules: validated and the prompts embedded off the
 * loop; stored and installed by the writer thread. Between the two the
 * request's arena holds the canonical JSON and the prompts' embeddings,
 * so a request dropped on the way (writer queue full, shutdown) leaves
 * nothing behind.
 */
typedef struct {
    char *json;
    float *vecs; /* every prompt's embedding, rule after rule */
    size_t n_vecs;
} RulesPut;

static void rules_put_prepare(ApiJob *j)
{
    Embedder *e = v1_job_embedder(j);
    if (!e) return;
    RuleSet *rs;
    char err[512];
    if (rules_parse(j->body, &rs, err, sizeof err)) return (void)api_fail(j, QERR_BAD_REQUEST, "%s", err);
    int rc = rules_embed(j->api->db, e, rs, err, sizeof err);
    if (rc) {
        ruleset_free(rs);
        return (void)api_fail_embed(j, rc, "prompts", err);
    }
    Arena *a = api_arena(j);
    size_t dim = (size_t)embedder_dim(e);
    RulesPut *p = arena_calloc(a, sizeof *p);
    p->json = arena_strndup(a, rs->json, strlen(rs->json));
    for (size_t i = 0; i < rs->n; i++) p->n_vecs += rs->rules[i].n_prompts;
    p->vecs = arena_alloc(a, (p->n_vecs ? p->n_vecs : 1) * dim * sizeof(float));
    size_t k = 0;
    for (size_t i = 0; i < rs->n; i++) {
        size_t np = rs->rules[i].n_prompts;
        memcpy(p->vecs + k * dim, rs->rules[i].vecs, np * dim * sizeof(float));
        k += np;
    }
    ruleset_free(rs);
    j->state = p;
}

static void rules_put_run(ApiJob *j)
{
    RulesPut *p = j->state;
    Embedder *e = v1_embedder();
    CollectionRecord r = { V1_RULES_KEY, strlen(V1_RULES_KEY), p->json, strlen(p->json) };
    int rc = collection_record_put(j->api->db, &r, 1);
    if (rc) return (void)api_fail_engine(j, rc, "cannot store the moderation rules");
    jw_raw(api_result(j), p->json, strlen(p->json));
    /* The set in memory, from what was stored (it parsed in prepare). */
    Arena a;
    arena_init(&a, 0);
    JsonValue *body;
    RuleSet *rs = NULL;
    char err[256];
    if (!e || json_parse(&a, p->json, strlen(p->json), &body, err, sizeof err) ||
        rules_parse(body, &rs, err, sizeof err)) {
        /* Cannot happen; the next check loads them from the record. */
        arena_free(&a);
        pthread_mutex_lock(&mod.lock);
        mod.gen++;
        pthread_mutex_unlock(&mod.lock);
        return;
    }
    arena_free(&a);
    size_t dim = (size_t)embedder_dim(e), k = 0;
    for (size_t i = 0; i < rs->n; i++) {
        size_t np = rs->rules[i].n_prompts;
        rs->rules[i].vecs = xmalloc(np * dim * sizeof(float));
        memcpy(rs->rules[i].vecs, p->vecs + k * dim, np * dim * sizeof(float));
        k += np;
    }
    rules_install(j->api->db, e, rs);
}

static void rules_get(ApiJob *j)
{
    Arena *a = api_arena(j);
    void *val;
    size_t vlen;
    int rc = collection_record_get(j->api->db, V1_RULES_KEY, strlen(V1_RULES_KEY), a, &val, &vlen);
    if (rc == ERR_NOTFOUND) {
        jw_raw(api_result(j), "{\"rules\":[]}", 12);
        return;
    }
    if (rc) return (void)api_fail_engine(j, rc, "cannot read the moderation rules");
    jw_raw(api_result(j), val, vlen);
}

static void moderate(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    Embedder *e = v1_job_embedder(j);
    if (!e || check_model(j, e)) return;
    const JsonValue *image = json_get(j->body, "image");
    if (!image) return (void)api_fail(j, QERR_FORMAT, "missing field `image`");
    const void *bytes;
    size_t len;
    if (v1_image_bytes(j, e, image, "image", &bytes, &len)) return;
    int dim = embedder_dim(e);
    float *img = arena_alloc(api_arena(j), (size_t)dim * sizeof *img);
    char msg[512];
    int rc = v1_embed_one(j->api->db, e, EMBED_IMAGE, bytes, len, img, msg, sizeof msg);
    if (rc) return (void)api_fail_embed(j, rc, "image", msg);
    V1Moderation *m = arena_alloc(api_arena(j), sizeof *m);
    rc = v1_moderate_vector(j->api->db, e, img, m, msg, sizeof msg);
    if (rc) return (void)api_fail_embed(j, rc, "moderation rules", msg);
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "flagged");
    int flagged = 0, rejected = 0;
    for (size_t i = 0; i < m->n; i++) {
        flagged |= m->rules[i].fired && !m->rules[i].reject;
        rejected |= m->rules[i].fired && m->rules[i].reject;
    }
    jw_bool(w, flagged);
    jw_key(w, "rejected");
    jw_bool(w, rejected);
    for (int pass = 0; pass < 2; pass++) {
        jw_key(w, pass ? "rules" : "fired");
        jw_array_begin(w);
        for (size_t i = 0; i < m->n; i++) {
            const V1RuleScore *r = &m->rules[i];
            if (!pass && !r->fired) continue;
            jw_object_begin(w);
            jw_key(w, "name");
            jw_string(w, r->name);
            jw_key(w, "action");
            jw_string(w, r->reject ? "reject" : "flag");
            jw_key(w, "score");
            jw_float(w, r->score);
            jw_key(w, "threshold");
            jw_float(w, r->threshold);
            if (pass) {
                jw_key(w, "fired");
                jw_bool(w, r->fired);
            }
            jw_object_end(w);
        }
        jw_array_end(w);
    }
    jw_object_end(w);
}

const ApiRoute v1_classify_routes[] = {
    { "POST", "/v1/classify", API_READ, NULL, classify },
    { "PUT", "/v1/moderation/rules", API_WRITE, rules_put_prepare, rules_put_run },
    { "GET", "/v1/moderation/rules", API_READ, NULL, rules_get },
    { "POST", "/v1/moderate", API_READ, NULL, moderate },
    { NULL, NULL, 0, NULL, NULL },
};
