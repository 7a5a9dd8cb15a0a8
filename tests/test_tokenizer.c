/*
 * test_tokenizer.c - the CLIP tokenizer against references, never against
 * itself.
 *
 * References:
 *   - the fixtures: every text of expected/tiny-p32 and tiny-p16
 *     outputs.json with the ids the reference stack produced;
 *   - REF_CASES below: ids produced by a Python implementation of the
 *     contract (OpenAI CLIP's simple_tokenizer.py with NFC in place of ftfy,
 *     Python's own html.unescape, str.isspace, str.lower and the `regex`
 *     module's \p{L}/\p{N}; Debian's /usr/bin/python3 + python3-regex) run
 *     on the fixture vocab.json / merges.txt; the script is reproduced at
 *     the end of this file. They cover what the fixture texts do not:
 *     named (two-code-point ones too), legacy and numeric entities with
 *     Python's replacement rules, double unescaping, every kind of Unicode
 *     whitespace, final sigma and U+0130, contractions and case folding in
 *     the pattern (U+017F, U+0345), special tokens,
 *     Unicode digits, NFC composition, emoji, NUL and control bytes,
 *     scripts, and very long words and texts (truncation);
 *   - a two-merge synthetic merges.txt where merging all pairs of one rank
 *     before any newer pair (the reference) differs from greedy heap BPE.
 * Plus the error contract: invalid UTF-8, bad arguments, missing or
 * corrupt files, and concurrent encoding on one shared tokenizer.
 */
#include "model/tokenizer.h"

#include <pthread.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/json.h"
#include "base/util.h"

#include "harness.h"

#define BOS 49406
#define EOS 49407

static ClipTokenizer *tok; /* loaded once from the tiny-p32 fixture folder */

typedef struct {
    const char *unit;  /* the text is unit repeated `repeat` times */
    size_t unit_len;
    int repeat;
    int n;
    int32_t ids[TOKENIZER_MAX_TOKENS];
} RefCase;

