# vitrine - one C binary: CLIP embeddings + HNSW/LMDB vector store + HTTP.
#
#   make            build ./vitrine (release flags, portable: no -march=native)
#   make test       build and run every unit test, then the end-to-end tests
#   make run        install what is missing, build, and serve on 127.0.0.1:6333
#   make deps       install the Debian packages (apt-get; via sudo when not root)
#   make weights    download openai/clip-vit-base-patch32 (needs the internet)
#   make SANITIZER=address|undefined|thread [test]
#                   the same in build/<sanitizer>/, binary build/<sanitizer>/vitrine
#                   (SANITIZER=address,undefined: both in one build, as CI does)
#   make SANITIZER=thread test-threads
#                   only the tests that run threads (what CI runs under TSan)
#   make fuzz       build the libFuzzer targets with clang into build/fuzz/
#   make fuzz-smoke run them for FUZZ_SECONDS in all (default 180, split evenly,
#                   at least FUZZ_MIN_SECONDS=10 each; FUZZ_TARGETS=fuzz_http
#                   picks some) on a copy of each corpus; what it finds lands
#                   in build/fuzz/<target>-*
#   make OPTFLAGS=-march=native     tune for this CPU
#   make WERROR=1   turn warnings into errors (CI does)
#   make CROSS=aarch64-linux-gnu-
#                   cross-build for arm64 into build/arm64/ (binary
#                   build/arm64/vitrine) with Debian's cross gcc and the
#                   arm64 multiarch -dev packages (make deps CROSS=... installs
#                   them); `make CROSS=... test-emu` runs the emulated subset
#                   under qemu-aarch64 (docs/arm64.md)

CC ?= cc
SANITIZER ?=
CROSS ?=
OPTFLAGS ?=
WERROR ?=

WARNFLAGS = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifneq ($(WERROR),)
WARNFLAGS += -Werror
endif

# A cross build (issue 15): CROSS is the tool prefix, a GNU triplet and a
# dash (aarch64-linux-gnu-). The compiler is $(CROSS)gcc, the libraries
# are the target's multiarch -dev packages (found through pkg-config's
# target folder), and everything goes to build/<Debian arch>/. Tests run
# under EMU, a user-mode qemu with the target's loader prefix (binfmt_misc
# need not be registered). Sanitizers are host-only.
ifneq ($(CROSS),)
CROSS_TRIPLET := $(patsubst %-,%,$(CROSS))
CROSS_ARCH := $(if $(filter aarch64-%,$(CROSS_TRIPLET)),arm64,$(firstword $(subst -, ,$(CROSS_TRIPLET))))
CROSS_QEMU_ARCH := $(firstword $(subst -, ,$(CROSS_TRIPLET)))
ifneq ($(origin CC),command line)
CC = $(CROSS)gcc
endif
PKG_CONFIG = PKG_CONFIG_LIBDIR=/usr/lib/$(CROSS_TRIPLET)/pkgconfig:/usr/share/pkgconfig pkg-config
AR = $(CROSS)ar
EMU ?= qemu-$(CROSS_QEMU_ARCH)-static
ifneq ($(SANITIZER),)
$(error CROSS builds have no sanitizer variant: run the sanitizers on the host)
endif
else
CROSS_TRIPLET := $(shell $(CC) -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
PKG_CONFIG = pkg-config
EMU ?=
endif

# Where each Debian package puts its headers; see third_party/README.md.
LLHTTP_SRC_DIR ?= /usr/share/llhttp
LLHTTP_INC_DIR ?= /usr/share/include/llhttp
OPENBLAS_INC ?= $(shell $(PKG_CONFIG) --cflags openblas 2>/dev/null || echo -I/usr/include/$(CROSS_TRIPLET)/openblas-pthread)
OPENBLAS_LIB ?= $(shell $(PKG_CONFIG) --libs openblas 2>/dev/null || echo -lopenblas)

CPPFLAGS = -D_GNU_SOURCE -Isrc -I$(LLHTTP_INC_DIR) -I/usr/include/yajl $(OPENBLAS_INC)
CFLAGS = -std=c11 -O2 -g $(WARNFLAGS) $(OPTFLAGS) -MMD -MP -pthread
LDLIBS = -luv -llmdb $(OPENBLAS_LIB) -lutf8proc -lstemmer -lwebp -lyajl -lm -lpthread -ldl
LDFLAGS = -pthread

ifneq ($(CROSS),)
BUILD = build/$(CROSS_ARCH)
BIN = $(BUILD)/vitrine
else ifneq ($(SANITIZER),)
BUILD = build/$(SANITIZER)
CFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZER)
BIN = $(BUILD)/vitrine
else
BUILD = build/release
BIN = vitrine
endif

