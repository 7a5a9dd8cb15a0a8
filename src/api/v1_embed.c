/*
 * v1_embed.c - embedding with the persistent image cache (design in
 * v1_embed.h).
 */
#include "api/v1_embed.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/metrics.h"

/* The text whose embedding fingerprints the model. Any fixed text does;
 * this one tokenizes to a handful of tokens. */
#define V1_PROBE_TEXT "vitrine image cache fingerprint"

/* The fingerprint of one embedder, computed once per process. */
static pthread_mutex_t fp_lock = PTHREAD_MUTEX_INITIALIZER;
static const Embedder *fp_owner;
static uint8_t fp_value[V1_FINGERPRINT_LEN];

static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
    /* The families are described by the embedder; the image series start
     * at 0 so /metrics shows them before the first image. */
    metrics_counter_add("vitrine_embed_cache_hits_total", "cache=\"image\"", 0);
    metrics_counter_add("vitrine_embed_cache_misses_total", "cache=\"image\"", 0);
}

/* fingerprint gives the model's fingerprint, embedding the probe text the
 * first time. 0, or an embedder error (then the cache is not used). */
static int fingerprint(Embedder *e, uint8_t out[V1_FINGERPRINT_LEN])
{
    pthread_mutex_lock(&fp_lock);
    int have = fp_owner == e;
    if (have) memcpy(out, fp_value, V1_FINGERPRINT_LEN);
    pthread_mutex_unlock(&fp_lock);
    if (have) return 0;
    int dim = embedder_dim(e);
    if (dim <= 0) return ERR_UNSUPPORTED;
    float *v = xmalloc((size_t)dim * sizeof *v);
    EmbedInput in = { EMBED_TEXT, V1_PROBE_TEXT, strlen(V1_PROBE_TEXT) };
    EmbedStatus st;
    int rc = embedder_embed(e, &in, 1, v, &st, 0);
    if (!rc) {
        /* Little-endian bytes of the floats, whatever this machine's
         * order, so a data directory moved between machines keeps its
         * cache. */
        Sha256 s;
        sha256_init(&s);
        for (int i = 0; i < dim; i++) {
            uint32_t u;
            memcpy(&u, &v[i], 4);
            uint8_t b[4] = { (uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24) };
            sha256_update(&s, b, 4);
        }
        uint8_t d[SHA256_DIGEST_LEN];
        sha256_final(&s, d);
        memcpy(out, d, V1_FINGERPRINT_LEN);
        pthread_mutex_lock(&fp_lock);
        fp_owner = e;
        memcpy(fp_value, d, V1_FINGERPRINT_LEN);
        pthread_mutex_unlock(&fp_lock);
    }
    free(v);
    return rc;
}

static size_t cache_key(uint8_t key[V1_IMAGE_CACHE_KEY_LEN], const uint8_t digest[SHA256_DIGEST_LEN])
{
    memcpy(key, V1_IMAGE_CACHE_PREFIX, sizeof V1_IMAGE_CACHE_PREFIX - 1);
    memcpy(key + sizeof V1_IMAGE_CACHE_PREFIX - 1, digest, SHA256_DIGEST_LEN);
    return V1_IMAGE_CACHE_KEY_LEN;
}

/* cache_lookup fills item's vec from the cache; 1 on a hit. The entry's
 * floats are stored little-endian. */
static int cache_lookup(Db *db, const uint8_t fp[V1_FINGERPRINT_LEN], int dim, V1EmbedItem *it)
{
    uint8_t key[V1_IMAGE_CACHE_KEY_LEN];
    size_t kl = cache_key(key, it->digest);
    Arena a;
    arena_init(&a, 4096);
    void *val;
    size_t vlen;
    int hit = 0;
    if (collection_record_get(db, key, kl, &a, &val, &vlen) == 0 &&
        vlen == V1_FINGERPRINT_LEN + (size_t)dim * 4 && !memcmp(val, fp, V1_FINGERPRINT_LEN)) {
        const uint8_t *p = (const uint8_t *)val + V1_FINGERPRINT_LEN;
        for (int i = 0; i < dim; i++, p += 4) {
            uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                         (uint32_t)p[3] << 24;
            memcpy(&it->vec[i], &u, 4);
        }
        hit = 1;
    }
    arena_free(&a);
    return hit;
}

/* check_cached_image applies the embedder's limits to an image found in
 * the cache (the limits may have been lowered since it was stored), with
 * the embedder's wording. */
static int check_cached_image(Embedder *e, V1EmbedItem *it)
{
    const EmbedderOptions *o = embedder_options(e);
    EmbedStatus *st = &it->st;
    if (it->in.len > o->max_image_bytes) {
        st->code = ERR_TOOLARGE;
        snprintf(st->message, sizeof st->message,
                 "image is %zu bytes, more than the limit of %zu (--embed-max-image-bytes)",
                 it->in.len, o->max_image_bytes);
        return st->code;
    }
    ImageInfo info;
    int rc = image_info(it->in.data, it->in.len, &info, st->message, sizeof st->message);
    if (rc) return st->code = rc;
    if (info.width > 0 && info.height > 0 && info.width > o->max_pixels / info.height) {
        st->code = ERR_TOOLARGE;
        snprintf(st->message, sizeof st->message,
                 "%s image is %lldx%lld, more than the limit of %lld pixels (--embed-max-pixels)",
                 info.format, (long long)info.width, (long long)info.height,
                 (long long)o->max_pixels);
        return st->code;
    }
    return 0;
}

