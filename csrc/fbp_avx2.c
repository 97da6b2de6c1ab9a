/* The core built for AVX2 + FMA; chosen at run time only on CPUs that have
 * them (fbp_dispatch.c). Empty where the compiler cannot target x86 features
 * per file. */
#include "fbp_kernels.h"
#if FBP_X86_MULTIVERSION
FBP_TARGET_PUSH("avx2,fma")
#define FBP_ISA avx2
#define FBP_ISA_NAME "avx2"
#define FBP_ISA_AVX 1
#include "fbp_instantiate.h"
FBP_TARGET_POP
#endif
