/* The portable build of the core: whatever the compiler's default target is
 * (SSE2 on x86-64, NEON on arm64). */
#define FBP_ISA baseline
#define FBP_ISA_NAME "baseline"
#include "fbp_instantiate.h"
