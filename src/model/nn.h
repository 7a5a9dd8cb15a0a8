/*
 * nn.h - the transformer kernels CLIP needs: linear (with quick_gelu or
 * exact gelu fused), layernorm, softmax, multi-head attention. The only module that
 * sees cblas.h.
 *
 * Design. Every matrix is row-major float32. A linear layer stores its
 * weight as PyTorch does, (out, in), so y = x @ W^T + b: weights are used
 * straight from the mmap'd safetensors file, never repacked by us. Rows of
 * x are tokens; callers stack the tokens of a whole batch into one matrix
 * so one GEMM covers the batch. Many rows go to OpenBLAS's sgemm; few rows
 * (one image, one query) to a skinny AVX-512 kernel that does not pack the
 * weight (see nn.c). Attention runs per sequence and head on strided views
 * of q, k, v, spread over the threads. Element-wise kernels are written as
 * fixed-width blocks the compiler vectorises, with AVX2/AVX-512 clones
 * chosen at run time, so a portable binary still uses the wide units.
 *
 * A linear layer whose NnLinearOut.qw is set has its weight in bf16 or
 * int8 (converted at load, see nn_quant.h); nn_linear_multi hands it to
 * nn_quant.c, which uses the same thread pool.
 *
 * Threads: nn's own pool (nn_parallel) runs everything, large GEMMs as
 * column slices each computed by single-threaded OpenBLAS (OpenBLAS's own
 * idle threads would spin against the pool; see nn.c); nn_set_threads
 * sizes it. All kernels touch only
 * their arguments; a second caller while one runs a parallel region
 * simply runs serially.
 */
#ifndef VITRINE_NN_H
#define VITRINE_NN_H

#include <stddef.h>

/* Set (non-empty) in the environment, this makes nn use OpenBLAS for
 * every GEMM even on AVX-512 machines, the path other CPUs take. */
#define NN_ENV_NO_AVX512 "VITRINE_NN_NO_AVX512"

/* nn_set_threads sets the number of threads one kernel call uses (0 or
 * less: keep the default: OPENBLAS_NUM_THREADS, else one per CPU the
 * process may use, cgroup quotas counted). */
void nn_set_threads(int n);
int nn_get_threads(void);
/*
 * nn_parallel runs fn(ctx, begin, end, thread) over disjoint ranges
 * covering [0, units) on the kernel thread pool (nn_set_threads threads,
 * the caller included, at most max_threads when that is > 0) and returns
 * when all are done. thread (0 .. threads-1) identifies the running
 * thread, for per-thread scratch; a thread may get several ranges.
 * Regions do not nest: a call made while another region runs executes
 * serially on the caller (thread 0).
 */
typedef void (*NnTaskFn)(void *ctx, int begin, int end, int thread);
void nn_parallel(NnTaskFn fn, void *ctx, int units, int max_threads);
/* nn_parallel for GEMM panels: fewer, longer ranges of consecutive units,
 * so that a kernel prefetching ahead of its panel has the next one to
 * prefetch (see NN_GEMM_CHUNKS_PER_THREAD in nn.c). */
void nn_parallel_gemm(NnTaskFn fn, void *ctx, int units, int max_threads);

/* A one-line description of the BLAS build, for bench output and logs. */
const char *nn_blas_info(void);

/* nn_kernels names the GEMM and attention kernels this CPU runs ("gemm
 * avx512-skinny up to 128 rows, then openblas; attention avx512", "gemm
 * openblas; attention neon", ...), for `vitrine bench embed`. */
const char *nn_kernels(void);

/*
 * nn_linear: y (rows, out) = x (rows, in) @ w^T + b, where w is (out, in)
 * and b (out) may be NULL. With accumulate set, y += x @ w^T + b instead
 * (the residual connection fused into the GEMM's beta).
 */
void nn_linear(const float *x, int rows, int in, const float *w, const float *b, int out,
               float *y, int accumulate);

/* The activation nn_linear_multi applies to an output as it is computed:
 * quick_gelu x * sigmoid(1.702 * x) (OpenAI CLIP's), or the exact GELU
 * 0.5 * x * (1 + erf(x / sqrt(2))). */
typedef enum { NN_ACT_NONE = 0, NN_ACT_QUICK_GELU, NN_ACT_GELU } NnAct;

/* A weight converted to bf16 or int8 (nn_quant.h). */
typedef struct NnQWeight NnQWeight;

/* One output of nn_linear_multi: y (rows, out) = act(x @ w^T + b), or
 * with accumulate y = act(y + x @ w^T + b). With qw set, the weight is
 * qw (bf16 or int8, see nn_quant.h) and w is not read. */
typedef struct {
    const float *w; /* (out, in) */
    const float *b; /* (out) or NULL */
    int out;
    float *y; /* (rows, out), row stride ldy */
    int accumulate;
    NnAct act;
    int ldy; /* y's row stride in floats; 0 means out */
    const NnQWeight *qw; /* NULL: the float32 w */
} NnLinearOut;