static const RefCase REF_CASES[] = {
    { "fish &amp chips &lt;b&gt; &quot;x&quot; &apos;y&apos; &nbsp;z",
      61, 1, 15,
      {
          49406, 2759, 261, 8855, 283, 321, 285, 257, 343, 257, 262, 344,
          262, 345, 49407,
      } },
    { "&amp;amp; &amp;lt; &amp;#39; &amp;amp;amp;",
      42, 1, 8,
      {
          49406, 261, 283, 262, 261, 6259, 282, 49407,
      } },
    { "caf&eacute; cr&egrave;me &Eacute;T&Eacute; &eacute &copy2024 &notit; &notin; &no"
      "t",
      81, 1, 22,
      {
          49406, 15304, 1075, 12138, 614, 3459, 39694, 4166, 5811, 273, 271, 273,
          275, 126, 361, 585, 282, 17788, 487, 126, 361, 49407,
      } },
    { "&hellip; &mdash; &ndash; &rsquo; &lsquo; &ldquo; &rdquo; &euro;5 &trade; &bull; "
      "&deg;",
      85, 1, 18,
      {
          49406, 959, 2005, 1224, 728, 503, 728, 502, 728, 506, 728, 507,
          6309, 276, 11675, 2701, 6858, 49407,
      } },
    { "&lang;x&rang; &alpha &alpha; &Sigma; &AMP; &AMP &ampx &amp;x &ltfoo &#; &#x; &; "
      "& ; &&amp;",
      90, 1, 35,
      {
          49406, 158, 253, 357, 343, 158, 253, 358, 261, 8624, 138, 365,
          139, 481, 261, 261, 261, 343, 261, 343, 283, 23435, 5, 2,
          282, 5, 258, 343, 282, 5, 282, 261, 282, 27791, 49407,
      } },
    { "&#65;&#x42;&#X43;&#0100;&#39 &#x27 &#0; &#13; &#128; &#x80; &#x9f; &#129; &#1; &"
      "#x7f; &#11;",
      91, 1, 13,
      {
          49406, 596, 4480, 262, 262, 39802, 6309, 6309, 127, 379, 126, 479,
          49407,
      } },
    { "&#xD800; &#1114111; &#1114112; &#99999999999999999999; &#xFDD0; &#xFFFE; &#x1FFF"
      "F; &#x10FFFF;",
      93, 1, 5,
      {
          49406, 39802, 39802, 39802, 49407,
      } },
    { "&#x1F642; &#128578;&#12354; &#x3000;gap &#160;nb",
      48, 1, 8,
      {
          49406, 14860, 14860, 4813, 480, 7609, 6813, 49407,
      } },
    { "&nGt; &NotEqualTilde; &fjlig; &rarrw; &Dagger; &ThickSpace;x &CounterClockwiseCo"
      "ntourIntegral; &lesg;",
      101, 1, 23,
      {
          49406, 22684, 104, 2805, 496, 22684, 224, 136, 372, 46447, 6059, 507,
          728, 350, 343, 17788, 367, 158, 233, 248, 842, 478, 49407,
      } },
    { "&abcdefghijklmnopqrstuvwxyzabcdefghijkl; &eacuteacute",
      53, 1, 25,
      {
          49406, 261, 13137, 2044, 583, 7337, 74, 6981, 578, 79, 80, 81,
          858, 85, 18192, 37579, 13137, 2044, 583, 7337, 14134, 282, 3459, 19734,
          49407,
      } },
    { "a\343\200\200b\302\240c\342\200\250d\342\200\251e\034f\037g\302\205h\013i\014j"
      "\015k\342\200\203l\342\200\213m\341\240\216n\357\273\277o",
      45, 1, 24,
      {
          49406, 320, 321, 322, 323, 324, 325, 326, 327, 328, 329, 330,
          331, 9844, 332, 157, 254, 492, 333, 171, 119, 379, 334, 49407,
      } },
    { "  \343\200\200 padded \011\012  ",
      17, 1, 3,
      {
          49406, 42253, 49407,
      } },
    { "\316\237\316\224\316\245\316\243\316\243\316\225\316\245\316\243 \316\243\316"
      "\221\316\243 \316\243 a\316\243. \316\221\316\243'\316\222 \316\243\316\243",
      44, 1, 41,
      {
          49406, 138, 123, 138, 112, 139, 227, 139, 225, 139, 225, 138,
          113, 139, 227, 139, 480, 139, 225, 138, 109, 139, 480, 139,
          481, 64, 139, 480, 269, 138, 109, 139, 481, 262, 138, 366,
          139, 225, 139, 480, 49407,
      } },
    { "\304\260STANBUL \304\260i \305\236EH\304\260R Stra\303\237e \307\205emal \316"
      "\220",
      39, 1, 23,
      {
          49406, 328, 16384, 11231, 328, 16384, 328, 21254, 68, 1883, 16384, 337,
          1894, 127, 253, 324, 131, 228, 908, 566, 138, 494, 49407,
      } },
    { "it'\305\277 don'T WE'LL they'RE i'M he'D you'VE ''s 's x's' ''",
      56, 1, 25,
      {
          49406, 585, 6, 129, 379, 847, 713, 649, 1342, 889, 982, 328,
          880, 797, 1896, 592, 1200, 8445, 338, 568, 343, 568, 262, 8445,
          49407,
      } },
    { "<|startoftext|>hello<|endoftext|> <|ENDOFTEXT|> <|\305\277tartoftext|> !<|endoft"
      "ext|> <|endoftext",
      91, 1, 26,
      {
          49406, 49406, 3306, 49407, 49407, 27, 91, 129, 123, 2002, 6659, 18169,
          91, 285, 0, 27, 347, 40786, 4160, 91, 285, 27, 347, 40786,
          4160, 49407,
      } },
    { "12345 \331\243\331\244\331\245 \302\275 \342\205\253 x2y 3.14",
      28, 1, 24,
      {
          49406, 272, 273, 274, 275, 276, 149, 352, 149, 353, 149, 354,
          33613, 158, 227, 375, 343, 273, 344, 274, 269, 272, 275, 49407,
      } },
    { "a\315\205b \315\205 !\315\205\077 \316\221\315\205\316\243 \341\276\274",
      23, 1, 14,
      {
          49406, 320, 321, 256, 286, 157, 122, 111, 139, 480, 157, 122,
          367, 49407,
      } },
    { "e\314\201 a\314\210 \341\204\200\341\205\241\341\206\250 A\314\212 \342\204\253 "
      "\341\272\233\314\243",
      31, 1, 15,
      {
          49406, 4166, 47276, 21122, 479, 127, 354, 127, 354, 157, 118, 505,
          136, 352, 49407,
      } },
    { "\360\237\221\251\342\200\215\360\237\221\251\342\200\215\360\237\221\247 \360"
      "\237\207\253\360\237\207\267 \342\235\244\357\270\217 \342\234\223 \302\251\302"
      "\256\342\204\242 \302\257\134_(\343\203\204)_/\302\257",
      60, 1, 15,
      {
          49406, 26304, 26304, 964, 356, 16223, 1752, 36700, 31148, 30857, 11675, 45115,
          32173, 45781, 49407,
      } },
    { "null\000byte \001\002 del\177",
      17, 1, 9,
      {
          49406, 47376, 444, 42798, 189, 446, 2003, 477, 49407,
      } },
    { "\346\227\245\346\234\254\350\252\236\343\201\256\343\203\206\343\202\255\343\202"
      "\271\343\203\210\343\200\201\355\225\234\352\265\255\354\226\264 \355\205\215"
      "\354\212\244\355\212\270, \321\202\320\265\320\272\321\201\321\202 \320\277\320"
      "\276-\321\200\321\203\321\201\321\201\320\272\320\270, \316\265\316\273\316\273"
      "\316\267\316\275\316\271\316\272\316\254, \327\242\327\221\327\250\327\231\327"
      "\252, \330\247\331\204\330\271\330\261\330\250\331\212\330\251",
      122, 1, 76,
      {
          49406, 39121, 44353, 34002, 252, 21575, 2429, 228, 47121, 32421, 486, 45262,
          15197, 250, 31871, 255, 31625, 368, 169, 227, 235, 20305, 39820, 267,
          17875, 22176, 27152, 23669, 141, 480, 26302, 29386, 268, 16370, 39729, 23669,
          23669, 27152, 140, 372, 267, 138, 113, 138, 119, 138, 119, 138,
          115, 138, 121, 138, 117, 138, 118, 138, 361, 267, 147, 95,
          147, 239, 147, 101, 147, 247, 147, 359, 267, 12973, 18843, 10948,
          16378, 12046, 20915, 49407,
      } },
    { "hello!!!\077\077\077 ...--- (parens) [brackets] {braces} @user #tag $5 50% a+b=c",
      71, 1, 31,
      {
          49406, 3306, 11194, 3824, 3002, 11079, 263, 3106, 338, 264, 314, 36183,
          316, 346, 19249, 348, 287, 7031, 258, 3640, 259, 276, 276, 271,
          260, 320, 266, 321, 284, 322, 49407,
      } },
    { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaa",
      100, 30, 77,
      {
          49406, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126,
          23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126,
          23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126,
          23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126,
          23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126,
          23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126, 23126,
          23126, 23126, 23126, 23126, 49407,
      } },
    { "supercalifragilisticexpialidocious",
      34, 120, 77,
      {
          49406, 1642, 2857, 13093, 2076, 5868, 26850, 835, 639, 698, 1987, 1642,
          2857, 13093, 2076, 5868, 26850, 835, 639, 698, 1987, 1642, 2857, 13093,
          2076, 5868, 26850, 835, 639, 698, 1987, 1642, 2857, 13093, 2076, 5868,
          26850, 835, 639, 698, 1987, 1642, 2857, 13093, 2076, 5868, 26850, 835,
          639, 698, 1987, 1642, 2857, 13093, 2076, 5868, 26850, 835, 639, 698,
          1987, 1642, 2857, 13093, 2076, 5868, 26850, 835, 639, 698, 1987, 1642,
          2857, 13093, 2076, 5868, 49407,
      } },
    { "photo of ",
      9, 40, 77,
      {
          49406, 1125, 539, 1125, 539, 1125, 539, 1125, 539, 1125, 539, 1125,
          539, 1125, 539, 1125, 539, 1125, 539, 1125, 539, 1125, 539, 1125,
          539, 1125, 539, 1125, 539, 1125, 539, 1125, 539, 1125, 539, 1125,
          539, 1125, 539, 1125, 539, 1125, 539, 1125, 539, 1125, 539, 1125,
          539, 1125, 539, 1125, 539, 1125, 539, 1125, 539, 1125, 539, 1125,
          539, 1125, 539, 1125, 539, 1125, 539, 1125, 539, 1125, 539, 1125,
          539, 1125, 539, 1125, 49407,
      } },
    { "!\077",
      2, 500, 77,
      {
          49406, 0, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785,
          9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785,
          9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785,
          9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785,
          9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785,
          9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785, 9785,
          9785, 9785, 9785, 9785, 49407,
      } },
};

