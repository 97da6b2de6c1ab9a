/* Facts about a network's layout and its optimizer that do not depend on the
 * float type: derived once, when the network is described (fbp_net_init). */
#include <limits.h>

#include "fbp_blas.h"
#include "fbp_kernels.h"

static int check_net(const fbp_net *net)
{
    if (net->n_layers < 1) return FBP_NET_BAD_SIZES;
    for (ptrdiff_t l = 0; l <= net->n_layers; l++)
        if (net->sizes[l] < 1) return FBP_NET_BAD_SIZES;
    for (ptrdiff_t l = 0; l < net->n_layers; l++)
        if (net->activations[l] < FBP_IDENTITY || net->activations[l] > FBP_EXP)
            return FBP_NET_BAD_CODES;
    if (net->loss < FBP_SQUARED_ERROR || net->loss > FBP_POISSON) return FBP_NET_BAD_CODES;
    ptrdiff_t end = 0;
    for (ptrdiff_t l = 0; l < net->n_layers; l++) {
        if (net->w_offsets[l] != end) return FBP_NET_BAD_LAYOUT;
        end += net->sizes[l] * net->sizes[l + 1];
        if (net->b_offsets[l] >= 0) {
            if (net->b_offsets[l] != end) return FBP_NET_BAD_LAYOUT;
            end += net->sizes[l + 1];
        }
    }
    return FBP_NET_OK;
}

/* Rows per chunk of the matrix loop, whose `row` elements of workspace
 * each (input, target, outputs, deltas and the output layer's net input). */
static ptrdiff_t chunk_rows(ptrdiff_t row)
{
    const ptrdiff_t rows = FBP_CHUNK_ELEMS / row;
    return rows < FBP_ROWS_MIN ? FBP_ROWS_MIN : rows > FBP_CHUNK_ROWS ? FBP_CHUNK_ROWS : rows;
}

int fbp_net_init(fbp_net *net, ptrdiff_t *unit_offsets)
{
    const int status = check_net(net);
    if (status != FBP_NET_OK) return status;
    const ptrdiff_t L = net->n_layers, n_in = net->sizes[0], K = net->sizes[L];
    unit_offsets[0] = 0;
    for (ptrdiff_t l = 1; l <= L; l++) unit_offsets[l] = unit_offsets[l - 1] + net->sizes[l];
    net->unit_offsets = unit_offsets;
    const ptrdiff_t units = unit_offsets[L];
    net->n_params = net->b_offsets[L - 1] >= 0 ? net->b_offsets[L - 1] + K
                                               : net->w_offsets[L - 1] + K * net->sizes[L - 1];

    net->matrix_ok = 1;
    for (ptrdiff_t l = 0; l <= L; l++)
        if (net->sizes[l] > INT_MAX) net->matrix_ok = 0;
    /* Hidden blocks are unit-major there; softmax needs a sample's units. */
    for (ptrdiff_t l = 0; l + 1 < L; l++)
        if (net->activations[l] == FBP_SOFTMAX) net->matrix_ok = 0;

    fbp_sample_workspace *s = &net->sample_ws;
    s->out = 0;
    s->delta = s->out + units;
    s->z = s->delta + units;
    s->size = s->z + K;

    fbp_matrix_workspace *m = &net->matrix_ws;
    m->rows = chunk_rows(n_in + 2 * K + 2 * units);
    m->x = 0;
    m->y = m->x + m->rows * n_in;
    m->out = m->y + m->rows * K;
    m->delta = m->out + m->rows * units;
    m->z = m->delta + m->rows * units;
    m->size = m->z + m->rows * K;

    net->workspace_size = m->size > s->size ? m->size : s->size;
    return FBP_NET_OK;
}

int fbp_rows_pay(const fbp_net *net, ptrdiff_t rows)
{
    return rows >= FBP_ROWS_MIN && fbp_have_gemm() && net->matrix_ok;
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

int fbp_fused_sgd(const fbp_train_options *opt)
{
    return opt->special_paths && opt->batch_size <= 1 && fbp_plain_sgd(&opt->optim);
}
