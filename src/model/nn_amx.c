/*
 * nn_amx.c - the bf16 and int8 GEMM kernels on AMX tiles (Sapphire Rapids
 * and later Xeons), see nn_quant_kern.h for the tile contract.
 *
 * The packed weight layouts of nn_quant.h are already AMX's B operand: a
 * column block's 16 k groups (16 x 64 bytes: 16 outputs by one group of 2
 * bf16 or 4 int8) are one tile row after another, so a B tile is 1 KB of
 * the weight as stored, and an A tile is 16 activation rows of 32 bf16
 * (or 64 u8 codes). One tdpbf16ps / tdpbusd then does 16 x 16 x 32 (x 64)
 * multiply-adds, 16 times a 512-bit instruction's work.
 *
 * A call covers up to NN_AMX_TILE_M rows (two A tiles) by the panel's four
 * column blocks: two passes of two blocks, 2 x 2 accumulator tiles. Rows
 * past mb are computed from the padding rows nn_quant.c keeps in its
 * scratch and dropped. The reduction is padded to NN_Q_KPAD, a whole
 * number of A tiles.
 *
 * int8 sums are exact, so the AMX kernel gives the scalar reference's
 * bits. bf16: tdpbf16ps adds the products of a k group in its own order
 * and flushes denormals, so its sums may differ from the reference in the
 * last bits (the tests bound the difference instead).
 *
 * Linux gives a process the 8 KB of tile state only on request
 * (arch_prctl(ARCH_REQ_XCOMP_PERM)); nn_amx_usable asks once, and a
 * refusal (an old kernel, a seccomp filter) leaves the VNNI / BF16 kernels.
 */
#include "model/nn_quant_kern.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(__clang__) && \
    __GNUC__ >= 11
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define NN_AMX 1
#endif

#ifdef NN_AMX

#define NN_AMX_ARCH_REQ_XCOMP_PERM 0x1023
#define NN_AMX_XFEATURE_XTILEDATA 18

/* The tile configuration (palette 1): every tile 16 rows of 64 bytes. */
typedef struct {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} NnAmxConfig;

__attribute__((target("amx-tile"))) static inline void nn_amx_configure(void)
{
    /* Loaded per call: cheap next to a call's work, and nothing else in
     * the process can then leave a different configuration in place. */
    NnAmxConfig c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) {
        c.rows[t] = 16;
        c.colsb[t] = 64;
    }
    _tile_loadconfig(&c);
}

/*
 * int8: tiles 0-3 accumulate rows (0-15, 16-31) x blocks (b, b + 1), 4-5
 * hold the two A tiles, 6-7 the two B tiles. a's row stride is lda bytes,
 * a k step of 64 codes is 16 groups: 64 bytes of a row, 1 KB of a block.
 */
__attribute__((target("amx-tile,amx-int8"))) static void
nn_i8_amx(const uint8_t *a, size_t lda, int mb, const int8_t *w, size_t wblock, int kg,
          int32_t *acc)
{
    (void)mb;
    nn_amx_configure();
    for (int b = 0; b < NN_Q_PANEL; b += 2) {
        const int8_t *w0 = w + (size_t)b * wblock, *w1 = w0 + wblock;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int g = 0; g < kg; g += 16) {
            _tile_loadd(4, a + (size_t)g * 4, (long)lda);
            _tile_loadd(5, a + 16 * lda + (size_t)g * 4, (long)lda);
            _tile_loadd(6, w0 + (size_t)g * 64, 64);
            _tile_loadd(7, w1 + (size_t)g * 64, 64);
            _tile_dpbusd(0, 4, 6);
            _tile_dpbusd(1, 4, 7);
            _tile_dpbusd(2, 5, 6);
            _tile_dpbusd(3, 5, 7);
        }
        int32_t *c = acc + b * NN_Q_BLOCK;
        const long ldc = NN_Q_TILE_N * (long)sizeof(int32_t);
        _tile_stored(0, c, ldc);
        _tile_stored(1, c + NN_Q_BLOCK, ldc);
        _tile_stored(2, c + 16 * NN_Q_TILE_N, ldc);
        _tile_stored(3, c + 16 * NN_Q_TILE_N + NN_Q_BLOCK, ldc);
    }
}

/* bf16: the same with pairs: a's row stride is lda pairs (4 bytes each). */
__attribute__((target("amx-tile,amx-bf16"))) static void
nn_bf16_amx(const uint32_t *a, size_t lda, int mb, const uint32_t *w, size_t wblock, int kg,
            float *acc)
{
    (void)mb;
    nn_amx_configure();
    const long lda_b = (long)(lda * sizeof(uint32_t));
    for (int b = 0; b < NN_Q_PANEL; b += 2) {
        const uint32_t *w0 = w + (size_t)b * wblock, *w1 = w0 + wblock;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int g = 0; g < kg; g += 16) {
            _tile_loadd(4, a + g, lda_b);
            _tile_loadd(5, a + 16 * lda + g, lda_b);
            _tile_loadd(6, w0 + (size_t)g * NN_Q_BLOCK, 64);
            _tile_loadd(7, w1 + (size_t)g * NN_Q_BLOCK, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
        float *c = acc + b * NN_Q_BLOCK;
        const long ldc = NN_Q_TILE_N * (long)sizeof(float);
        _tile_stored(0, c, ldc);
        _tile_stored(1, c + NN_Q_BLOCK, ldc);
        _tile_stored(2, c + 16 * NN_Q_TILE_N, ldc);
        _tile_stored(3, c + 16 * NN_Q_TILE_N + NN_Q_BLOCK, ldc);
    }
}

/* nn_amx_usable: the CPU has the AMX feature (feature) and Linux granted
 * this process the tile state (asked once). */
static int nn_amx_usable(int int8)
{
    static int granted = -1;
    int g = __atomic_load_n(&granted, __ATOMIC_ACQUIRE);
    if (g < 0) {
        __builtin_cpu_init();
        g = 0;
        if (__builtin_cpu_supports("amx-tile"))
            g = syscall(SYS_arch_prctl, NN_AMX_ARCH_REQ_XCOMP_PERM, NN_AMX_XFEATURE_XTILEDATA) == 0;
        __atomic_store_n(&granted, g, __ATOMIC_RELEASE);
    }
    if (!g) return 0;
    return int8 ? __builtin_cpu_supports("amx-int8") : __builtin_cpu_supports("amx-bf16");
}

NnI8Kernel nn_i8_kernel_amx(void)
{
    return nn_amx_usable(1) ? nn_i8_amx : NULL;
}

NnBf16Kernel nn_bf16_kernel_amx(void)
{
    return nn_amx_usable(0) ? nn_bf16_amx : NULL;
}

#else

NnI8Kernel nn_i8_kernel_amx(void)
{
    return NULL;
}

NnBf16Kernel nn_bf16_kernel_amx(void)
{
    return NULL;
}

#endif