/* print_ids_diff prints both id lists from the first difference on. */
static void print_ids_diff(const char *what, const int32_t *got, int n_got,
                           const int32_t *want, int n_want)
{
    int i = 0;
    while (i < n_got && i < n_want && got[i] == want[i]) i++;
    printf("  %s: first difference at %d (got %d ids, want %d)\n    got: ", what, i, n_got,
           n_want);
    for (int k = i; k < n_got && k < i + 12; k++) printf(" %d", got[k]);
    printf("\n    want:");
    for (int k = i; k < n_want && k < i + 12; k++) printf(" %d", want[k]);
    printf("\n");
}

static int ids_equal(const int32_t *a, int na, const int32_t *b, int nb)
{
    return na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0;
}

static char *make_tmpdir(void)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/vitrine_tok_XXXXXX");
    return mkdtemp(dir);
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, len, f);
    fclose(f);
}

TEST(test_load_fixture)
{
    char err[512], vocab[512], merges[512];
    /* fixture_path returns a static buffer: copy before the second call. */
    snprintf(vocab, sizeof vocab, "%s", fixture_path("models/tiny-p32/vocab.json"));
    snprintf(merges, sizeof merges, "%s", fixture_path("models/tiny-p32/merges.txt"));
    double t0 = now_seconds();
    int rc = tokenizer_load(vocab, merges, &tok, err, sizeof err);
    double ms = (now_seconds() - t0) * 1e3;
    if (rc) HARNESS_FAIL("tokenizer_load: %d: %s", rc, err);
    printf("  load: %.1f ms (vocab.json 49408 entries, 48894 merges)\n", ms);
    ASSERT_EQ_INT(tokenizer_bos(tok), BOS);
    ASSERT_EQ_INT(tokenizer_eos(tok), EOS);
    ASSERT_EQ_INT(tokenizer_vocab_size(tok), 49408);
}

