#!/usr/bin/env python3
"""qdrant_textidx.py BIN WORKDIR - the token processing options of text
indexes (stopwords, stemmer, ascii_folding) against the real binary.

The reference is a brute-force tokenizer written here, with expected tokens
taken from Qdrant v1.17.1's own unit tests (full_text_index/tokenizers/
mod.rs, ascii_folding.rs, stop_words/mod.rs) and Snowball's published
English and German vocabulary -> output examples, never from vitrine's
tables: the stopword status and the stem of every word used below are
hard-coded. Checked: match text (all tokens), text_any, phrase, count,
the word, whitespace and prefix tokenizers, language and custom stopword
lists, case-sensitive custom stopwords (lowercase false), two stemmers,
folding, their combinations, how payload_schema reports the params
(Qdrant's field order, aliases resolved, sets sorted), the same answers
after a restart, and the errors for bad values."""
import os, random, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qdrant_http import Server  # noqa: E402

srv = Server("qdrant_textidx.py", sys.argv[1], sys.argv[2])
fail, req, ok = srv.fail, srv.req, srv.ok
srv.start()

# English stopwords (NLTK's list as Qdrant ships it; each of these is
# asserted to be one in Qdrant's tokenizer tests) and Spanish ones.
EN_STOP = {"the", "over", "and", "of", "you", "ll", "be", "in", "i", "d", "y", "having", "has", "a"}
ES_STOP = {"y", "de"}
# Words that are no stopword in either list, and their Snowball English
# stems (Qdrant's test_stemming_snowball, Snowball's english/voc.txt ->
# output.txt).
EN_STEM = {"interestingly": "interest", "proceeding": "proceed", "living": "live", "live": "live",
           "consign": "consign", "consigned": "consign", "consigning": "consign",
           "consignment": "consign", "knack": "knack", "knackeries": "knackeri", "knaves": "knave",
           "generously": "generous", "quick": "quick", "brown": "brown", "fox": "fox", "dog": "dog",
           "lazy": "lazi", "jumps": "jump", "town": "town", "runs": "run"}
# Snowball's German examples (german/voc.txt -> output.txt).
DE_STEM = {"häuser": "haus", "kategorie": "kategori", "aufeinanderfolgenden": "aufeinanderfolg"}

# Stopwords kept (no stopword list) stem to themselves but "having".
STEM_ALL = dict({w: w for w in ES_STOP | EN_STOP}, having="have", **EN_STEM)
CONTENT = sorted(EN_STEM)
VOCAB = CONTENT + sorted(EN_STOP | ES_STOP) + ["The", "Living", "FOX", "I'd", "you'll"]


def split_word(text):
    """Qdrant's word tokenizer on ASCII text: runs of letters and digits."""
    return re.findall(r"[A-Za-z0-9]+", text)


def reference(text, stop=frozenset(), stem=None, lowercase=True):
    toks = split_word(text)
    if lowercase:
        toks = [t.lower() for t in toks]
    toks = [t for t in toks if t not in stop]
    if stem is not None:
        toks = [stem[t] for t in toks]
    return toks


def ids(coll, cond):
    pts = ok("POST", coll + "/points/scroll", {"filter": {"must": [cond]}, "limit": 500})["points"]
    n = ok("POST", coll + "/points/count", {"filter": {"must": [cond]}})["count"]
    got = sorted(p["id"] for p in pts)
    if n != len(got):
        fail("%s %s: count %d, scroll %d" % (coll, cond, n, len(got)))
    return got


def make(coll, schema, texts):
    C = "/collections/" + coll
    ok("PUT", C, {"vectors": {"size": 2, "distance": "Dot"}})
    ok("PUT", C + "/index?wait=true", {"field_name": "t", "field_schema": schema})
    ok("PUT", C + "/points?wait=true", {"points": [{"id": i + 1, "vector": [1, 0], "payload": {"t": t}}
                                                   for i, t in enumerate(texts)]})
    return C


def schema_of(C):
    return ok("GET", C)["payload_schema"]["t"]


rng = random.Random(7)
docs = [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(1, 9))) for _ in range(120)]
docs += ["The quick brown fox jumps over the lazy dog", "you'll be in town",
         "The quick brown fox jumps over the lazy dog I'd y de", "interestingly proceeding living"]
queries = ["the fox", "The Fox", "the over", "quick brown", "fox the lazy", "lazy dog", "Living",
           "you'll", "knaves generously", "consigned town", "i d", "de y fox", "dog"]