# Sources, one file per module, in the layer folders of docs/architecture.md
# (a module includes only headers of its own folder or a lower one). Grouped
# by the issue that owns them so parallel work does not collide in this file.
CORE_SRCS = src/base/err.c src/base/log.c src/base/util.c src/base/budget.c src/base/arena.c src/base/json.c \
            src/base/cli.c src/base/sha256.c src/base/base64.c src/base/bigmem.c
HTTP_SRCS = src/server/http.c src/server/router.c src/server/server.c src/server/work.c \
            src/server/metrics.c src/server/multipart.c src/server/fetch.c
TOKENIZER_SRCS = src/model/tokenizer.c
IMAGE_SRCS = src/model/image.c src/model/image_stb.c src/model/image_stbw.c
CLIP_SRCS = src/model/nn.c src/model/nn_quant.c src/model/nn_int8.c src/model/nn_bf16.c src/model/nn_amx.c \
            src/model/safetensors.c src/model/clip.c
HNSW_SRCS = src/base/vec.c src/index/quant.c src/index/hnsw.c src/index/hnsw_build.c src/index/hnsw_search.c src/index/hnsw_sub.c
FILTER_SRCS = src/index/pointid.c src/index/filter.c src/index/payload.c src/index/geo.c src/index/payload_index.c
# Full-text index options (stopwords, stemming, ASCII folding): Qdrant's
# tables (generated by tools/gen_text_tables.py) and libstemmer's module.
FILTER_SRCS += src/index/text_tables.c src/index/textproc.c src/index/stem.c
STORE_SRCS = src/store/store.c src/store/collection_config.c src/store/collection_open.c \
             src/store/collection_write.c src/store/collection_read.c src/store/collection_search.c \
             src/store/collection_alias.c src/store/collection_snapshot.c \
             src/store/collection_index.c src/store/collection_facet.c \
             src/store/collection_record.c src/store/collection_quant.c src/store/collection_vectors.c \
             src/store/collection_optimize.c src/store/collection_blocks.c
API_SRCS = src/api/qdrant.c src/api/qdrant_request.c src/api/qdrant_service.c \
           src/api/qdrant_collections.c src/api/qdrant_points.c src/api/qdrant_search.c \
           src/api/qdrant_query.c src/api/qdrant_groups.c src/api/qdrant_facet.c src/api/qdrant_matrix.c src/api/qdrant_strict.c src/api/qdrant_lookup.c src/api/qdrant_formula.c src/api/qdrant_feedback.c src/api/qdrant_convert.c \
           src/api/qdrant_index.c src/api/qdrant_snapshots.c
V1_SRCS = src/api/embedder.c src/api/v1.c src/api/v1_openai.c
# Sparse vectors: the inverted index, the engine's sparse phase, Qdrant's shapes.
SPARSE_SRCS = src/index/sparse.c src/store/collection_sparse.c src/api/qdrant_sparse.c
# Qdrant's local BM25 model: the algorithm, and a Document's options on the wire.
BM25_SRCS = src/index/bm25.c src/api/qdrant_bm25.c
# Multivectors: MaxSim kernels, the engine's multivector phase, Qdrant's shapes.
MULTIVEC_SRCS = src/index/multivec.c src/store/collection_multivec.c src/api/qdrant_multivec.c
# Issue 10, part 2: items, search, classify, moderation, Qdrant inference objects.
V1_ITEMS_SRCS = src/api/v1_embed.c src/api/qdrant_inference.c src/api/v1_items.c src/api/v1_classify.c
# Issue 12, security: API keys.
SECURE_SRCS = src/server/auth.c
# The web page at /ui: its module, and its files compiled in at build time
# (tools/embed_files.sh writes them as C arrays into $(BUILD)/gen/).
UI_SRCS = src/api/ui.c
UI_FILES = src/api/ui/index.html src/api/ui/ui.css src/api/ui/ui.js src/api/ui/icon.svg
# Issue 15, arm64: CPU feature detection and the NEON kernels (the files
# compile to nothing on other architectures).
ARM_SRCS = src/base/cpu.c src/base/vec_neon.c src/model/nn_neon.c src/index/quant_neon.c \
           src/model/nn_quant_neon.c