/* check_fixture_texts compares every text of one outputs.json. */
static void check_fixture_texts(const char *rel, int *n_texts, int *n_bad)
{
    char *text = NULL;
    size_t len = 0;
    *n_texts = 0;
    *n_bad = -1;
    if (file_read_all(fixture_path(rel), 16u << 20, &text, &len)) return;
    Arena arena;
    arena_init(&arena, ARENA_DEFAULT_CHUNK);
    JsonValue *root = NULL;
    char jerr[128];
    if (json_parse(&arena, text, len, &root, jerr, sizeof jerr) == 0) {
        const JsonValue *texts = json_get(root, "texts");
        *n_bad = texts && texts->type == JSON_ARRAY ? 0 : -1;
        for (uint32_t i = 0; texts && i < texts->len; i++) {
            const JsonValue *t = &texts->u.items[i];
            const JsonValue *s = json_get(t, "text");
            const JsonValue *want = json_get(t, "input_ids");
            int32_t want_ids[TOKENIZER_MAX_TOKENS + 8];
            int n_want = 0;
            if (!s || s->type != JSON_STRING || !want || want->type != JSON_ARRAY ||
                want->len > ARRAY_LEN(want_ids)) {
                (*n_bad)++;
                continue;
            }
            for (uint32_t k = 0; k < want->len; k++) {
                int64_t v = -1;
                json_as_int64(&want->u.items[k], &v);
                want_ids[n_want++] = (int32_t)v;
            }
            int32_t ids[TOKENIZER_MAX_TOKENS];
            int n = 0;
            int rc = tokenizer_encode(tok, s->u.str, s->len, ids, TOKENIZER_MAX_TOKENS, &n);
            (*n_texts)++;
            if (rc || !ids_equal(ids, n, want_ids, n_want)) {
                (*n_bad)++;
                printf("  %s: text %u \"%.60s\": rc %d\n", rel, i, s->u.str, rc);
                print_ids_diff("ids", ids, n, want_ids, n_want);
            }
        }
    }
    arena_free(&arena);
    free(text);
}

TEST(test_fixture_texts_tiny_p32)
{
    ASSERT_TRUE(tok);
    int n = 0, bad = 0;
    check_fixture_texts("expected/tiny-p32/outputs.json", &n, &bad);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_EQ_INT(n, 15);
}

TEST(test_fixture_texts_tiny_p16)
{
    ASSERT_TRUE(tok);
    int n = 0, bad = 0;
    check_fixture_texts("expected/tiny-p16/outputs.json", &n, &bad);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_EQ_INT(n, 15);
}

/* build_case returns the case's text in a malloc'd buffer. */
static char *build_case(const RefCase *c, size_t *len)
{
    *len = c->unit_len * (size_t)c->repeat;
    char *s = xmalloc(*len + 1);
    for (int r = 0; r < c->repeat; r++) memcpy(s + (size_t)r * c->unit_len, c->unit, c->unit_len);
    s[*len] = '\0';
    return s;
}

TEST(test_reference_cases)
{
    ASSERT_TRUE(tok);
    int bad = 0;
    for (size_t i = 0; i < ARRAY_LEN(REF_CASES); i++) {
        const RefCase *c = &REF_CASES[i];
        size_t len;
        char *s = build_case(c, &len);
        int32_t ids[TOKENIZER_MAX_TOKENS];
        int n = 0;
        int rc = tokenizer_encode(tok, s, len, ids, TOKENIZER_MAX_TOKENS, &n);
        if (rc || !ids_equal(ids, n, c->ids, c->n)) {
            bad++;
            printf("  case %zu \"%.50s\" x%d: rc %d\n", i, c->unit, c->repeat, rc);
            print_ids_diff("ids", ids, n, c->ids, c->n);
        }
        free(s);
    }
    ASSERT_EQ_INT(bad, 0);
}

