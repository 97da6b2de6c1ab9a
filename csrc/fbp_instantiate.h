/* Instantiates the core for float and double under the instruction set the
 * including file targets, and the table of its entries, fbp_kernels_<FBP_ISA>.
 * The including file defines FBP_ISA and FBP_ISA_NAME. fit, predict and loss
 * are the _auto entries of fbp_batch.template.h: the matrix path where it
 * pays, else the per-sample loop of fbp_core.template.h; step is
 * fbp_step.template.h's. */
#include "fbp_kernels.h"

#define FBP_T float
#define FBP_S f32
#define FBP_DOUBLE 0
#include "fbp_core.template.h"
#include "fbp_batch.template.h"
#include "fbp_step.template.h"
#undef FBP_T
#undef FBP_S
#undef FBP_DOUBLE

#define FBP_T double
#define FBP_S f64
#define FBP_DOUBLE 1
#include "fbp_core.template.h"
#include "fbp_batch.template.h"
#include "fbp_step.template.h"
#undef FBP_T
#undef FBP_S
#undef FBP_DOUBLE

#define FBP_TABLE_ENTRY(name, s) FBP_CAT(FBP_CAT(name, s), FBP_ISA)

const fbp_kernels FBP_CAT(fbp_kernels, FBP_ISA) = {
    FBP_ISA_NAME,
    FBP_TABLE_ENTRY(fbp_fit_auto, f32),     FBP_TABLE_ENTRY(fbp_fit_auto, f64),
    FBP_TABLE_ENTRY(fbp_predict_auto, f32), FBP_TABLE_ENTRY(fbp_predict_auto, f64),
    FBP_TABLE_ENTRY(fbp_loss_auto, f32),    FBP_TABLE_ENTRY(fbp_loss_auto, f64),
    FBP_TABLE_ENTRY(fbp_gradient, f32), FBP_TABLE_ENTRY(fbp_gradient, f64),
    FBP_TABLE_ENTRY(fbp_step, f32),     FBP_TABLE_ENTRY(fbp_step, f64),
};