# Each case: collection, schema, the reference's stopwords and stems, and
# the params payload_schema must report (in that key order).
CASES = [
    ("stop_en", {"type": "text", "stopwords": "english"}, EN_STOP, None,
     {"type": "text", "tokenizer": "word", "stopwords": "english"}),
    ("stop_set", {"type": "text", "tokenizer": "word", "stopwords": {"custom": ["de", "Y", "de"], "languages": ["en", "english"]}},
     EN_STOP | ES_STOP, None,
     {"type": "text", "tokenizer": "word", "stopwords": {"languages": ["english"], "custom": ["Y", "de"]}}),
    ("stop_langs", {"type": "text", "stopwords": {"languages": ["spanish", "english"]}}, EN_STOP | ES_STOP, None,
     {"type": "text", "tokenizer": "word", "stopwords": {"languages": ["english", "spanish"]}}),
    ("stem_en", {"type": "text", "stemmer": {"type": "snowball", "language": "en"}, "lowercase": True}, frozenset(), EN_STEM,
     {"type": "text", "tokenizer": "word", "lowercase": True, "stemmer": {"type": "snowball", "language": "english"}}),
    ("stop_stem", {"stemmer": {"language": "english", "type": "snowball"}, "stopwords": "en", "type": "text",
                   "phrase_matching": True},
     EN_STOP, EN_STEM,
     {"type": "text", "tokenizer": "word", "phrase_matching": True, "stopwords": "english",
      "stemmer": {"type": "snowball", "language": "english"}}),
]
for coll, schema, stop, stem, want_schema in CASES:
    stem_all = None if stem is None else STEM_ALL
    C = make(coll, schema, docs)
    got_schema = schema_of(C)
    if got_schema != {"data_type": "text", "params": want_schema, "points": len(docs)} or \
            list(got_schema["params"]) != list(want_schema):
        fail("%s: payload_schema %s, want params %s" % (coll, got_schema, want_schema))
    if coll == "stop_set":
        # "Y" is kept as given in the params but lowercased in the set (lowercase is on).
        stop = EN_STOP | {"y", "de"}
    doc_toks = [reference(d, stop, stem_all) for d in docs]
    for q in queries:
        qt = reference(q, stop, stem_all)
        want_all = [i + 1 for i, t in enumerate(doc_toks) if qt and set(qt) <= set(t)]
        want_any = [i + 1 for i, t in enumerate(doc_toks) if set(qt) & set(t)]
        want_phrase = [i + 1 for i, t in enumerate(doc_toks)
                       if qt and any(t[k:k + len(qt)] == qt for k in range(len(t)))]
        for kind, want in (("text", want_all), ("text_any", want_any), ("phrase", want_phrase)):
            got = ids(C, {"key": "t", "match": {kind: q}})
            if got != want:
                fail("%s, %s %r (tokens %s): %s, want %s" % (coll, kind, q, qt, got, want))

# Case-sensitive custom stopwords (Qdrant's test_tokenizer_with_case_sensitive_stopwords).
C = make("stop_case", {"type": "text", "lowercase": False, "stopwords": {"custom": ["the", "The", "LAZY"]}},
         ["The quick brown fox jumps over the lazy dog", "LAZY cat", "The end"])
for q, want in (("lazy", [1]), ("LAZY", []), ("The", []), ("over", [1]), ("cat", [2]), ("end", [3])):
    got = ids(C, {"key": "t", "match": {"text": q}})
    if got != want:
        fail("lowercase false, custom stopwords, text %r: %s, want %s" % (q, got, want))

# ASCII folding (Qdrant's ascii_folding.rs and test_ascii_folding_word_tokenizer_on_off).
fold_docs = ["ação café jalapeño Über", "Cafe CREME", "Æsop and Œuvre", "straße", "Łódź", "plain text"]
for folding, cases in ((True, [("CAFÉ", [1, 2]), ("cafe", [1, 2]), ("acao", [1]), ("AÇÃO", [1]), ("uber", [1]),
                               ("aesop", [3]), ("oeuvre", [3]), ("strasse", [4]), ("lodz", [5]), ("Łódź", [5])]),
                       (False, [("CAFÉ", [1]), ("cafe", [2]), ("acao", []), ("AÇÃO", [1]), ("über", [1]),
                                ("strasse", []), ("Łódź", [5])])):
    C = make("fold_%d" % folding, {"type": "text", "ascii_folding": folding}, fold_docs)
    want_schema = {"type": "text", "tokenizer": "word", "ascii_folding": folding}
    if schema_of(C)["params"] != want_schema:
        fail("ascii_folding %s: params %s" % (folding, schema_of(C)["params"]))
    for q, want in cases:
        got = ids(C, {"key": "t", "match": {"text": q}})
        if got != want:
            fail("ascii_folding %s, text %r: %s, want %s" % (folding, q, got, want))

# All of them with the prefix tokenizer: documents give the prefixes of
# each processed word, queries keep stopwords (a typed prefix may be one).
C = make("prefix_all", {"type": "text", "tokenizer": "prefix", "ascii_folding": True, "stopwords": "english",
                        "stemmer": {"type": "snowball", "language": "english"}, "max_token_len": 10},
         ["Theory of the universe", "Cafés in town", "you'll be living", "over"])
for q, want in (("the", [1]), ("of", []), ("over", []), ("cafe", [2]), ("CAFÉS", [2]), ("caf", [2]),
                ("living", [3]), ("liv", [3]), ("town", [2]), ("universes", [1]), ("you", [])):
    got = ids(C, {"key": "t", "match": {"text": q}})
    if got != want:
        fail("prefix with folding, stopwords and stemming, text %r: %s, want %s" % (q, got, want))

