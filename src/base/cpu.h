/*
 * cpu.h - what the CPU offers the SIMD kernels, detected at run time.
 *
 * The kernels choose themselves (vec.c, nn.c, safetensors.c); this module
 * answers the questions they share and names the answer for people:
 * `vitrine bench embed` and `vitrine bench ann` print cpu_describe() beside
 * the kernels in use, so a board can be checked against docs/arm64.md.
 *
 * On AArch64, Advanced SIMD (NEON) is part of the base ISA and is assumed
 * at compile time; the ARMv8.2+ extensions that differ between cores
 * (dotprod: SDOT/UDOT, i8mm: SMMLA/USMMLA, bf16: BFDOT/BFMMLA, fp16
 * arithmetic) are read from the kernel's hardware capability bits
 * (getauxval(AT_HWCAP), getauxval(AT_HWCAP2)), as Linux documents in
 * Documentation/arch/arm64/elf_hwcaps.rst. On x86 the same questions go to
 * __builtin_cpu_supports.
 */
#ifndef VITRINE_CPU_H
#define VITRINE_CPU_H

/* Features a kernel may ask for. */
typedef enum {
    CPU_NEON,    /* AArch64 Advanced SIMD (always on AArch64) */
    CPU_DOTPROD, /* AArch64 SDOT/UDOT (ARMv8.2 FEAT_DotProd) */
    CPU_I8MM,    /* AArch64 int8 matrix multiply (ARMv8.6 FEAT_I8MM) */
    CPU_BF16,    /* AArch64 BFloat16 (ARMv8.6 FEAT_BF16) */
    CPU_FP16,    /* AArch64 half-precision arithmetic (ARMv8.2 FEAT_FP16) */
    CPU_AVX2,    /* x86 AVX2 and FMA */
    CPU_AVX512F, /* x86 AVX-512 Foundation */
    CPU_FEATURE_COUNT
} CpuFeature;

/* cpu_has returns 1 when this CPU (and this build's architecture) has f. */
int cpu_has(CpuFeature f);

/* cpu_arch names the architecture the binary was built for: "x86_64",
 * "aarch64" or "other". */
const char *cpu_arch(void);

/* cpu_describe returns "aarch64: neon dotprod i8mm bf16 fp16" style text:
 * the architecture and the features of CpuFeature it has. Static storage,
 * filled once. */
const char *cpu_describe(void);

#endif
