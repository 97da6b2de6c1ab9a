/* Facts about a network's layout and its optimizer that do not depend on the
 * float type. */
#include <limits.h>

#include "fbp_blas.h"
#include "fbp_kernels.h"

static ptrdiff_t units_above_input(const fbp_net *net)
{
    ptrdiff_t units = 0;
    for (ptrdiff_t l = 1; l <= net->n_layers; l++) units += net->sizes[l];
    return units;
}

/* Workspace of one row of the matrix path: input, target, outputs, deltas
 * and the output layer's net input (split_rows in fbp_batch.template.h). */
static ptrdiff_t row_elements(const fbp_net *net)
{
    const ptrdiff_t K = net->sizes[net->n_layers];
    return net->sizes[0] + 2 * K + 2 * units_above_input(net);
}

ptrdiff_t fbp_chunk_rows(const fbp_net *net)
{
    const ptrdiff_t rows = FBP_CHUNK_ELEMS / row_elements(net);
    return rows < FBP_ROWS_MIN ? FBP_ROWS_MIN : rows > FBP_CHUNK_ROWS ? FBP_CHUNK_ROWS : rows;
}

ptrdiff_t fbp_workspace_size(const fbp_net *net)
{
    /* Per sample: must match split() in fbp_core.template.h. */
    const ptrdiff_t one = 2 * units_above_input(net) + net->sizes[net->n_layers];
    const ptrdiff_t rows = fbp_chunk_rows(net) * row_elements(net);
    return rows > one ? rows : one;
}

int fbp_rows_pay(const fbp_net *net, ptrdiff_t rows)
{
    if (rows < FBP_ROWS_MIN || !fbp_have_gemm()) return 0;
    for (ptrdiff_t l = 0; l <= net->n_layers; l++)
        if (net->sizes[l] > INT_MAX) return 0;
    /* Hidden blocks are unit-major there; softmax needs a sample's units. */
    for (ptrdiff_t l = 0; l + 1 < net->n_layers; l++)
        if (net->activations[l] == FBP_SOFTMAX) return 0;
    return 1;
}

int fbp_state_blocks(const fbp_optimizer_options *o)
{
    switch (o->kind) {
    case FBP_ADAM:
    case FBP_RPROP:
        return 2;
    default:
        return o->momentum != 0 ? 1 : 0;
    }
}

int fbp_plain_sgd(const fbp_optimizer_options *o)
{
    return o->kind == FBP_SGD && o->momentum == 0 && o->weight_decay == 0;
}
