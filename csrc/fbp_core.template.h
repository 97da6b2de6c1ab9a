/* The backprop core, written once for both float types and compiled once per
 * instruction set. The including file (fbp_instantiate.h) defines
 *   FBP_T       float or double
 *   FBP_S       f32 or f64 (suffix of every symbol for that type)
 *   FBP_DOUBLE  1 for double, 0 for float
 *   FBP_ISA     baseline, avx2 or avx512 (suffix of the exported entries)
 * and includes this body once per type (pywt's wt.template.h does the same).
 * Loops run over restrict pointers, a register's worth of values ("lanes")
 * at a time, for the instruction set the including file targets.
 *
 * The pieces, each using those before it:
 *   fbp_maths.template.h        lanes, exp, activations and their
 *                               derivatives, the loss of one sample
 *   fbp_row_kernels.template.h  products and fused update rows over a few
 *                               rows of a weight matrix
 *   fbp_optim.template.h        the optimizers' update at the end of a batch
 *   fbp_tiny.template.h         the tiny-network loop (plain SGD)
 *   fbp_sample_loop.template.h  the per-sample loop: start reading here
 *   fbp_matrix_loop.template.h  the matrix loop (BLAS products)
 *   fbp_entries.template.h      the table's entries, which pick a loop
 *   fbp_step.template.h         one sample's step for calls from Python,
 *                               checked before it is applied
 *   fbp_sparse.template.h       the entries for sparse (CSR) input
 */
#include "fbp_maths.template.h"
#include "fbp_row_kernels.template.h"
#include "fbp_optim.template.h"
#include "fbp_tiny.template.h"
#include "fbp_sample_loop.template.h"
#include "fbp_matrix_loop.template.h"
#include "fbp_entries.template.h"
#include "fbp_step.template.h"
#include "fbp_sparse.template.h"

/* The per-type macros of fbp_maths.template.h and fbp_optim.template.h. */
#undef T
#undef BITS
#undef LN2_HI
#undef LN2_LO
#undef EXP_MIN
#undef EXP_SHIFT
#undef EXP_BIAS
#undef EXP_MANT
#undef FBP_SQRT
#undef LANE
#undef FBP_PD_PS
#undef FBP_MAX_LANES
#undef LBITS
#undef FBP_MASK
#undef FBP_LANES
#undef FBP_LANE_BYTES
#undef FBP_HAVE_LANES
#undef FBP_AVX