/* nn_activate applies act to x[0..n) in place (NN_ACT_NONE: nothing). */
void nn_activate(float *x, size_t n, NnAct act);

/* At most this many outputs per nn_linear_multi call (q, k, v is three). */
#define NN_LINEAR_MAX_OUTS 4

/*
 * nn_linear_multi computes n (1..NN_LINEAR_MAX_OUTS) linear layers of the
 * same input in one parallel region: q, k and v projections as one job,
 * so the threads meet once instead of three times and the last chunks of
 * one projection overlap the first of the next. An activation is applied
 * to each slice of the output right after the GEMM wrote it, while it is
 * still in cache, instead of in a separate pass over memory. x (rows, in)
 * has row stride ldx floats (0 means in).
 */
void nn_linear_multi(const float *x, int ldx, int rows, int in, const NnLinearOut *outs, int n);

/*
 * nn_padded_ld returns a row stride of at least n floats for activation
 * buffers that feed a GEMM: n itself, unless n floats are a multiple of
 * 4 KB. Rows 4 KB apart map to the same L1 cache sets, so the skinny
 * kernel's six x rows and four w rows then fight over 8 ways (measured:
 * fc2, k = 3072, 11% slower than with a padded stride).
 */
int nn_padded_ld(int n);

/*
 * nn_sgemm_reference: y = x @ w^T computed by OpenBLAS with its own
 * threads (nn_get_threads of them), the machine's reference GEMM rate for
 * `vitrine bench embed`.
 */
void nn_sgemm_reference(const float *x, int rows, int in, const float *w, int out, float *y);

/*
 * nn_layernorm: per row, y = (x - mean) / sqrt(var + eps) * g + b, with the
 * biased variance (torch.nn.LayerNorm). x and y may be the same buffer.
 */
void nn_layernorm(const float *x, int rows, int dim, const float *g, const float *b, float eps,
                  float *y);


/*
 * nn_softmax_rows: softmax over the first cols[r] entries of each row of
 * s (rows, ld); with causal set, row r uses only columns 0..r and the rest
 * are set to 0 (the causal mask of a decoder).
 */
void nn_softmax_rows(float *s, int rows, int cols, int ld, int causal);

/*
 * nn_attention: multi-head scaled dot-product attention for one sequence
 * of t tokens. q, k, v are (t, heads * head_dim) with row stride ld_in;
 * out is (t, heads * head_dim) with row stride ld_out. scratch holds
 * NN_ATTENTION_SCRATCH(t, head_dim) floats. With causal set, token i
 * attends to tokens 0..i only.
 *   out[:, h] = softmax(q[:, h] @ k[:, h]^T / sqrt(head_dim)) @ v[:, h]
 */
#define NN_ATTENTION_PAD(t) (((t) + 15) / 16 * 16)
#define NN_ATTENTION_SCRATCH(t, head_dim) \
    (((size_t)(t) + (size_t)(head_dim)) * (size_t)NN_ATTENTION_PAD(t))
void nn_attention(const float *q, const float *k, const float *v, int ld_in, int t, int heads,
                  int head_dim, int causal, float *scratch, float *out, int ld_out);

/*
 * nn_attention_batch runs nn_attention for nseq sequences stacked in q, k,
 * v and out (all with row stride ld; sequence i is rows seq_off[i] ..
 * seq_off[i] + seq_len[i]), with the (sequence, head) pairs spread over
 * the thread pool. scratch holds `slots` areas of slot_floats floats (at
 * least NN_ATTENTION_SCRATCH(longest seq_len, head_dim)), one per thread;
 * at most `slots` threads run.
 */
void nn_attention_batch(const float *q, const float *k, const float *v, int ld, const int *seq_off,
                        const int *seq_len, int nseq, int heads, int head_dim, int causal,
                        float *scratch, size_t slot_floats, int slots, float *out);

/*
 * nn_attention_pooled is nn_attention_batch for one query per sequence:
 * q and out hold nseq rows (row stride ld), row i the query of sequence i,
 * which attends to every key of its sequence (k and v rows seq_off[i] ..
 * seq_off[i] + seq_len[i]). This is the last layer of a tower that pools
 * one token: only that token's output is used, so only its query is
 * computed. A causal tower must pool its last token, which sees every
 * key anyway, so no mask is needed.
 */
void nn_attention_pooled(const float *q, const float *k, const float *v, int ld,
                         const int *seq_off, const int *seq_len, int nseq, int heads,
                         int head_dim, float *scratch, size_t slot_floats, int slots, float *out);

/* nn_l2_normalize scales x (n) to unit length; a zero vector stays zero. */
void nn_l2_normalize(float *x, int n);

#endif
