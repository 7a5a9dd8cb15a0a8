/*
 * qdrant_bm25.h - Qdrant's local BM25 model on the wire: a Document
 * {"text": "...", "model": "qdrant/bm25", "options": {...}} given where
 * Qdrant takes a vector becomes a sparse vector here, as self-hosted
 * Qdrant v1.17.1 computes it (src/common/inference/local_model.rs,
 * bm25.rs; the algorithm is index/bm25.h's).
 *
 * The model is named "qdrant/bm25" or "bm25" in any case. Its options are
 * Qdrant's Bm25Config: k (1.2), b (0.75), avg_len (256), tokenizer ("word";
 * "whitespace", "prefix"; "multilingual" answers 501), language
 * ("english": its stopwords and Snowball stemmer when it names one;
 * another name, "none" say, turns both off), lowercase (true),
 * ascii_folding (false), stopwords (a language or {"languages",
 * "custom"}, replacing the language's), stemmer ({"type": "snowball",
 * "language"}), min_token_len, max_token_len; other keys are ignored. A
 * bad option answers Qdrant's 400 "Wrong input: Invalid BM25 config:
 * Error(\"<serde's message>\", line: 0, column: 0)".
 */
#ifndef VITRINE_API_QDRANT_BM25_H
#define VITRINE_API_QDRANT_BM25_H

#include "api/qdrant_internal.h"

/* qdrant_bm25_model: 1 when the inference object v names the BM25 model. */
int qdrant_bm25_model(const JsonValue *v);

/*
 * qdrant_bm25_embed turns the BM25 Document v into *out (in the request
 * arena): a document's weights in a write job (upsert, update vectors,
 * batch), a query's in a read. `what` names the place for messages.
 * -1 after api_fail: 400 for an Image or InferenceObject ("Only text
 * input is supported for M."), a text that is not a string or bad
 * options; 501 for the multilingual tokenizer.
 */
int qdrant_bm25_embed(ApiJob *j, const JsonValue *v, const char *what,
                      const CollectionSparseVector **out);

#endif
