/*
 * v1_internal.h - what the files of the /v1 module share: the module state
 * and the route tables of its files.
 */
#ifndef VITRINE_API_V1_INTERNAL_H
#define VITRINE_API_V1_INTERNAL_H

#include "api/embedder.h"
#include "server/http.h"
#include "server/router.h"
#include "server/server.h"

typedef struct {
    Server *srv;
    Embedder *emb;
} V1;

/* One route of a /v1 file; the handler's ctx is the module's V1. */
typedef struct {
    const char *method;
    const char *pattern;
    HttpHandler fn;
} V1Route;

/* v1_openai.c: /v1/embeddings, /v1/models. */
extern const V1Route v1_openai_routes[];

#endif
