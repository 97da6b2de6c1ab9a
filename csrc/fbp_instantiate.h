/* Instantiates the core (fbp_core.template.h) for float and double under the
 * instruction set the including file targets, and the table of its entries,
 * fbp_kernels_<FBP_ISA>. The including file defines FBP_ISA and
 * FBP_ISA_NAME. */
#include "fbp_kernels.h"

#define FBP_T float
#define FBP_S f32
#define FBP_DOUBLE 0
#include "fbp_core.template.h"
#undef FBP_T
#undef FBP_S
#undef FBP_DOUBLE

#define FBP_T double
#define FBP_S f64
#define FBP_DOUBLE 1
#include "fbp_core.template.h"
#undef FBP_T
#undef FBP_S
#undef FBP_DOUBLE

#define FBP_TABLE_ENTRY(name, s) FBP_CAT(FBP_CAT(name, s), FBP_ISA)

const fbp_kernels FBP_CAT(fbp_kernels, FBP_ISA) = {
    FBP_ISA_NAME,
    FBP_TABLE_ENTRY(fbp_fit, f32),          FBP_TABLE_ENTRY(fbp_fit, f64),
    FBP_TABLE_ENTRY(fbp_predict, f32),      FBP_TABLE_ENTRY(fbp_predict, f64),
    FBP_TABLE_ENTRY(fbp_loss, f32),         FBP_TABLE_ENTRY(fbp_loss, f64),
    FBP_TABLE_ENTRY(fbp_gradient, f32),     FBP_TABLE_ENTRY(fbp_gradient, f64),
    FBP_TABLE_ENTRY(fbp_step, f32),         FBP_TABLE_ENTRY(fbp_step, f64),
    FBP_TABLE_ENTRY(fbp_fit_csr, f32),      FBP_TABLE_ENTRY(fbp_fit_csr, f64),
    FBP_TABLE_ENTRY(fbp_predict_csr, f32),  FBP_TABLE_ENTRY(fbp_predict_csr, f64),
    FBP_TABLE_ENTRY(fbp_loss_csr, f32),     FBP_TABLE_ENTRY(fbp_loss_csr, f64),
};