/* The fixture's long text, repeated 40 times, still gives the fixture's 77
 * ids: truncation keeps the first 76 and ends with the end token. */
TEST(test_truncation_long_text)
{
    ASSERT_TRUE(tok);
    const char *unit = "a very long product description that goes on ";
    /* From expected/tiny-p32/outputs.json, the long text (76 + end token). */
    static const int32_t want[] = {
        49406, 320, 1070, 1538, 4306, 13951, 682, 2635, 525, 320, 1070, 1538, 4306, 13951,
        682, 2635, 525, 320, 1070, 1538, 4306, 13951, 682, 2635, 525, 320, 1070, 1538, 4306,
        13951, 682, 2635, 525, 320, 1070, 1538, 4306, 13951, 682, 2635, 525, 320, 1070, 1538,
        4306, 13951, 682, 2635, 525, 320, 1070, 1538, 4306, 13951, 682, 2635, 525, 320, 1070,
        1538, 4306, 13951, 682, 2635, 525, 320, 1070, 1538, 4306, 13951, 682, 2635, 525, 320,
        1070, 1538, 49407,
    };
    Buf b;
    buf_init(&b);
    for (int i = 0; i < 40; i++) buf_append_str(&b, unit);
    int32_t ids[TOKENIZER_MAX_TOKENS];
    int n = 0;
    int rc = tokenizer_encode(tok, b.data, b.len, ids, TOKENIZER_MAX_TOKENS, &n);
    buf_free(&b);
    ASSERT_OK(rc);
    if (!ids_equal(ids, n, want, (int)ARRAY_LEN(want))) {
        print_ids_diff("ids", ids, n, want, (int)ARRAY_LEN(want));
        HARNESS_FAIL("truncated ids differ");
    }
    ASSERT_EQ_INT(n, 77);
    ASSERT_EQ_INT(ids[76], EOS);
}

/* A smaller max_ids truncates the same way: "a photo of a cat" is
 * [49406, 320, 1125, 539, 320, 2368, 49407] in the fixture. */
TEST(test_truncation_small_limit)
{
    ASSERT_TRUE(tok);
    const char *s = "a photo of a cat";
    int32_t ids[8];
    int n = 0;
    ASSERT_OK(tokenizer_encode(tok, s, strlen(s), ids, 4, &n));
    ASSERT_EQ_INT(n, 4);
    ASSERT_EQ_INT(ids[0], BOS);
    ASSERT_EQ_INT(ids[1], 320);
    ASSERT_EQ_INT(ids[2], 1125);
    ASSERT_EQ_INT(ids[3], EOS);
    ASSERT_OK(tokenizer_encode(tok, s, strlen(s), ids, 2, &n));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(ids[0], BOS);
    ASSERT_EQ_INT(ids[1], EOS);
    /* Exactly enough room: nothing is cut. */
    ASSERT_OK(tokenizer_encode(tok, s, strlen(s), ids, 7, &n));
    ASSERT_EQ_INT(n, 7);
    ASSERT_EQ_INT(ids[5], 2368);
    ASSERT_EQ_INT(ids[6], EOS);
}

TEST(test_empty_text)
{
    ASSERT_TRUE(tok);
    int32_t ids[TOKENIZER_MAX_TOKENS];
    int n = -1;
    ASSERT_OK(tokenizer_encode(tok, "", 0, ids, TOKENIZER_MAX_TOKENS, &n));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(ids[0], BOS);
    ASSERT_EQ_INT(ids[1], EOS);
    n = -1;
    ASSERT_OK(tokenizer_encode(tok, NULL, 0, ids, TOKENIZER_MAX_TOKENS, &n));
    ASSERT_EQ_INT(n, 2);
    /* Only whitespace (Python: "".strip() after collapsing) is empty too. */
    ASSERT_OK(tokenizer_encode(tok, " \t\n\xe3\x80\x80 ", 7, ids, TOKENIZER_MAX_TOKENS, &n));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(ids[1], EOS);
}

