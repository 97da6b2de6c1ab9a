/* The core built for AVX-512 (F, VL, BW, DQ) with 512-bit vectors; chosen at
 * run time only on CPUs and operating systems that support it
 * (fbp_dispatch.c). */
#include "fbp_kernels.h"
#if FBP_X86_MULTIVERSION
FBP_TARGET_PUSH(FBP_AVX512_TARGET)
#define FBP_ISA avx512
#define FBP_ISA_NAME "avx512"
#define FBP_ISA_AVX 1
#include "fbp_instantiate.h"
FBP_TARGET_POP
#endif
