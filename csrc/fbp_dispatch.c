/* Which builds of the core this binary holds and this CPU can run. */
#include "fbp_kernels.h"

extern const fbp_kernels fbp_kernels_baseline;
#if FBP_X86_MULTIVERSION
extern const fbp_kernels fbp_kernels_avx2, fbp_kernels_avx512;
#endif

const fbp_kernels *fbp_path(int path)
{
#if FBP_X86_MULTIVERSION
    __builtin_cpu_init();
    switch (path) {
    case FBP_PATH_AVX2:
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            return &fbp_kernels_avx2;
        return NULL;
    case FBP_PATH_AVX512:
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("fma"))
            return &fbp_kernels_avx512;
        return NULL;
    default:
        break;
    }
#endif
    return path == FBP_PATH_BASELINE ? &fbp_kernels_baseline : NULL;
}
