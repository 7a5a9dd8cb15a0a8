#!/usr/bin/env python3
"""qdrant_bm25.py BIN WORKDIR - Qdrant's local BM25 model ("qdrant/bm25")
against the real binary, started without CLIP weights (self-hosted Qdrant
serves BM25 without any). The expected sparse vectors come from an
implementation of Qdrant v1.17.1's algorithm written here
(src/common/inference/bm25.rs): murmur3 of its own (checked against
published values), Python's str.isalnum / str.lower / NFKD for splitting,
lowercasing and ASCII folding, the pure-Python Snowball stemmers of
Debian's python3-snowballstemmer (not libstemmer, which vitrine links),
and Qdrant's English stopword list as a fixture. Checked: documents'
weights (k, b, avg_len, tokenizers, language, stopwords, stemmer,
lowercase, ascii_folding, token lengths) through upsert, batch and update
vectors; queries (weight 1 per distinct token) ranking documents by BM25
through a sparse vector with the idf modifier, scores recomputed here;
the model's names; an empty text; and the errors Qdrant answers."""
import math, os, struct, sys, unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qdrant_http import Server  # noqa: E402

try:
    import snowballstemmer
except ImportError:  # tools/deps.sh installs python3-snowballstemmer
    snowballstemmer = None

srv = Server("qdrant_bm25.py", sys.argv[1], sys.argv[2])
fail, req, ok = srv.fail, srv.req, srv.ok
if snowballstemmer is None:
    print("qdrant_bm25.py: SKIP: python3-snowballstemmer is missing (tools/deps.sh installs it)")
    sys.exit(77)


# ---- the reference ----