CMD_SRCS = src/cmd/serve.c src/cmd/embed.c src/cmd/bench.c src/cmd/bench_ann.c
# Issue 11: the client commands (index, search, classify, export) and their HTTP client.
CMD_SRCS += src/cmd/httpc.c src/cmd/client.c src/cmd/index.c src/cmd/search.c src/cmd/export.c

LIB_SRCS = $(CORE_SRCS) $(HTTP_SRCS) $(TOKENIZER_SRCS) $(IMAGE_SRCS) $(CLIP_SRCS) \
           $(HNSW_SRCS) $(FILTER_SRCS) $(STORE_SRCS) $(API_SRCS) $(V1_SRCS) $(SPARSE_SRCS) $(BM25_SRCS) \
           $(MULTIVEC_SRCS) $(V1_ITEMS_SRCS) $(SECURE_SRCS) $(UI_SRCS) $(ARM_SRCS) $(CMD_SRCS)
LLHTTP_SRCS = $(LLHTTP_SRC_DIR)/api.c $(LLHTTP_SRC_DIR)/http.c $(LLHTTP_SRC_DIR)/llhttp.c

# Unit tests: tests/<name>.c, each its own binary linked against the library.
CORE_TESTS = test_util test_json test_sha256
HTTP_TESTS = test_http_parse test_fetch test_router test_server test_work test_multipart test_auth
TOKENIZER_TESTS = test_tokenizer
IMAGE_TESTS = test_image
CLIP_TESTS = test_nn test_nn_quant test_safetensors test_clip_parity test_clip_precision \
             test_clip_realweights
HNSW_TESTS = test_vec test_hnsw_recall test_hnsw_delete test_hnsw_bare test_hnsw_sub test_quant
FILTER_TESTS = test_pointid test_filter test_payload test_filter_packed test_filter_geo test_payload_index
STORE_TESTS = test_store_reopen test_store_format test_store_crash test_store_group test_store_alias test_collection test_store_quant \
              test_snapshot test_collection_snapshot
API_TESTS = test_qdrant_convert test_ui test_qdrant_exact_only
V1_TESTS = test_embedder
SPARSE_TESTS = test_sparse
BM25_TESTS = test_bm25
# Fuzz targets: tests/fuzz_<name>.c. In the test list they are built
# without libFuzzer and replay their committed corpus (tests/corpus/<name>).
FUZZ_TESTS = fuzz_json
# Issue 12: the HTTP request path, multipart bodies, base64, image decoding
# and preprocessing, safetensors, config.json and preprocessor_config.json,
# payload filters, the tokenizer.
FUZZ_TESTS += fuzz_http fuzz_http_response fuzz_multipart fuzz_base64 fuzz_image fuzz_safetensors fuzz_model_config \
              fuzz_filter fuzz_tokenizer
# The routes' JSON bodies through an in-process server (tests/fuzz_server.h):
# the Qdrant API, and /v1 with the tiny fixture model.
FUZZ_TESTS += fuzz_qdrant fuzz_v1
MULTIVEC_TESTS = test_multivec
V1_ITEMS_TESTS = test_store_blobs
CLI_TESTS = test_httpc
# Issue 15: the NEON kernels of src/model (skips on other architectures).
ARM_TESTS = test_neon
UNIT_TESTS = $(CORE_TESTS) $(HTTP_TESTS) $(TOKENIZER_TESTS) $(IMAGE_TESTS) $(CLIP_TESTS) \
             $(HNSW_TESTS) $(FILTER_TESTS) $(STORE_TESTS) $(API_TESTS) $(V1_TESTS) $(SPARSE_TESTS) $(BM25_TESTS) \
             $(MULTIVEC_TESTS) $(V1_ITEMS_TESTS) $(CLI_TESTS) $(ARM_TESTS) $(FUZZ_TESTS)