# German stemming and stopwords together.
C = make("de", {"type": "text", "stopwords": "german", "stemmer": {"type": "snowball", "language": "de"}},
         ["Die Häuser und die Kategorie", "ein Haus", "aufeinanderfolgenden Tagen"])
for q, want in (("häuser", [1, 2]), ("HAUS", [1, 2]), ("kategorie", [1]), ("und", []), ("die", []),
                ("aufeinanderfolgenden", [3])):
    got = ids(C, {"key": "t", "match": {"text": q}})
    if got != want:
        fail("german stemmer and stopwords, text %r: %s, want %s" % (q, got, want))

# Everything above again after a restart: the params are persisted and
# the indexes rebuilt with them.
srv.stop()
srv.start()
if schema_of("/collections/stop_set")["params"] != CASES[1][4]:
    fail("params after a restart: %s" % schema_of("/collections/stop_set")["params"])
for coll, q, kind, want_fn in (("stop_en", "the fox", "text", lambda t: "fox" in t),
                               ("stem_en", "Living", "text", lambda t: "live" in t),
                               ("stop_set", "de y fox", "text_any", lambda t: "fox" in t)):
    stem_all = STEM_ALL if coll == "stem_en" else None
    stop = EN_STOP | ES_STOP if coll == "stop_set" else EN_STOP if coll == "stop_en" else frozenset()
    want = [i + 1 for i, d in enumerate(docs) if want_fn(reference(d, stop, stem_all))]
    got = ids("/collections/" + coll, {"key": "t", "match": {kind: q}})
    if got != want:
        fail("after a restart, %s %s %r: %s, want %s" % (coll, kind, q, got, want))
for q, want in (("CAFÉ", [1, 2]), ("lodz", [5])):
    if ids("/collections/fold_1", {"key": "t", "match": {"text": q}}) != want:
        fail("folding after a restart, %r" % q)
if ids("/collections/de", {"key": "t", "match": {"text": "HAUS"}}) != [1, 2]:
    fail("german stemming after a restart")

# Concurrent searches: each borrows its own stemmer (libstemmer instances
# are not thread-safe), so answers stay right under the threadpool.
import threading  # noqa: E402
want_live = [i + 1 for i, d in enumerate(docs) if "live" in reference(d, frozenset(), STEM_ALL)]
errors = []


def burst():
    for _ in range(15):
        got = ids("/collections/stem_en", {"key": "t", "match": {"text": "Living"}})
        if got != want_live:
            errors.append(got)


threads = [threading.Thread(target=burst) for _ in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if errors:
    fail("concurrent stemmed searches: %d wrong answers, e.g. %s" % (len(errors), errors[0]))

# Without an index a text match stays a substring of the payload (Qdrant's
# unindexed check): stopwords and stems play no part.
ok("PUT", "/collections/plain", {"vectors": {"size": 2, "distance": "Dot"}})
ok("PUT", "/collections/plain/points?wait=true", {"points": [
    {"id": 1, "vector": [1, 0], "payload": {"t": "the living room"}},
    {"id": 2, "vector": [1, 0], "payload": {"t": "lives"}}]})
if ids("/collections/plain", {"key": "t", "match": {"text": "the liv"}}) != [1]:
    fail("unindexed text match is not a substring match")

# Bad values: 400 naming the problem, as Qdrant's deserializer refuses them.
ok("PUT", "/collections/bad", {"vectors": {"size": 2, "distance": "Dot"}})
for schema, status, words in (
        ({"type": "text", "stopwords": "klingon"}, 400, "klingon"),
        ({"type": "text", "stopwords": {"languages": ["english", "elvish"]}}, 400, "elvish"),
        ({"type": "text", "stopwords": {"custom": [1]}}, 400, "custom"),
        ({"type": "text", "stopwords": 5}, 400, "StopwordsInterface"),
        ({"type": "text", "stemmer": {"type": "snowball", "language": "latin"}}, 400, "latin"),
        ({"type": "text", "stemmer": {"type": "porter", "language": "english"}}, 400, "porter"),
        ({"type": "text", "stemmer": {"type": "snowball"}}, 400, "language"),
        ({"type": "text", "stemmer": "english"}, 400, "StemmingAlgorithm"),
        ({"type": "text", "ascii_folding": "yes"}, 400, "ascii_folding"),
        ({"type": "text", "tokenizer": "multilingual"}, 501, "multilingual")):
    code, out = req("PUT", "/collections/bad/index", {"field_name": "t", "field_schema": schema})
    err = out.get("status", {}).get("error", "") if isinstance(out.get("status"), dict) else ""
    if code != status or words not in err:
        fail("field_schema %s: %d %s, want %d naming %r" % (schema, code, out, status, words))
if ok("GET", "/collections/bad")["payload_schema"] != {}:
    fail("a refused index was created")
srv.stop()
print("qdrant_textidx.py: ok (stopwords by language, set and custom list, case-sensitive custom words, "
      "English and German stemming, ASCII folding and their combinations on the word and prefix "
      "tokenizers equal a brute-force reference for text, text_any, phrase and count; params "
      "reported as Qdrant does and kept across a restart; unindexed fields unchanged; bad values refused)")
