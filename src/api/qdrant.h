/*
 * qdrant.h - Qdrant's REST API (version 1.17.1) over the collection
 * engine, so Qdrant's clients and tools work against `vitrine serve`
 * unchanged. One server module; the routes are listed in the files
 * qdrant_service.c, qdrant_collections.c, qdrant_points.c and
 * qdrant_search.c, and docs/http-api.md says what is served.
 */
#ifndef VITRINE_API_QDRANT_H
#define VITRINE_API_QDRANT_H

#include "server/server.h"

extern const ServerModule api_qdrant_module;

#endif