# The tests that run threads of their own (a server loop, work queues and
# the threadpool, nn's pool, concurrent tokenizing and embedding, concurrent
# HNSW inserts and searches, store readers beside a writer and snapshots,
# graphs loaded and batches inserted on several threads),
# and the end-to-end scripts that drive the server's threads (loop,
# threadpool searches, the writer and the embedding batcher): what
# `make SANITIZER=thread test-threads` runs, as CI does.
THREAD_TESTS = test_server test_work test_nn test_nn_quant test_tokenizer test_embedder test_hnsw_recall test_hnsw_sub test_store_format \
               test_collection test_snapshot test_fetch
THREAD_E2E_TESTS = serve qdrant_wire v1_embeddings qdrant_textidx qdrant_snapshots_http

# End-to-end tests: tests/e2e/<name>.sh, run against the real binary
# (layers: the include rules of docs/architecture.md, tools/check_layers.sh).
E2E_TESTS = layers serve embed qdrant_wire qdrant_client
E2E_TESTS += v1_embeddings v1_openai
E2E_TESTS += qdrant_sparse qdrant_bm25
E2E_TESTS += qdrant_index qdrant_facet qdrant_strict qdrant_lookup qdrant_formula qdrant_mmr qdrant_phrase qdrant_feedback
# Text indexes: stopwords, stemming, ASCII folding.
E2E_TESTS += qdrant_textidx
E2E_TESTS += qdrant_snapshots qdrant_snapshots_http
# Telemetry's update operation numbers (Qdrant's op_num).
E2E_TESTS += qdrant_opnum
E2E_TESTS += qdrant_multivec
# Issue 13: scalar int8 quantization over the Qdrant API.
E2E_TESTS += qdrant_quant
# Issue 13: a large PATCH rebuilds the graph in the background (status yellow).
E2E_TESTS += qdrant_optimize
# Issue 13: payload blocks (payload_m): filtered searches walk a value's subgraph.
E2E_TESTS += qdrant_blocks
E2E_TESTS += v1_items v1_inference
# Issue 12: API keys, crash safety, disk full, refused data directories.
E2E_TESTS += auth crash_http data_dir disk_full path_safety
# Packaging: tools/build-release.sh (what the Dockerfile runs) and its output.
E2E_TESTS += release
# docs/http-api.md: every curl example runs against the real binary.
E2E_TESTS += docs_examples
# Issue 12: the request memory budget and slow-client deadlines under load.
E2E_TESTS += limits
# The web page at /ui in headless Chromium.
E2E_TESTS += ui
# Issue 11: the client commands against real servers.
E2E_TESTS += cli

LIB_OBJS = $(LIB_SRCS:src/%.c=$(BUILD)/src/%.o) $(BUILD)/gen/ui_assets.o
LLHTTP_OBJS = $(LLHTTP_SRCS:$(LLHTTP_SRC_DIR)/%.c=$(BUILD)/llhttp/%.o)
LIB = $(BUILD)/libvitrine.a
TEST_BINS = $(UNIT_TESTS:%=$(BUILD)/tests/%)

.PHONY: all test test-only unit test-emu test-threads fuzz fuzz-smoke valgrind run deps weights clean bench-json \
        bench-write bench-snapshot bench-footprint
all: $(BIN)