/* Byte strings Python's strict UTF-8 decoder rejects. */
TEST(test_invalid_utf8)
{
    ASSERT_TRUE(tok);
    static const struct {
        const char *s;
        size_t len;
    } bad[] = {
        { "abc\x80", 4 },             /* stray continuation byte */
        { "\xc3", 1 },                /* truncated 2-byte sequence */
        { "caf\xc3 ok", 7 },          /* lead byte without continuation */
        { "\xe2\x82", 2 },            /* truncated 3-byte sequence */
        { "\xc0\xaf", 2 },            /* overlong '/' */
        { "\xe0\x80\xaf", 3 },        /* overlong, 3 bytes */
        { "\xed\xa0\x80", 3 },        /* UTF-16 surrogate U+D800 */
        { "\xf4\x90\x80\x80", 4 },    /* above U+10FFFF */
        { "\xff", 1 },                /* never valid */
        { "a photo\xfe of a cat", 17 },
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        int32_t ids[TOKENIZER_MAX_TOKENS];
        int n = 99;
        int rc = tokenizer_encode(tok, bad[i].s, bad[i].len, ids, TOKENIZER_MAX_TOKENS, &n);
        if (rc != ERR_INVAL) HARNESS_FAIL("case %zu: rc %d, want ERR_INVAL", i, rc);
        ASSERT_EQ_INT(n, 0);
    }
    /* Valid 4-byte and boundary sequences are accepted. */
    int32_t ids[TOKENIZER_MAX_TOKENS];
    int n = 0;
    ASSERT_OK(tokenizer_encode(tok, "\xf4\x8f\xbf\xbd \xef\xbf\xbd", 8, ids,
                               TOKENIZER_MAX_TOKENS, &n));
    ASSERT_GE(n, 3);
}

TEST(test_bad_arguments)
{
    ASSERT_TRUE(tok);
    int32_t ids[TOKENIZER_MAX_TOKENS];
    int n = 0;
    ASSERT_EQ_INT(tokenizer_encode(tok, "a", 1, ids, 1, &n), ERR_INVAL);
    ASSERT_EQ_INT(tokenizer_encode(tok, "a", 1, ids, 0, &n), ERR_INVAL);
    ASSERT_EQ_INT(tokenizer_encode(tok, NULL, 3, ids, TOKENIZER_MAX_TOKENS, &n), ERR_INVAL);
    ASSERT_EQ_INT(tokenizer_encode(NULL, "a", 1, ids, TOKENIZER_MAX_TOKENS, &n), ERR_INVAL);
    size_t big = (size_t)TOKENIZER_MAX_TEXT_BYTES + 1;
    char *s = xmalloc(big);
    memset(s, 'a', big);
    int rc = tokenizer_encode(tok, s, big, ids, TOKENIZER_MAX_TOKENS, &n);
    free(s);
    ASSERT_EQ_INT(rc, ERR_TOOLARGE);
}

/* Loads the fixture vocab.json with a merges file of the given content. */
static int load_with_merges(const char *dir, const char *merges, ClipTokenizer **t, char *err,
                            size_t errlen)
{
    char path[256];
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    write_file(path, merges, strlen(merges));
    return tokenizer_load(fixture_path("models/tiny-p32/vocab.json"), path, t, err, errlen);
}

TEST(test_load_errors)
{
    char err[512];
    ClipTokenizer *t = (ClipTokenizer *)&err; /* must be reset to NULL on failure */
    const char *merges = fixture_path("models/tiny-p32/merges.txt");
    char merges_copy[512];
    snprintf(merges_copy, sizeof merges_copy, "%s", merges);

    int rc = tokenizer_load("/nonexistent/vocab.json", merges_copy, &t, err, sizeof err);
    ASSERT_EQ_INT(rc, ERR_NOTFOUND);
    ASSERT_TRUE(t == NULL);
    ASSERT_TRUE(strstr(err, "/nonexistent/vocab.json") != NULL);
    printf("  missing: %s\n", err);

    rc = tokenizer_load(fixture_path("models/tiny-p32/vocab.json"), "/nonexistent/merges.txt",
                        &t, err, sizeof err);
    ASSERT_EQ_INT(rc, ERR_NOTFOUND);
    ASSERT_TRUE(strstr(err, "/nonexistent/merges.txt") != NULL);

    char *dir = make_tmpdir();
    ASSERT_TRUE(dir);
    char vpath[256];
    snprintf(vpath, sizeof vpath, "%s/vocab.json", dir);

    /* Truncated JSON. */
    write_file(vpath, "{\"a\": 1, \"b\": ", 14);
    rc = tokenizer_load(vpath, merges_copy, &t, err, sizeof err);
    ASSERT_EQ_INT(rc, ERR_FORMAT);
    ASSERT_TRUE(t == NULL);
    ASSERT_TRUE(strstr(err, vpath) != NULL);
    ASSERT_TRUE(strstr(err, "JSON") != NULL);
    printf("  corrupt: %s\n", err);

    /* Valid JSON of the wrong shape. */
    write_file(vpath, "[1, 2, 3]", 9);
    rc = tokenizer_load(vpath, merges_copy, &t, err, sizeof err);
    ASSERT_EQ_INT(rc, ERR_FORMAT);
    ASSERT_TRUE(strstr(err, vpath) != NULL);
    write_file(vpath, "{\"a\": \"x\"}", 10);
    rc = tokenizer_load(vpath, merges_copy, &t, err, sizeof err);
    ASSERT_EQ_INT(rc, ERR_FORMAT);

    /* A vocabulary without the byte symbols. */
    write_file(vpath, "{\"a\": 0, \"<|startoftext|>\": 1, \"<|endoftext|>\": 2}", 50);
    rc = tokenizer_load(vpath, merges_copy, &t, err, sizeof err);
    ASSERT_EQ_INT(rc, ERR_FORMAT);
    ASSERT_TRUE(strstr(err, "missing") != NULL);
    printf("  no bytes: %s\n", err);

    /* merges.txt: no header, a line with three symbols, an unknown symbol. */
    rc = load_with_merges(dir, "i n\nt h\n", &t, err, sizeof err);
    ASSERT_EQ_INT(rc, ERR_FORMAT);
    ASSERT_TRUE(strstr(err, ":1:") != NULL);
    rc = load_with_merges(dir, "#version: 0.2\ni n\nt h e\n", &t, err, sizeof err);
    ASSERT_EQ_INT(rc, ERR_FORMAT);
    ASSERT_TRUE(strstr(err, "merges.txt:3:") != NULL);
    printf("  bad line: %s\n", err);
    rc = load_with_merges(dir, "#version: 0.2\ni n\n\nt h\n", &t, err, sizeof err);
    ASSERT_EQ_INT(rc, ERR_FORMAT);
    ASSERT_TRUE(strstr(err, "merges.txt:3:") != NULL);
    rc = load_with_merges(dir, "#version: 0.2\ni n\nq\xc4\xa3 zz\n", &t, err, sizeof err);
    ASSERT_EQ_INT(rc, ERR_FORMAT);
    ASSERT_TRUE(strstr(err, "not in vocab.json") != NULL);
    printf("  unknown symbol: %s\n", err);

    /* CRLF line ends and trailing blank lines are accepted. */
    rc = load_with_merges(dir, "#version: 0.2\r\ni n\r\nt h\r\n\r\n\n", &t, err, sizeof err);
    ASSERT_OK(rc);
    tokenizer_free(t);
    t = NULL;

    char path[256];
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    unlink(path);
    unlink(vpath);
    rmdir(dir);
}