int v1_embed(Db *db, Embedder *e, V1EmbedItem *items, size_t n, unsigned flags)
{
    pthread_once(&metrics_once, metrics_init);
    if (n == 0) return 0;
    int dim = embedder_dim(e);
    size_t n_images = 0;
    for (size_t i = 0; i < n; i++) {
        memset(&items[i].st, 0, sizeof items[i].st);
        items[i].cached = items[i].store = 0;
        n_images += items[i].in.kind == EMBED_IMAGE;
    }
    char msg[EMBED_MAX_MESSAGE];
    int rc = 0;
    if (!embedder_ready(e)) {
        rc = ERR_UNSUPPORTED;
        snprintf(msg, sizeof msg, "%s", embedder_unavailable(e));
    } else {
        rc = embedder_check_counts(e, n - n_images, n_images, msg, sizeof msg);
    }
    if (rc) {
        for (size_t i = 0; i < n; i++) {
            items[i].st.code = rc;
            snprintf(items[i].st.message, sizeof items[i].st.message, "%s", msg);
        }
        return rc;
    }
    /* The cache, for images. */
    uint8_t fp[V1_FINGERPRINT_LEN];
    int use_cache = db && n_images && fingerprint(e, fp) == 0;
    size_t hits = 0, misses = 0;
    uint8_t *todo = xcalloc(n, 1);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        V1EmbedItem *it = &items[i];
        if (it->in.kind == EMBED_IMAGE) {
            sha256(it->in.data, it->in.len, it->digest);
            if (use_cache && cache_lookup(db, fp, dim, it)) {
                hits++;
                if (check_cached_image(e, it) == 0) {
                    it->cached = 1;
                    it->st.cached = 1;
                    it->st.tokens = embedder_image_tokens(e);
                }
                continue;
            }
            misses += use_cache;
        }
        todo[i] = 1;
        m++;
    }
    if (hits) metrics_counter_add("vitrine_embed_cache_hits_total", "cache=\"image\"", (double)hits);
    if (misses) metrics_counter_add("vitrine_embed_cache_misses_total", "cache=\"image\"", (double)misses);
    if (m) {
        EmbedInput *in = xmalloc(m * sizeof *in);
        EmbedStatus *st = xmalloc(m * sizeof *st);
        float *out = xmalloc(m * (size_t)dim * sizeof *out);
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (todo[i]) in[k++] = items[i].in;
        embedder_embed(e, in, m, out, st, flags);
        k = 0;
        for (size_t i = 0; i < n; i++) {
            if (!todo[i]) continue;
            items[i].st = st[k];
            if (st[k].code == 0) {
                memcpy(items[i].vec, out + k * (size_t)dim, (size_t)dim * sizeof *out);
                items[i].store = use_cache && items[i].in.kind == EMBED_IMAGE;
            }
            k++;
        }
        free(out);
        free(st);
        free(in);
    }
    free(todo);
    for (size_t i = 0; i < n; i++)
        if (items[i].st.code) return items[i].st.code;
    return 0;
}

size_t v1_embed_records(Embedder *e, const V1EmbedItem *items, size_t n, Arena *arena,
                        CollectionRecord **out)
{
    *out = NULL;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) count += items[i].store;
    uint8_t fp[V1_FINGERPRINT_LEN];
    if (!count || fingerprint(e, fp)) return 0;
    int dim = embedder_dim(e);
    CollectionRecord *r = arena_alloc(arena, count * sizeof *r);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!items[i].store) continue;
        uint8_t *key = arena_alloc(arena, V1_IMAGE_CACHE_KEY_LEN);
        cache_key(key, items[i].digest);
        size_t vlen = V1_FINGERPRINT_LEN + (size_t)dim * 4;
        uint8_t *val = arena_alloc(arena, vlen), *p = val + V1_FINGERPRINT_LEN;
        memcpy(val, fp, V1_FINGERPRINT_LEN);
        for (int d = 0; d < dim; d++, p += 4) {
            uint32_t u;
            memcpy(&u, &items[i].vec[d], 4);
            p[0] = (uint8_t)u;
            p[1] = (uint8_t)(u >> 8);
            p[2] = (uint8_t)(u >> 16);
            p[3] = (uint8_t)(u >> 24);
        }
        r[k++] = (CollectionRecord){ key, V1_IMAGE_CACHE_KEY_LEN, val, vlen };
    }
    *out = r;
    return count;
}

int v1_embed_one(Db *db, Embedder *e, EmbedKind kind, const void *data, size_t len, float *vec,
                 char *msg, size_t msglen)
{
    V1EmbedItem it;
    memset(&it, 0, sizeof it);
    it.in = (EmbedInput){ kind, data, len };
    it.vec = vec;
    int rc = v1_embed(db, e, &it, 1, 0);
    if (rc && msg && msglen) snprintf(msg, msglen, "%s", it.st.message);
    return rc;
}
