/*
 * fuzz_tokenizer.c - fuzz target for the CLIP tokenizer
 * (src/model/tokenizer.c over utf8proc) on arbitrary bytes, with the
 * vocabulary and merges of the test model tests/fixtures/clip/models/
 * tiny-p32 (the same BPE files as openai/clip-vit-base-patch32).
 *
 * Invalid UTF-8 must be refused with ERR_INVAL and nothing else; valid
 * text must give the start token, ids inside the vocabulary and the end
 * token, at most max_ids of them. The truncated encoding (77, CLIP's
 * context) must be the untruncated one's first 76 ids and the end token,
 * or all of it when it fits. Any violation calls abort() so the fuzzer
 * records the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "model/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TOKENIZER_DIR "tests/fixtures/clip/models/tiny-p32/"
#define FUZZ_TOKENIZER_LONG 4096

static ClipTokenizer *tok;

static void check(int ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "fuzz_tokenizer: %s\n", what);
    abort();
}

static void fuzz_init(void)
{
    char err[256];
    if (tokenizer_load(FUZZ_TOKENIZER_DIR "vocab.json", FUZZ_TOKENIZER_DIR "merges.txt", &tok, err,
                       sizeof err)) {
        fprintf(stderr, "fuzz_tokenizer: %s (run from the repository root)\n", err);
        abort();
    }
}
#define FUZZ_HAS_INIT 1

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int32_t longids[FUZZ_TOKENIZER_LONG];
    int32_t ids[77];
    int n = 0, nl = 0;
    int rc = tokenizer_encode(tok, (const char *)data, size, ids, 77, &n);
    if (rc != 0) {
        check(rc == ERR_INVAL || rc == ERR_TOOLARGE, "an error other than invalid input");
        return 0;
    }
    check(n >= 2 && n <= 77, "token count out of range");
    check(ids[0] == tokenizer_bos(tok) && ids[n - 1] == tokenizer_eos(tok), "no start or end token");
    for (int i = 0; i < n; i++) check(ids[i] >= 0 && ids[i] < tokenizer_vocab_size(tok), "an id outside the vocabulary");
    rc = tokenizer_encode(tok, (const char *)data, size, longids, FUZZ_TOKENIZER_LONG, &nl);
    check(rc == 0, "the long encoding failed where the short one worked");
    if (nl < FUZZ_TOKENIZER_LONG) {
        if (nl <= 77) {
            check(n == nl && memcmp(ids, longids, (size_t)n * sizeof *ids) == 0, "short and long encodings differ");
        } else {
            check(n == 77 && memcmp(ids, longids, 76 * sizeof *ids) == 0 && ids[76] == tokenizer_eos(tok),
                  "truncation is not the first 76 ids and the end token");
        }
    }
    return 0;
}

#define FUZZ_NAME "tokenizer"
#include "fuzz_replay.h"
