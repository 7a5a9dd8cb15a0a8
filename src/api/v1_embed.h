/*
 * v1_embed.h - embedding for the API's jobs, with the persistent image
 * embedding cache: what items, search, classify, moderation and Qdrant's
 * inference objects call (on threadpool threads), between them and the
 * embedding service (embedder.h).
 *
 * Image cache. An image's embedding is keyed by the SHA-256 of its bytes
 * and kept in the database (a record "v1/img/" + digest: an 8-byte model
 * fingerprint, then the dim floats), so uploading a catalogue again, or
 * searching with a photo that was uploaded, runs no inference, across
 * restarts. Lookups are one LMDB read each, on the calling thread. Entries
 * are written by the writer thread together with the write that needed
 * them (v1_embed_records gives them to the caller's CollectionWrite), so
 * only images that were stored are remembered and the cache never takes
 * a write transaction of its own. The fingerprint is the start of the
 * SHA-256 of the model's embedding of a fixed probe text: entries made
 * with other weights read as misses and are overwritten.
 *
 * Counters: vitrine_embed_cache_hits_total{cache="image"} and
 * vitrine_embed_cache_misses_total{cache="image"}; inference itself is
 * counted by the embedder (vitrine_embeddings_total{kind="image"}).
 */
#ifndef VITRINE_API_V1_EMBED_H
#define VITRINE_API_V1_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "api/embedder.h"
#include "base/arena.h"
#include "base/sha256.h"
#include "store/collection.h"

/* Record key prefix of image cache entries (docs/storage.md). */
#define V1_IMAGE_CACHE_PREFIX "v1/img/"
#define V1_IMAGE_CACHE_KEY_LEN (sizeof V1_IMAGE_CACHE_PREFIX - 1 + SHA256_DIGEST_LEN)
/* Bytes of the model fingerprint at the start of a cache entry. */
#define V1_FINGERPRINT_LEN 8

/* One input and its outcome. */
typedef struct {
    EmbedInput in;   /* set by the caller */
    float *vec;      /* set by the caller: room for embedder_dim floats */
    EmbedStatus st;  /* out */
    int cached;      /* out: an image found in the persistent cache */
    int store;       /* out: an image embedded by inference (v1_embed_records) */
    uint8_t digest[SHA256_DIGEST_LEN]; /* out, images: SHA-256 of the bytes */
} V1EmbedItem;

/*
 * v1_embed embeds items[0..n) on the calling thread (a threadpool job or
 * the like: it blocks; never the loop). Images are looked up in the cache
 * of db first (db may be NULL: no cache); the rest go to the embedder in
 * one call. The limits on texts and images per request count every input,
 * cached or not. Returns 0 when every input was embedded, else the code
 * of the lowest-index failure (each item's st says why); when nothing
 * could start (no weights, queue full, too many inputs) every item carries
 * that code.
 */
int v1_embed(Db *db, Embedder *e, V1EmbedItem *items, size_t n, unsigned flags);

/*
 * v1_embed_records makes the cache records of the items embedded by
 * inference (store set), in arena; *out is NULL and 0 is returned when
 * there are none or no fingerprint is known. Attach them to the write
 * that stores what they were computed for (CollectionWrite.records).
 */
size_t v1_embed_records(Embedder *e, const V1EmbedItem *items, size_t n, Arena *arena,
                        CollectionRecord **out);

/*
 * v1_embed_one embeds a single text or image into vec (embedder_dim
 * floats), as v1_embed. Returns 0 or the failure's code; msg (may be
 * NULL) gets its sentence.
 */
int v1_embed_one(Db *db, Embedder *e, EmbedKind kind, const void *data, size_t len, float *vec,
                 char *msg, size_t msglen);

#endif