$(BIN): $(BUILD)/src/cmd/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIB): $(LIB_OBJS) $(LLHTTP_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# GET / reports the source commit as Qdrant does (40 hex digits).
VITRINE_COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
$(BUILD)/src/api/qdrant_service.o: CPPFLAGS += $(if $(VITRINE_COMMIT),-DVITRINE_COMMIT='"$(VITRINE_COMMIT)"')

$(BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/gen/ui_assets.c: $(UI_FILES) tools/embed_files.sh
	@mkdir -p $(dir $@)
	tools/embed_files.sh $@ $(UI_FILES)

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# stb_image_write's JPEG bit writer shifts a signed int past its top bit
# (see src/model/image_stbw.c): that one UBSan check is off for that file.
$(BUILD)/src/model/image_stbw.o: CFLAGS += $(if $(findstring undefined,$(SANITIZER)),-fno-sanitize=shift-base)
# stb_image's PNG reader adds an offset of 0 to its still-NULL data buffer
# when the first IDAT chunk is empty (stbi__parse_png_file: z->idata + ioff,
# then a memcpy of 0 bytes to it): no memory is touched, but UBSan's
# pointer-overflow and nonnull-attribute checks report it (found by
# fuzz_image; the input is in tests/corpus/image). Those two checks are off
# for stb_image's unit.
STB_IMAGE_UBSAN_OFF = -fno-sanitize=pointer-overflow,nonnull-attribute
$(BUILD)/src/model/image_stb.o: CFLAGS += $(if $(findstring undefined,$(SANITIZER)),$(STB_IMAGE_UBSAN_OFF))

# llhttp is generated C from Debian's node-llhttp: compile it as shipped,
# without our warning set (it is not our code to fix).
$(BUILD)/llhttp/%.o: $(LLHTTP_SRC_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) -I$(LLHTTP_INC_DIR) -std=c11 -O2 -g -w $(OPTFLAGS) $(filter -fsanitize=%,$(CFLAGS)) -c -o $@ $<

$(BUILD)/tests/%: tests/%.c tests/harness.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# test and run first install whatever Debian packages are missing, then
# build in a second make so the build sees the installed headers.
# The deps.sh arguments for this build: a cross build's packages too.
DEPS_CROSS = $(if $(CROSS),--cross $(CROSS_TRIPLET))

test:
	@tools/deps.sh --if-missing $(DEPS_CROSS)
	@$(MAKE) --no-print-directory test-only

test-only: $(BIN) $(TEST_BINS)
	@EMU="$(EMU)" BIN=$(BIN) BUILD=$(BUILD) tests/run.sh $(UNIT_TESTS) -- $(E2E_TESTS)

unit: $(TEST_BINS)
	@EMU="$(EMU)" BIN=$(BIN) BUILD=$(BUILD) tests/run.sh $(UNIT_TESTS) --

# The emulated pass (issue 15, CI's arm64 step): a cross build's kernels
# and the code around them under qemu-user, single-threaded (OpenBLAS's
# spinning threads stall under qemu). The subset is what differs by
# architecture: every SIMD kernel against its scalar reference, the CLIP
# fixture parity, tokenizer and image decoding, HNSW recall, the store's
# kill -9 test (LMDB and fork on the target's libc), and the real binary:
# serving (serve), Qdrant's API with searches (qdrant_wire), embedding on
# the command line (embed) and over HTTP through the batcher
# (v1_embeddings). test_clip_parity checks 8 of the 24 fixture images
# (VITRINE_PARITY_MAX_IMAGES). About 4.5 minutes of CPU; the times are in
# docs/arm64.md. `make CROSS=... test` runs everything emulated.
EMU_TESTS = test_vec test_quant test_neon test_nn test_nn_quant test_safetensors test_clip_parity \
            test_tokenizer test_image test_hnsw_recall test_store_crash
EMU_E2E_TESTS = serve qdrant_wire embed v1_embeddings
# The binary the scripts run: CI passes the one tools/build-release.sh
# --arch arm64 staged (what the arm64 image holds).
EMU_BIN ?= $(BIN)
test-emu: $(BIN) $(EMU_TESTS:%=$(BUILD)/tests/%)
	@OPENBLAS_NUM_THREADS=1 VITRINE_PARITY_MAX_IMAGES=8 EMU="$(EMU)" BIN=$(EMU_BIN) BUILD=$(BUILD) \
	    tests/run.sh $(EMU_TESTS) -- $(EMU_E2E_TESTS)

# TSan stops a program at its first report, so a race in the server of an
# end-to-end script fails that script too (its exit status is not checked).
test-threads: $(BIN) $(THREAD_TESTS:%=$(BUILD)/tests/%)
	@TSAN_OPTIONS="halt_on_error=1 $${TSAN_OPTIONS:-}" BIN=$(BIN) BUILD=$(BUILD) \
	    tests/run.sh $(THREAD_TESTS) -- $(THREAD_E2E_TESTS)

# valgrind memcheck over end-to-end scripts: each server and CLI process
# they start runs under tools/valgrind_vitrine.sh (one log per process in
# $(VALGRIND_LOGS)), slowly, so the scripts wait VITRINE_START_TRIES tenths
# of a second for a server to start. Fails when a script fails or a log is
# not empty (an invalid access, an uninitialised value used, a leak at a
# server's graceful exit). Not part of CI: it takes minutes (see
# docs/operations.md for the figures). The scripts: the HTTP core, Qdrant's
# wire format, payload indexes, snapshots, /v1 items and search with the
# fixture model, path checks. Not v1_embeddings (memcheck runs the fixture
# model at about 9 s an image, past its clients' timeouts) nor auth (its
# check that a key is wiped from /proc/PID/cmdline reads valgrind's).
VALGRIND_E2E ?= serve qdrant_wire qdrant_index qdrant_snapshots v1_items path_safety
VALGRIND_LOGS ?= build/valgrind
valgrind: vitrine
	@command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)"; exit 1; }
	@rm -rf $(VALGRIND_LOGS) && mkdir -p $(VALGRIND_LOGS)
	@VALGRIND_LOGS=$(abspath $(VALGRIND_LOGS)) VALGRIND_BIN=$(abspath vitrine) VITRINE_START_TRIES=600 \
	    TEST_TIMEOUT=1200 BIN=tools/valgrind_vitrine.sh BUILD=build/release tests/run.sh -- $(VALGRIND_E2E)
	@n=$$(ls $(VALGRIND_LOGS) | wc -l); bad=$$(find $(VALGRIND_LOGS) -type f -size +0 | sort); \
	if [ -n "$$bad" ]; then for f in $$bad; do echo "== $$f"; head -n 60 $$f; done; \
	    echo "valgrind: $$(echo $$bad | wc -w) of $$n processes reported errors"; exit 1; fi; \
	echo "valgrind: $$n processes, no errors, no leaks"

# libFuzzer builds: clang (Debian's, with libclang-rt-*-dev), ASan + UBSan,
# the whole library (and llhttp) compiled with fuzzer coverage into
# build/fuzz/libvitrine.a, each target linked against it.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 180
FUZZ_MIN_SECONDS ?= 10
FUZZ_TARGETS ?= $(FUZZ_TESTS)
FUZZ_BUILD = build/fuzz
FUZZ_CFLAGS = -std=c11 -g -O1 -fno-omit-frame-pointer -pthread \
              -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_OBJS = $(LIB_SRCS:src/%.c=$(FUZZ_BUILD)/src/%.o) $(FUZZ_BUILD)/gen/ui_assets.o
FUZZ_LLHTTP_OBJS = $(LLHTTP_SRCS:$(LLHTTP_SRC_DIR)/%.c=$(FUZZ_BUILD)/llhttp/%.o)
FUZZ_LIB = $(FUZZ_BUILD)/libvitrine.a
FUZZ_BINS = $(FUZZ_TESTS:%=$(FUZZ_BUILD)/%)

fuzz:
	@tools/deps.sh --fuzz --if-missing
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

# Kept between builds (make would delete them as intermediate files).
.SECONDARY: $(FUZZ_OBJS) $(FUZZ_LLHTTP_OBJS)

$(FUZZ_BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

# The web page's files, which serve.c's module list links in (the route
# targets reach serve.c through mkdir_p).
$(FUZZ_BUILD)/gen/ui_assets.o: $(BUILD)/gen/ui_assets.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/src/model/image_stbw.o: FUZZ_CFLAGS += -fno-sanitize=shift-base
$(FUZZ_BUILD)/src/model/image_stb.o: FUZZ_CFLAGS += $(STB_IMAGE_UBSAN_OFF)

$(FUZZ_BUILD)/llhttp/%.o: $(LLHTTP_SRC_DIR)/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -I$(LLHTTP_INC_DIR) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -w -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_OBJS) $(FUZZ_LLHTTP_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz_%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -Itests $(FUZZ_CFLAGS) -DFUZZING -fsanitize=fuzzer -MMD -MP -o $@ $< $(FUZZ_LIB) $(LDLIBS)

# Each target runs on a scratch copy of its corpus (new inputs stay out of
# the repository until someone adds them on purpose: `build/fuzz/fuzz_json
# -merge=1 tests/corpus/json build/fuzz/corpus/json` adds the ones with new
# coverage), with tests/<target>.dict when there is one; a crash is written
# to build/fuzz/<target>-crash-* and fails this target.
fuzz-smoke: fuzz
	@n=$(words $(FUZZ_TARGETS)); secs=$$(( $(FUZZ_SECONDS) / n )); \
	[ $$secs -lt $(FUZZ_MIN_SECONDS) ] && secs=$(FUZZ_MIN_SECONDS); \
	for t in $(FUZZ_TARGETS); do \
	    name=$${t#fuzz_}; log=$(FUZZ_BUILD)/$$t.log; \
	    rm -rf $(FUZZ_BUILD)/corpus/$$name; mkdir -p $(FUZZ_BUILD)/corpus/$$name; \
	    cp tests/corpus/$$name/* $(FUZZ_BUILD)/corpus/$$name/; \
	    echo "== $$t for $$secs s (log: $$log)"; \
	    dict=; [ -f tests/$$t.dict ] && dict=-dict=tests/$$t.dict; \
	    if $(FUZZ_BUILD)/$$t -max_total_time=$$secs -timeout=10 -rss_limit_mb=2048 \
	        -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/$$t- $$dict \
	        $(FUZZ_BUILD)/corpus/$$name tests/corpus/$$name >$$log 2>&1; then \
	        grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss)' $$log; \
	    else \
	        tail -n 60 $$log; echo "$$t: FAILED, the input is in $(FUZZ_BUILD)/$$t-*"; exit 1; \
	    fi; \
	done

run:
	@tools/deps.sh --if-missing $(DEPS_CROSS)
	@$(MAKE) --no-print-directory $(BIN)
	@tools/run.sh $(BIN)

deps:
	@tools/deps.sh $(DEPS_CROSS)

weights:
	@weights/download.sh weights/clip-vit-base-patch32

# The JSON reader on a 10k x 512 upsert body (tools/bench_json.c); not part
# of `make test`.
bench-json: $(BUILD)/tools/bench_json
	$(BUILD)/tools/bench_json 10000 512 5
	$(BUILD)/tools/bench_json --unpacked 10000 512 5

$(BUILD)/tools/bench_json: tools/bench_json.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Engine write throughput, one write per commit vs 64 per group
# (tools/bench_write.c); not part of `make test`. The directory must be on
# the disk under test: the point is the cost of fsync.
BENCH_WRITE_DIR ?= $(or $(TMPDIR),/tmp)/vitrine_bench_write
bench-write: $(BUILD)/tools/bench_write
	@for c in "sync 1 1000" "64 1 1000" "sync 100 64" "64 100 64"; do \
	    rm -rf $(BENCH_WRITE_DIR) && mkdir -p $(BENCH_WRITE_DIR) && \
	    $(BUILD)/tools/bench_write $(BENCH_WRITE_DIR) $$c || exit 1; done; \
	rm -rf $(BENCH_WRITE_DIR)

# Collection snapshot and recover of 100k x 512 (tools/bench_snapshot.c);
# not part of `make test`. The build of the collection takes minutes.
BENCH_SNAPSHOT_DIR ?= $(or $(TMPDIR),/tmp)/vitrine_bench_snapshot
bench-snapshot: $(BUILD)/tools/bench_snapshot
	@rm -rf $(BENCH_SNAPSHOT_DIR) && mkdir -p $(BENCH_SNAPSHOT_DIR)
	$(BUILD)/tools/bench_snapshot $(BENCH_SNAPSHOT_DIR) 100000 512
	@rm -rf $(BENCH_SNAPSHOT_DIR)

# Memory, disk and startup of a server with full-size random ViT-B/32
# weights and 100k items (tools/bench_footprint.py); not part of `make
# test`. It takes several minutes; the numbers are in docs/operations.md.
bench-footprint: $(BIN)
	/usr/bin/python3 tools/bench_footprint.py --bin $(BIN)

$(BUILD)/tools/bench_snapshot: tools/bench_snapshot.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/tools/bench_write: tools/bench_write.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

clean:
	rm -rf build vitrine

-include $(LIB_OBJS:.o=.d) $(BUILD)/src/cmd/main.d $(TEST_BINS:=.d) $(FUZZ_OBJS:.o=.d) $(FUZZ_BINS:=.d)