def murmur3_32(data, seed=0):
    """MurmurHash3_x86_32 (Austin Appleby's reference), written out here."""
    c1, c2, m = 0xcc9e2d51, 0x1b873593, 0xffffffff
    h, n = seed, len(data)
    rotl = lambda x, r: ((x << r) | (x >> (32 - r))) & m
    for i in range(0, n - n % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = rotl((k * c1) & m, 15) * c2 & m
        h = (rotl(h ^ k, 13) * 5 + 0xe6546b64) & m
    tail, k = data[n - n % 4:], 0
    for i in reversed(range(len(tail))):
        k = (k << 8) | tail[i]
    if tail:
        h ^= rotl((k * c1) & m, 15) * c2 & m
    h ^= n
    h = (h ^ (h >> 16)) * 0x85ebca6b & m
    h = (h ^ (h >> 13)) * 0xc2b2ae35 & m
    return h ^ (h >> 16)


# Published MurmurHash3_x86_32 values: the reference is checked first.
for key, seed, want in ((b"", 0, 0), (b"", 1, 0x514E28B7), (b"aaaa", 0x9747b28c, 0x5A97808A),
                        (b"abc", 0x9747b28c, 0xC84A62DD), (b"Hello, world!", 0x9747b28c, 0x24884CBA),
                        (b"The quick brown fox jumps over the lazy dog", 0x9747b28c, 0x2FA826CD)):
    if murmur3_32(key, seed) != want:
        fail("the test's murmur3 of %r: %#x, want %#x" % (key, murmur3_32(key, seed), want))


def token_id(tok):
    """abs(hash as i32), as fastembed and Qdrant take it."""
    h = murmur3_32(tok.encode())
    return abs(h - (1 << 32) if h >= 1 << 31 else h)


# Qdrant v1.17.1's English stopwords (lib/segment/.../stop_words/english.rs).
ENGLISH_STOPWORDS = set("""i me my myself we our ours ourselves you you're you've you'll you'd your
yours yourself yourselves he him his himself she she's her hers herself it it's its itself they them
their theirs themselves what which who whom this that that'll these those am is are was were be been
being have has had having do does did doing a an the and but if or because as until while of at by
for with about against between into through during before after above below to from up down in out
on off over under again further then once here there when where why how all any both each few more
most other some such no nor not only own same so than too very s t can will just don don't should
should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't
hasn hasn't haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't
shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't""".split())
STOPWORDS = {"english": ENGLISH_STOPWORDS, "en": ENGLISH_STOPWORDS}
STEMMERS = {"english": "english", "en": "english", "german": "german", "de": "german",
            "french": "french", "fr": "french"}


def fold(s):
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def tokens(text, o):
    """Qdrant's Tokenizer::tokenize_query with Bm25's TokensProcessor."""
    lang = o.get("language", "english")
    lower = o.get("lowercase", True)
    if "stopwords" in o:
        sw = o["stopwords"]
        stops = set(STOPWORDS[sw]) if isinstance(sw, str) else set(sw.get("custom", []))
        if isinstance(sw, dict):
            for l in sw.get("languages", []):
                stops |= STOPWORDS[l]
    else:
        stops = STOPWORDS.get(lang, set())
    if lower:
        stops = {w.lower() for w in stops}
    st = o.get("stemmer", {}).get("language") if "stemmer" in o else lang
    stem = snowballstemmer.stemmer(STEMMERS[st]) if st in STEMMERS else None
    tok = o.get("tokenizer", "word")
    lo, hi = o.get("min_token_len"), o.get("max_token_len")
    if tok == "whitespace":
        words = text.split()
    else:
        words, cur = [], ""
        for c in text:
            if c.isalnum():
                cur += c
            else:
                words.append(cur)
                cur = ""
        words.append(cur)
    out = []
    for w in words:
        if not w:
            continue
        if o.get("ascii_folding"):
            w = fold(w)
        if lower:
            w = w.lower()
        if tok != "prefix" and w in stops:
            continue
        if stem:
            w = stem.stemWord(w)
        if lo is not None and len(w) < lo:
            continue
        if hi is not None and len(w) > hi:
            if tok != "prefix":
                continue
            w = w[:hi]
        out.append(w)
    return out


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def doc_vector(text, o):
    toks = tokens(text, o)
    k, b, avg = o.get("k", 1.2), o.get("b", 0.75), o.get("avg_len", 256.0)
    counts = {}
    for t in toks:
        counts[token_id(t)] = counts.get(token_id(t), 0) + 1
    return {i: f32(n * (k + 1) / (k * (1 - b + b * len(toks) / avg) + n)) for i, n in counts.items()}


def query_vector(text, o):
    ids = []
    for t in tokens(text, o):
        if token_id(t) not in ids:
            ids.append(token_id(t))
    return ids


def doc(text, model="qdrant/bm25", **options):
    d = {"text": text, "model": model}
    if options:
        d["options"] = options
    return d


def check_vector(got, want, what):
    """got: {"indices", "values"} from the server; want: {index: f32}."""
    pairs = dict(zip(got["indices"], got["values"]))
    if len(pairs) != len(got["indices"]) or set(pairs) != set(want):
        fail("%s: indices %s, want %s" % (what, sorted(got["indices"]), sorted(want)))
    for i, v in want.items():
        if f32(pairs[i]) != v:
            fail("%s: index %d has %r, want %r" % (what, i, pairs[i], v))


# ---- documents ----

TEXTS = [
    "I must not fear. Fear is the mind-killer.",
    "All animals are equal, but some animals are more equal than others.",
    "It was a pleasure to burn.",
    "The sky above the port was the color of television, tuned to a dead channel.",
    "In the beginning the universe was created. This has made a lot of people very angry "
    "and been widely regarded as a bad move.",
    "It's a truth universally acknowledged that a zombie in possession of brains must be in want of more brains.",
    "War is peace. Freedom is slavery. Ignorance is strength.",
    "Running runners ran; the runner runs and keeps running!",
    "Café crème brûlée, naïve façade: SMÖRGÅSBORD délicieux",
    "The a an and or but",
    "",
]
# Options per case (each a document of its own, checked after a round trip).
CASES = [
    {},
    {"k": 2.0, "b": 0.5, "avg_len": 8},
    {"k": 0, "b": 1, "avg_len": 3.5},
    {"language": "none"},
    {"language": "en"},
    {"lowercase": False},
    {"ascii_folding": True},
    {"stopwords": {"custom": ["fear", "Animals"]}},
    {"stopwords": {"languages": ["english"], "custom": ["pleasure"]}, "stemmer": {"type": "snowball", "language": "german"}},
    {"stopwords": "english", "language": "none"},
    {"stemmer": {"type": "snowball", "language": "fr"}},
    {"min_token_len": 4},
    {"max_token_len": 5},
    {"tokenizer": "whitespace"},
    {"tokenizer": "prefix", "max_token_len": 4},
    {"tokenizer": "prefix", "min_token_len": 3},
    {"tokenizer": "word", "language": "german", "stopwords": {}},
    {"irrelevant": 1},
]

srv.start()
C = "/collections/bm25"
ok("PUT", C, {"vectors": {"dense": {"size": 2, "distance": "Dot"}},
              "sparse_vectors": {"text": {"modifier": "idf"}, "plain": {}}})

pid, expected = 0, {}
points = []
for ci, o in enumerate(CASES):
    for t in TEXTS:
        pid += 1
        points.append({"id": pid, "vector": {"dense": [1, 0], "plain": doc(t, **o)}})
        expected[pid] = (t, o)
ok("PUT", C + "/points?wait=true", {"points": points})
got = ok("POST", C + "/points", {"ids": list(expected), "with_vector": ["plain"]})
if len(got) != len(expected):
    fail("retrieved %d points of %d" % (len(got), len(expected)))
for p in got:
    t, o = expected[p["id"]]
    check_vector(p["vector"]["plain"], doc_vector(t, o), "point %d (%r, options %s)" % (p["id"], t, o))

# The model's names, in any case; the same vector through batch and update vectors.
t = TEXTS[4]
ok("PUT", C + "/points?wait=true", {"batch": {"ids": [1001, 1002], "vectors": {
    "plain": [doc(t, model="BM25"), doc(t, model="Qdrant/BM25", k=3)]}}})
ok("PUT", C + "/points?wait=true", {"points": [{"id": 1003, "vector": {"dense": [0, 1]}}]})
ok("PUT", C + "/points/vectors?wait=true", {"points": [{"id": 1003, "vector": {"plain": doc(t, "bm25", b=0.1)}}]})
for p in ok("POST", C + "/points", {"ids": [1001, 1002, 1003], "with_vector": ["plain"]}):
    o = {1001: {}, 1002: {"k": 3}, 1003: {"b": 0.1}}[p["id"]]
    check_vector(p["vector"]["plain"], doc_vector(t, o), "point %d" % p["id"])

# ---- search: BM25 ranking through the idf modifier ----

corpus = {i + 1: s for i, s in enumerate(TEXTS[:9])}
Q = "/collections/bm25_rank"
ok("PUT", Q, {"sparse_vectors": {"text": {"modifier": "idf"}}})
ok("PUT", Q + "/points?wait=true", {"points": [{"id": i, "vector": {"text": doc(s)}, "payload": {"text": s}}
                                               for i, s in corpus.items()]})
dvec = {i: doc_vector(s, {}) for i, s in corpus.items()}
n_docs = sum(1 for v in dvec.values() if v)


def bm25_scores(query, o):
    q = query_vector(query, o)
    scores = {}
    for i, v in dvec.items():
        shared = [t for t in q if t in v]
        if not shared:
            continue
        s = 0.0
        for t in shared:
            df = sum(1 for w in dvec.values() if t in w)
            s += math.log((n_docs - df + 0.5) / (df + 0.5) + 1) * v[t]
        scores[i] = s
    return scores


for query in ["I should not fear", "It's universally acknowledged", "running fear brains",
              "The animals ran to the port", "peace and freedom", "the of and"]:
    want = bm25_scores(query, {})
    res = ok("POST", Q + "/points/query", {"query": doc(query), "using": "text", "limit": 20})["points"]
    got = {p["id"]: p["score"] for p in res}
    if set(got) != set(want):
        fail("query %r: ids %s, want %s" % (query, sorted(got), sorted(want)))
    for i, s in want.items():
        if abs(got[i] - s) > 1e-4 * max(1, abs(s)):
            fail("query %r: point %d scored %r, want %r" % (query, i, got[i], s))
    ranked = [p["id"] for p in res]
    if any(want[ranked[x]] < want[ranked[x + 1]] - 1e-5 for x in range(len(ranked) - 1)):
        fail("query %r: ranking %s, scores %s" % (query, ranked, want))
    # The same through search (a named sparse vector), a prefetch and recommend.
    if want:
        s = ok("POST", Q + "/points/search", {"vector": {"name": "text", "vector": doc(query)}, "limit": 20})
        if {p["id"] for p in s} != set(want):
            fail("search %r: %s" % (query, [p["id"] for p in s]))
        f = ok("POST", Q + "/points/query", {"prefetch": [{"query": doc(query), "using": "text", "limit": 20}],
                                             "query": {"fusion": "rrf"}, "limit": 20})["points"]
        if {p["id"] for p in f} != set(want):
            fail("prefetch %r: %s" % (query, [p["id"] for p in f]))

# A query's options apply to the query's tokens: with no stemming, "running"
# is not "run" and misses point 8's stems.
res = ok("POST", Q + "/points/query", {"query": doc("running", language="none"), "using": "text"})["points"]
if res:
    fail("an unstemmed query matched stemmed documents: %s" % res)
res = ok("POST", Q + "/points/query", {"query": doc("running"), "using": "text"})["points"]
if [p["id"] for p in res] != [8]:
    fail("a stemmed query: %s" % res)
# An empty query finds nothing.
res = ok("POST", Q + "/points/query", {"query": doc(""), "using": "text"})["points"]
if res:
    fail("an empty query: %s" % res)

# ---- errors ----

def err(method, path, body, code, msg):
    c, out = req(method, path, body)
    got = out.get("status", {}).get("error") if isinstance(out.get("status"), dict) else out
    if c != code or (msg is not None and got != msg):
        fail("%s %s %s: %d %r, want %d %r" % (method, path, body, c, got, code, msg))


def bad_option(options, serde_msg):
    err("POST", Q + "/points/query", {"query": {"text": "x", "model": "qdrant/bm25", "options": options},
                                      "using": "text"}, 400,
        "Wrong input: Invalid BM25 config: Error(\"%s\", line: 0, column: 0)"
        % serde_msg.replace("\\", "\\\\").replace('"', '\\"'))


bad_option({"k": "x"}, 'invalid type: string "x", expected f64')
bad_option({"b": None}, "invalid type: unit value, expected f64")
bad_option({"avg_len": [1]}, "invalid type: sequence, expected f64")
bad_option({"tokenizer": "nope"}, "unknown variant `nope`, expected one of `prefix`, `whitespace`, `word`, `multilingual`")
bad_option({"tokenizer": 3}, "invalid type: integer `3`, expected string or map")
bad_option({"lowercase": "yes"}, 'invalid type: string "yes", expected a boolean')
bad_option({"ascii_folding": 1}, "invalid type: integer `1`, expected a boolean")
bad_option({"language": 5}, "invalid type: integer `5`, expected a string")
bad_option({"min_token_len": -1}, "invalid value: integer `-1`, expected usize")
bad_option({"max_token_len": 2.5}, "invalid type: floating point `2.5`, expected usize")
bad_option({"max_token_len": 3.0}, "invalid type: floating point `3.0`, expected usize")
bad_option({"stopwords": "klingon"}, "data did not match any variant of untagged enum StopwordsInterface")
bad_option({"stopwords": {"languages": ["english", "x"]}}, "data did not match any variant of untagged enum StopwordsInterface")
bad_option({"stemmer": {"type": "porter", "language": "english"}}, "data did not match any variant of untagged enum StemmingAlgorithm")
bad_option({"stemmer": {"type": "snowball"}}, "data did not match any variant of untagged enum StemmingAlgorithm")
err("POST", Q + "/points/query", {"query": doc("x", tokenizer="multilingual"), "using": "text"}, 501, None)
err("POST", Q + "/points/query", {"query": {"image": "aGk=", "model": "qdrant/bm25"}, "using": "text"}, 400,
    "Wrong input: Only text input is supported for qdrant/bm25.")
err("PUT", Q + "/points?wait=true", {"points": [{"id": 1, "vector": doc("red shoe")}]}, 400,
    "Bad request: Sparse vector from document inference should be named")
err("PUT", Q + "/points/vectors?wait=true", {"points": [{"id": 1, "vector": doc("red shoe")}]}, 400,
    "Direct Document processing not supported for PointVectors. Use named vectors.")
err("PUT", Q + "/points?wait=true", {"batch": {"ids": [1], "vectors": [doc("red shoe")]}}, 400,
    "Direct Document processing is not supported in top-level batch vectors. Use named vectors.")
# A BM25 vector for a dense vector name fails as any sparse vector there does.
c1, o1 = req("PUT", C + "/points?wait=true", {"points": [{"id": 1, "vector": {"dense": doc("red shoe")}}]})
c2, o2 = req("PUT", C + "/points?wait=true",
             {"points": [{"id": 1, "vector": {"dense": {"indices": [1], "values": [1.0]}}}]})
if c1 != 400 or (c1, o1["status"]) != (c2, o2["status"]):
    fail("a BM25 document for a dense vector: %d %s; a sparse vector there: %d %s" % (c1, o1, c2, o2))
# A CLIP model still needs its weights (none here): 503, not BM25's path.
c, out = req("POST", Q + "/points/query", {"query": doc("x", model="openai/clip-vit-base-patch32"), "using": "text"})
if c != 503:
    fail("a CLIP Document without weights: %d %s" % (c, out))
# The points written above are unchanged by the failed writes.
p = ok("GET", Q + "/points/1")
if p["payload"]["text"] != corpus[1]:
    fail("point 1 changed: %s" % p)

srv.stop()
print("qdrant_bm25.py: ok")