/*
 * With the merges "aa a" (rank 0) and "a a" (rank 1), the reference turns
 * "aaaaa" into "aa aa a</w>": it merges every (a, a) first and only then
 * looks at (aa, a). Greedy one-pair-at-a-time BPE would give "aaa a a</w>".
 * Ids from the fixture vocab: "aa" 1821, "a</w>" 320.
 */
TEST(test_bpe_rank_batches)
{
    char err[512];
    ClipTokenizer *t = NULL;
    char *dir = make_tmpdir();
    ASSERT_TRUE(dir);
    int rc = load_with_merges(dir, "#version: 0.2\naa a\na a\n", &t, err, sizeof err);
    if (rc) HARNESS_FAIL("load: %d: %s", rc, err);
    int32_t ids[TOKENIZER_MAX_TOKENS];
    int n = 0;
    rc = tokenizer_encode(t, "aaaaa", 5, ids, TOKENIZER_MAX_TOKENS, &n);
    tokenizer_free(t);
    char path[256];
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    unlink(path);
    rmdir(dir);
    ASSERT_OK(rc);
    static const int32_t want[] = { BOS, 1821, 1821, 320, EOS };
    if (!ids_equal(ids, n, want, 5)) {
        print_ids_diff("ids", ids, n, want, 5);
        HARNESS_FAIL("rank batches differ from the reference");
    }
}

/* Concurrent encoding on one shared tokenizer gives the reference ids. */
#define THREADS 4
#define THREAD_ROUNDS 40

static void *encode_thread(void *arg)
{
    int *bad = arg;
    for (int r = 0; r < THREAD_ROUNDS; r++) {
        for (size_t i = 0; i < ARRAY_LEN(REF_CASES); i++) {
            const RefCase *c = &REF_CASES[(i + (size_t)r) % ARRAY_LEN(REF_CASES)];
            if (c->repeat > 1) continue; /* keep the test fast */
            int32_t ids[TOKENIZER_MAX_TOKENS];
            int n = 0;
            int rc = tokenizer_encode(tok, c->unit, c->unit_len, ids, TOKENIZER_MAX_TOKENS, &n);
            if (rc || !ids_equal(ids, n, c->ids, c->n)) (*bad)++;
        }
    }
    return NULL;
}

TEST(test_threads_share_tokenizer)
{
    ASSERT_TRUE(tok);
    pthread_t th[THREADS];
    int bad[THREADS] = { 0 };
    for (int i = 0; i < THREADS; i++)
        ASSERT_OK(pthread_create(&th[i], NULL, encode_thread, &bad[i]));
    int total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        total += bad[i];
    }
    ASSERT_EQ_INT(total, 0);
}

