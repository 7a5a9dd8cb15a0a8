/*
 * cpu.c - run-time CPU feature detection (see cpu.h).
 *
 * Detection runs once under pthread_once; the answers never change while
 * the process runs.
 */
#include "base/cpu.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
/* The bits of Linux's arch/arm64/include/uapi/asm/hwcap.h, named here
 * because an older libc's headers may lack the newer ones. */
#define CPU_HWCAP_ASIMDHP (1ul << 10)
#define CPU_HWCAP_ASIMDDP (1ul << 20)
#define CPU_HWCAP2_I8MM (1ul << 13)
#define CPU_HWCAP2_BF16 (1ul << 14)
#endif

static const char *const cpu_names[CPU_FEATURE_COUNT] = {
    [CPU_NEON] = "neon", [CPU_DOTPROD] = "dotprod", [CPU_I8MM] = "i8mm", [CPU_BF16] = "bf16",
    [CPU_FP16] = "fp16", [CPU_AVX2] = "avx2+fma",   [CPU_AVX512F] = "avx512f",
};

static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static int cpu_flags[CPU_FEATURE_COUNT];
/* "aarch64:" and every name of cpu_names with a space: well under 128. */
static char cpu_text[128];

static void cpu_init(void)
{
#if defined(__aarch64__)
    cpu_flags[CPU_NEON] = 1; /* part of the base ISA */
#if defined(__linux__)
    unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    cpu_flags[CPU_DOTPROD] = (hw & CPU_HWCAP_ASIMDDP) != 0;
    cpu_flags[CPU_FP16] = (hw & CPU_HWCAP_ASIMDHP) != 0;
    cpu_flags[CPU_I8MM] = (hw2 & CPU_HWCAP2_I8MM) != 0;
    cpu_flags[CPU_BF16] = (hw2 & CPU_HWCAP2_BF16) != 0;
#endif
#elif defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    cpu_flags[CPU_AVX2] = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    cpu_flags[CPU_AVX512F] = __builtin_cpu_supports("avx512f");
#endif
    size_t len = (size_t)snprintf(cpu_text, sizeof cpu_text, "%s:", cpu_arch());
    for (int f = 0; f < CPU_FEATURE_COUNT && len < sizeof cpu_text; f++)
        if (cpu_flags[f])
            len += (size_t)snprintf(cpu_text + len, sizeof cpu_text - len, " %s", cpu_names[f]);
    if (!strchr(cpu_text, ' ') && len < sizeof cpu_text)
        snprintf(cpu_text + len, sizeof cpu_text - len, " baseline");
}

int cpu_has(CpuFeature f)
{
    if ((int)f < 0 || f >= CPU_FEATURE_COUNT) return 0;
    pthread_once(&cpu_once, cpu_init);
    return cpu_flags[f];
}

const char *cpu_arch(void)
{
#if defined(__aarch64__)
    return "aarch64";
#elif defined(__x86_64__)
    return "x86_64";
#else
    return "other";
#endif
}

const char *cpu_describe(void)
{
    pthread_once(&cpu_once, cpu_init);
    return cpu_text;
}
