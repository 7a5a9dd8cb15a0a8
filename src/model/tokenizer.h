/*
 * tokenizer.h - CLIP's byte-level BPE tokenizer (the only module that sees
 * utf8proc).
 *
 * tokenizer_load reads a Hugging Face model folder's vocab.json and
 * merges.txt once; the result is read-only, so any number of threads may
 * call tokenizer_encode on one shared ClipTokenizer at the same time (each
 * call keeps its scratch to itself).
 *
 * tokenizer_encode reproduces OpenAI CLIP's tokenizer under the contract in
 * tests/fixtures/clip/README.md: Unicode NFC, HTML unescape twice,
 * whitespace collapse and trim, Unicode lower case, the CLIP pre-tokenising
 * pattern, GPT-2 byte-to-unicode mapping, BPE by merge rank, ids from
 * vocab.json, wrapped in <|startoftext|> ... <|endoftext|> and truncated to
 * the caller's limit (77 for CLIP) with the end token kept last.
 */
#ifndef VITRINE_TOKENIZER_H
#define VITRINE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

/* CLIP's text context: the model has position embeddings for 77 tokens. */
#define TOKENIZER_MAX_TOKENS 77

/* Hugging Face's CLIPTokenizer reads at most this many merges (the BPE
 * vocabulary is 49152 entries: 256 bytes + their 256 end-of-word forms are
 * counted in it, the two special tokens are not). Later lines are ignored,
 * exactly as there. */
#define TOKENIZER_MAX_MERGES (49152 - 256 - 2)

/* Bounds on the files tokenizer_load accepts, so a wrong path (a model
 * file given as vocab.json) fails fast instead of parsing gigabytes. */
#define TOKENIZER_MAX_VOCAB_BYTES (64u << 20)
#define TOKENIZER_MAX_MERGES_BYTES (64u << 20)

/* Longest text tokenizer_encode accepts (ERR_TOOLARGE beyond). CLIP reads
 * 77 tokens, a few hundred characters; the bound caps the per-call scratch
 * (about 40 bytes per input byte at worst) that a client's text can cost. */
#define TOKENIZER_MAX_TEXT_BYTES (1u << 20)

typedef struct ClipTokenizer ClipTokenizer;

/*
 * tokenizer_load reads vocab_json_path and merges_txt_path and builds the
 * tokenizer into *out (free it with tokenizer_free). On failure *out is
 * NULL, err[0..errlen) holds one line naming the file and the problem, and
 * the result is ERR_NOTFOUND (missing file), ERR_IO, ERR_TOOLARGE, ERR_FORMAT
 * (bad JSON, a bad merges line, a merge or a special token missing from the
 * vocabulary) or ERR_NOMEM.
 */
int tokenizer_load(const char *vocab_json_path, const char *merges_txt_path,
                   ClipTokenizer **out, char *err, size_t errlen);

void tokenizer_free(ClipTokenizer *t);

/*
 * tokenizer_encode tokenizes text[0..len) (UTF-8, need not be NUL-terminated)
 * into ids[0..*n_ids): the start token, the text's tokens, the end token.
 * When that is longer than max_ids, the first max_ids - 1 are kept and the
 * end token is written last, as CLIP's tokenize(truncate=True) does; so
 * *n_ids <= max_ids always. Returns ERR_INVAL for invalid UTF-8 or
 * max_ids < 2, ERR_TOOLARGE above TOKENIZER_MAX_TEXT_BYTES, ERR_NOMEM when
 * scratch memory is refused.
 * Thread-safe on a shared tokenizer.
 */
int tokenizer_encode(const ClipTokenizer *t, const char *text, size_t len,
                     int32_t *ids, int max_ids, int *n_ids);

/* The ids of "<|startoftext|>" and "<|endoftext|>" in the loaded vocabulary
 * (49406 and 49407 for every released CLIP model). */
int32_t tokenizer_bos(const ClipTokenizer *t);
int32_t tokenizer_eos(const ClipTokenizer *t);

/* tokenizer_vocab_size returns one more than the largest id in vocab.json,
 * so a caller can check it against the model's token embedding table. */
int32_t tokenizer_vocab_size(const ClipTokenizer *t);

#endif