/* Throughput, printed for the report; asserts only a loose bound. */
TEST(test_speed)
{
    ASSERT_TRUE(tok);
    /* Under qemu (tests/run.sh with EMU) a time says nothing about the code. */
    if (getenv("VITRINE_EMULATED")) SKIP("emulated (%s)", getenv("VITRINE_EMULATED"));
    const char *q = "A Beautiful RED summer dress with flowers, size 42 & 100% cotton";
    int32_t ids[TOKENIZER_MAX_TOKENS];
    int n = 0;
    int iters = 20000;
    double t0 = now_seconds();
    for (int i = 0; i < iters; i++)
        tokenizer_encode(tok, q, strlen(q), ids, TOKENIZER_MAX_TOKENS, &n);
    double us = (now_seconds() - t0) * 1e6 / iters;
    printf("  encode: %.2f us per short query (%d ids)\n", us, n);
    ASSERT_LE(us, 2000);
}

int main(void)
{
    RUN(test_load_fixture);
    RUN(test_fixture_texts_tiny_p32);
    RUN(test_fixture_texts_tiny_p16);
    RUN(test_reference_cases);
    RUN(test_truncation_long_text);
    RUN(test_truncation_small_limit);
    RUN(test_empty_text);
    RUN(test_invalid_utf8);
    RUN(test_bad_arguments);
    RUN(test_load_errors);
    RUN(test_bpe_rank_batches);
    RUN(test_threads_share_tokenizer);
    RUN(test_speed);
    tokenizer_free(tok);
    return harness_report(__FILE__);
}

/*
 * The reference that produced REF_CASES (run from the repository root as
 * `/usr/bin/python3 ref.py tests/fixtures/clip/models/tiny-p32`; it also
 * reproduces every fixture text's ids):
 *
 *   # Reference CLIP tokenizer: OpenAI's simple_tokenizer.py algorithm with the
 *   # fixture contract's normalisation (NFC in place of ftfy), run under Debian's
 *   # /usr/bin/python3 + python3-regex. Prints one JSON line per input text.
 *   import html, json, sys, unicodedata
 *   import regex as re
 *   M = sys.argv[1]
 *   enc = json.load(open(M + '/vocab.json', encoding='utf-8'))
 *   merges = open(M + '/merges.txt', encoding='utf-8').read().strip().split('\n')[1:49152 - 256 - 2 + 1]
 *   ranks = {tuple(m.split()): i for i, m in enumerate(merges)}
 *   bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
 *   cs = bs[:]
 *   n = 0
 *   for b in range(256):
 *       if b not in bs:
 *           bs.append(b); cs.append(256 + n); n += 1
 *   b2u = dict(zip(bs, map(chr, cs)))
 *   pat = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", re.IGNORECASE)
 *   def bpe(token):
 *       if token in ('<|startoftext|>', '<|endoftext|>'):
 *           return token
 *       word = tuple(token[:-1]) + (token[-1] + '</w>',)
 *       pairs = set(zip(word, word[1:]))
 *       if not pairs:
 *           return token + '</w>'
 *       while True:
 *           bigram = min(pairs, key=lambda p: ranks.get(p, float('inf')))
 *           if bigram not in ranks:
 *               break
 *           first, second = bigram
 *           new = []; i = 0
 *           while i < len(word):
 *               try:
 *                   j = word.index(first, i)
 *               except ValueError:
 *                   new.extend(word[i:]); break
 *               new.extend(word[i:j]); i = j
 *               if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
 *                   new.append(first + second); i += 2
 *               else:
 *                   new.append(word[i]); i += 1
 *           word = tuple(new)
 *           if len(word) == 1:
 *               break
 *           pairs = set(zip(word, word[1:]))
 *       return ' '.join(word)
 *   def encode(text):
 *       text = unicodedata.normalize('NFC', text)
 *       text = html.unescape(html.unescape(text)).strip()
 *       text = re.sub(r'\s+', ' ', text).strip()
 *       text = ''.join(' ' if c.isspace() else c for c in text)  # contract: str.isspace
 *       text = ' '.join(text.split()).lower()
 *       ids = [49406]
 *       for tok in re.findall(pat, text):
 *           tok = ''.join(b2u[b] for b in tok.encode('utf-8'))
 *           ids.extend(enc[t] for t in bpe(tok).split(' '))
 *       ids.append(49407)
 *       if len(ids) > 77:
 *           ids = ids[:77]; ids[-1] = 49407
 *       return ids
 *   if __name__ == '__main__':
 *       for line in sys.stdin:
 *           t = json.loads(line)
 *           print(json.dumps(encode(t)))
 */
