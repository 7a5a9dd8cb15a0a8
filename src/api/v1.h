/*
 * v1.h - vitrine's own HTTP API under /v1: the embedding service (see
 * embedder.h) and the routes that speak to it. Today: OpenAI's embeddings
 * API with Jina's multimodal input form (POST /v1/embeddings) and the
 * model list (GET /v1/models), in v1_openai.c.
 *
 * One server module, api_v1_module. It owns the process's Embedder and
 * starts it before its routes; serve lists it before the Qdrant module,
 * so the embedder exists when the Qdrant module starts (it calls
 * v1_embedder() for Qdrant's Document and Image objects) and is stopped
 * after the Qdrant writer thread, which may be waiting on it, has ended.
 *
 * Settings: the --embed-* flags and VITRINE_EMBED_* variables below. The
 * server's own flag parser refuses flags it does not know, so serve hands
 * argv to v1_options_take first, which takes these out.
 */
#ifndef VITRINE_API_V1_H
#define VITRINE_API_V1_H

#include <stdio.h>

#include "api/embedder.h"
#include "server/server.h"

extern const ServerModule api_v1_module;

/* v1_embedder is the embedding service of the running api_v1_module
 * (without weights it exists and refuses calls with ERR_UNSUPPORTED), or
 * NULL when the module is not running. Valid from the module's start
 * until its destroy. */
Embedder *v1_embedder(void);

/*
 * v1_options_take reads VITRINE_EMBED_MAX_IMAGE_BYTES, _MAX_PIXELS,
 * _MAX_TEXTS, _MAX_IMAGES, _QUEUE, _BATCH, _BATCH_MS, _BATCH_WAIT_MS and
 * _TEXT_CACHE and VITRINE_PRECISION, then the matching --embed-* flags and
 * --precision, which it removes from
 * argv (shifting the rest down and lowering *argc); flags win over the
 * environment. The module starts with these settings. 0, or ERR_INVAL
 * after printing what is wrong.
 */
int v1_options_take(int *argc, char **argv);
/* v1_options_precision reads --precision (flag, else VITRINE_PRECISION;
 * NULL flag: the environment only) into the module's settings, for serve
 * (from v1_options_take) and the in-process server of the client commands.
 * 0, or ERR_INVAL after printing what is wrong. */
int v1_options_precision(const char *flag_value);
/* v1_options_usage prints the --embed-* flags for serve --help. */
void v1_options_usage(FILE *f);

#endif
