/* Which builds of the core this binary holds and this CPU can run. */
#include "fbp_kernels.h"

extern const fbp_kernels fbp_kernels_baseline;

#if FBP_X86_MULTIVERSION
#include <cpuid.h>

extern const fbp_kernels fbp_kernels_avx2, fbp_kernels_avx512;

/* Asked of CPUID and XGETBV directly: __builtin_cpu_supports needs a runtime
 * symbol (__cpu_model) that Apple's toolchain lacks. */
static int os_saves(unsigned state)
{
    unsigned eax, edx;
    __asm__("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    (void)edx;
    return (eax & state) == state;
}

static int cpu_has(int path)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!(osxsave && avx && fma && os_saves(0x6))) return 0;   /* XMM, YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const int avx2 = (b >> 5) & 1;
    if (path == FBP_PATH_AVX2) return avx2;
    /* AVX-512 F, DQ, BW, VL, and the OS saving opmask and ZMM state. */
    const unsigned avx512 = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
    return avx2 && (b & avx512) == avx512 && os_saves(0xE6);
}
#endif

const fbp_kernels *fbp_path(int path)
{
    if (path == FBP_PATH_BASELINE) return &fbp_kernels_baseline;
#if FBP_X86_MULTIVERSION
    if (path == FBP_PATH_AVX2 && cpu_has(path)) return &fbp_kernels_avx2;
    if (path == FBP_PATH_AVX512 && cpu_has(path)) return &fbp_kernels_avx512;
#endif
    return NULL;
}
