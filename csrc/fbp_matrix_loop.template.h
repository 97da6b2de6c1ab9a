/* The matrix loop: many samples at once as BLAS matrix-matrix products.
 *
 * Included by fbp_core.template.h after the per-sample loop, so it is
 * compiled per float type and per instruction set and uses the helpers
 * before it (activate, scale_by_derivative, output_deltas, optimizer_step). The gemm itself is
 * the BLAS's (fbp_blas.h); what this file adds is the element-wise work
 * between the products, fused over whole blocks of a chunk.
 *
 * Samples go through in chunks of at most net->matrix_ws.rows rows (the
 * rows of a batch, or of a full batch a chunk at a time), each chunk as
 * FANN's phases with matrices for vectors, A_0 = the chunk's inputs:
 *   forward    Z_l := A_{l-1} W_l^T (one gemm), then per element
 *              A_l := f(Z_l + b_l);
 *   deltas     D_L and each row's loss by the per-sample formulas
 *              (output_deltas), rows scaled by their sample weights;
 *   backward   D_{l-1} := (D_l W_l) * f'(A_{l-1}) with the weights from
 *              before the update (none into the input), then
 *              G_W += D_l^T A_{l-1} (gemm into grad) and g_b += the column
 *              sums of D_l;
 *   update     optimizer_step at the end of each batch, as fit_per_sample
 *              does.
 * Results agree with the per-sample loop to rounding: only the order of
 * the sums inside the products differs.
 *
 * Layout: inputs, targets and the output layer's matrices hold a sample
 * per row (sample-major); hidden layers' outputs and deltas hold a unit per
 * row (unit-major), which makes OpenBLAS's products 5-10% faster at batch
 * 64 and up to 1.6x at batch 8 (fewer, cheaper packing copies) and keeps
 * the element-wise work on contiguous runs. Hidden layers are therefore
 * never softmax (net->matrix_ok is 0 for such networks).
 */
#include "fbp_blas.h"

/* A rows x cols matrix at p, stored row by row (cm = 0: element (i, j) at
 * p[i * ld + j]) or column by column (cm = 1: at p[j * ld + i]). */
typedef struct {
    const T *p;
    ptrdiff_t ld;
    int cm;
} FBP_LOCAL(mat);

static inline FBP_LOCAL(mat) FBP_LOCAL(mat_of)(const T *p, ptrdiff_t ld, int cm)
{
    FBP_LOCAL(mat) a = {p, ld, cm};
    return a;
}

static inline FBP_LOCAL(mat) FBP_LOCAL(transposed)(FBP_LOCAL(mat) a)
{
    a.cm = !a.cm;
    return a;
}

/* C (m x n) := alpha A (m x k) B (k x n) + beta C in any storage orders.
 * BLAS is column-major: a row-major operand is its transpose there, and a
 * row-major C is computed as C^T = B^T A^T. */
static void FBP_LOCAL(product)(T *C, ptrdiff_t ldc, int c_cm, FBP_LOCAL(mat) A,
                               FBP_LOCAL(mat) B, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                               T alpha, T beta)
{
    if (c_cm)
        FBP_LOCAL(fbp_gemm)(!A.cm, !B.cm, m, n, k, alpha, A.p, A.ld, B.p, B.ld, beta, C, ldc);
    else
        FBP_LOCAL(fbp_gemm)(B.cm, A.cm, n, m, k, alpha, B.p, B.ld, A.p, A.ld, beta, C, ldc);
}

/* Views of the workspace (net->matrix_ws). */
typedef struct {
    ptrdiff_t cap;  /* rows per chunk */
    T *x;           /* the chunk's inputs gathered, cap x n_in */
    T *y;           /* its targets gathered, cap x K */
    T *out;         /* outputs of layers 1..L, a block of cap x units each */
    T *delta;       /* dE/dnet of layers 1..L, likewise */
    T *z;           /* the output layer's net inputs, cap x K */
} FBP_LOCAL(rows_work);

static FBP_LOCAL(rows_work) FBP_LOCAL(split_rows)(const fbp_net *net, T *ws)
{
    const fbp_matrix_workspace *at = &net->matrix_ws;
    FBP_LOCAL(rows_work) w = {at->rows, ws + at->x, ws + at->y, ws + at->out, ws + at->delta,
                              ws + at->z};
    return w;
}

/* Layer l's input for n rows: the inputs x (sample-major) for the first
 * layer, else the unit-major outputs of layer l - 1, n apart. */
static inline FBP_LOCAL(mat) FBP_LOCAL(layer_in)(const fbp_net *net,
                                                 FBP_LOCAL(rows_work) w, const T *x,
                                                 ptrdiff_t l, ptrdiff_t below, ptrdiff_t n)
{
    if (l == 0) return FBP_LOCAL(mat_of)(x, net->sizes[0], 0);
    return FBP_LOCAL(mat_of)(w.out + w.cap * below, n, 1);
}

/* Phase 1 for the n rows of x (n_in apart): per layer one gemm, then the
 * biases and the activation over the block. Hidden outputs go to the
 * blocks of w.out, unit-major; the output layer's net inputs to z and its
 * outputs to o, sample-major (z == o computes them in place, when no loss
 * needs the net inputs). x NULL: the first layer's products are already in
 * place (sparse input, fbp_sparse.template.h). */
static void FBP_LOCAL(forward_rows)(const fbp_net *net, const T *params, const T *x,
                                    ptrdiff_t n, FBP_LOCAL(rows_work) w, T *z, T *o)
{
    const ptrdiff_t L = net->n_layers;
    for (ptrdiff_t l = 0; l < L; l++) {
        const ptrdiff_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        const ptrdiff_t below = net->unit_offsets[l];  /* units below layer l's block */
        const int top = l == L - 1, act = net->activations[l];
        const T *b = net->b_offsets[l] >= 0 ? params + net->b_offsets[l] : NULL;
        const FBP_LOCAL(mat) in = FBP_LOCAL(layer_in)(net, w, x, l, below - n_in, n);
        /* W^T is W read column by column. */
        const FBP_LOCAL(mat) Wt = FBP_LOCAL(mat_of)(params + net->w_offsets[l], n_in, 1);
        const int product = l > 0 || x;
        if (top) {
            if (product) FBP_LOCAL(product)(z, n_out, 0, in, Wt, n, n_out, n_in, 1, 0);
            for (ptrdiff_t r = 0; b && r < n; r++) {
                T *FBP_RESTRICT row = z + r * n_out;
                for (ptrdiff_t j = 0; j < n_out; j++) row[j] += b[j];
            }
            if (act == FBP_SOFTMAX)
                for (ptrdiff_t r = 0; r < n; r++)
                    FBP_LOCAL(activate)(act, z + r * n_out, o + r * n_out, n_out);
            else
                FBP_LOCAL(activate)(act, z, o, n * n_out);
        } else {
            T *Z = w.out + w.cap * below;
            if (product) FBP_LOCAL(product)(Z, n, 1, in, Wt, n, n_out, n_in, 1, 0);
            for (ptrdiff_t j = 0; b && j < n_out; j++) {
                T *FBP_RESTRICT unit = Z + j * n;
                const T bj = b[j];
                for (ptrdiff_t r = 0; r < n; r++) unit[r] += bj;
            }
            FBP_LOCAL(activate)(act, Z, Z, n * n_out);
        }
    }
}

/* dst's biases of a layer += alpha times the sum of its rows of deltas:
 * row by row for the sample-major output layer (in sample order, as the
 * per-sample loop adds them), unit by unit for a unit-major hidden one. */
static void FBP_LOCAL(add_bias_sums)(T *FBP_RESTRICT b, const T *FBP_RESTRICT D,
                                     ptrdiff_t n, ptrdiff_t ld, ptrdiff_t n_out, int cm,
                                     T alpha)
{
    if (cm) {
        for (ptrdiff_t j = 0; j < n_out; j++) {
            T s = 0;
            const T *FBP_RESTRICT unit = D + j * ld;
            FBP_SIMD_REDUCE(s)
            for (ptrdiff_t r = 0; r < n; r++) s += unit[r];
            b[j] += alpha * s;
        }
        return;
    }
    for (ptrdiff_t r = 0; r < n; r++) {
        const T *FBP_RESTRICT row = D + r * n_out;
        for (ptrdiff_t j = 0; j < n_out; j++) b[j] += alpha * row[j];
    }
}

/* Phases 3 and 4 for the first n of the `ld` rows that forward_rows ran,
 * whose output deltas are in place, from the top layer down: first
 * D_prev := (D W) * f'(A_prev) for every layer but the first, with W as it
 * was, then dst's weights += alpha D^T A and, with `biases`, dst's biases
 * += alpha times the sums of D's rows. dst is grad (alpha 1: the sums an
 * optimizer step takes) or params themselves (alpha -lr / n: plain SGD on
 * a batch of n rows, no gradient buffer needed). x NULL leaves the first
 * layer's weights to the caller (sparse input, fbp_sparse.template.h). */
static void FBP_LOCAL(backward_rows)(const fbp_net *net, const T *params, const T *x,
                                     ptrdiff_t n, ptrdiff_t ld, FBP_LOCAL(rows_work) w,
                                     T *dst, T alpha, int biases)
{
    const ptrdiff_t L = net->n_layers;
    for (ptrdiff_t l = L - 1; l >= 0; l--) {
        const ptrdiff_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        /* Units below layer l's block, and below its input's. */
        const ptrdiff_t off = net->unit_offsets[l], below = l > 0 ? net->unit_offsets[l - 1] : 0;
        const int top = l == L - 1;
        const FBP_LOCAL(mat) D = FBP_LOCAL(mat_of)(w.delta + w.cap * off,
                                                   top ? n_out : ld, !top);
        const FBP_LOCAL(mat) A = FBP_LOCAL(layer_in)(net, w, x, l, below, ld);
        const T *W = params + net->w_offsets[l];
        if (l > 0) {
            T *D_prev = w.delta + w.cap * below;
            FBP_LOCAL(product)(D_prev, ld, 1, D, FBP_LOCAL(mat_of)(W, n_in, 0), n, n_in,
                               n_out, 1, 0);
            for (ptrdiff_t i = 0; i < n_in; i++)
                FBP_LOCAL(scale_by_derivative)(net->activations[l - 1], A.p + i * ld,
                                               D_prev + i * ld, n);
        }
        if (l > 0 || x)
            FBP_LOCAL(product)(dst + net->w_offsets[l], n_in, 0, FBP_LOCAL(transposed)(D), A,
                               n_out, n_in, n, alpha, 1);
        if (biases && net->b_offsets[l] >= 0)
            FBP_LOCAL(add_bias_sums)(dst + net->b_offsets[l], D.p, n, D.ld, n_out, D.cm,
                                     alpha);
    }
}

/* Rows order[0..n) of M (m wide) as one block with rows m apart: M's own
 * rows when they are consecutive (an unshuffled epoch), else copies in buf. */
static const T *FBP_LOCAL(gather)(const T *M, ptrdiff_t m, const ptrdiff_t *order,
                                  ptrdiff_t n, T *buf)
{
    ptrdiff_t r = 1;
    while (r < n && order[r] == order[0] + r) r++;
    if (r == n) return M + order[0] * m;
    for (r = 0; r < n; r++) memcpy(buf + r * m, M + order[r] * m, (size_t)m * sizeof(T));
    return buf;
}

/* Phase 2 for the n rows of a chunk: each row's output deltas (times its
 * sample weight) and, with `total`, its loss times its weight and
 * loss_scale added to *total in order. Returns the number of rows before
 * the first whose loss is not finite (n when none). */
static ptrdiff_t FBP_LOCAL(deltas_rows)(const fbp_net *net, const T *Y,
                                        const T *sample_weight, const ptrdiff_t *order,
                                        ptrdiff_t n, FBP_LOCAL(rows_work) w,
                                        double loss_scale, double *total)
{
    const ptrdiff_t K = net->sizes[net->n_layers];
    const ptrdiff_t top = net->unit_offsets[net->n_layers - 1];
    const T *o = w.out + w.cap * top;
    T *d = w.delta + w.cap * top;
    const T *t = FBP_LOCAL(gather)(Y, K, order, n, w.y);
    for (ptrdiff_t r = 0; r < n; r++) {
        double E = FBP_LOCAL(output_deltas)(net, o + r * K, t + r * K, w.z + r * K,
                                            d + r * K);
        if (E - E != 0) return r;
        const T weight = sample_weight ? sample_weight[order[r]] : 1;
        if (weight != 1) {
            for (ptrdiff_t k = 0; k < K; k++) d[r * K + k] *= weight;
            E *= weight;
        }
        *total += E * loss_scale;
    }
    return n;
}

/* The batch loop of fbp_fit's contract (fbp_kernels.h) with chunks of
 * whole rows; a chunk never spans two batches, so each update sees exactly
 * its batch's sums. Plain SGD (no momentum, no decay) on a batch that is one
 * chunk updates params inside the backward products (a special path);
 * every other update goes through grad and optimizer_step. */
static double FBP_LOCAL(fit_matrix)(const fbp_net *net, const fbp_train_options *opt,
                                    T *params, const T *X, const T *Y,
                                    const T *sample_weight, const ptrdiff_t *order,
                                    ptrdiff_t n_samples, T *workspace, T *grad, T *state,
                                    ptrdiff_t *n_updates, ptrdiff_t *n_done)
{
    const fbp_optimizer_options *o = &opt->optim;
    const int plain = opt->special_paths && fbp_plain_sgd(o) && !opt->check_params;
    const ptrdiff_t n_in = net->sizes[0];
    const ptrdiff_t batch = opt->batch_size, top = net->unit_offsets[net->n_layers - 1];
    FBP_LOCAL(rows_work) w = FBP_LOCAL(split_rows)(net, workspace);
    ptrdiff_t in_batch = opt->batch_done;
    double total = 0;
    *n_done = 0;
    for (ptrdiff_t s = 0; s < n_samples;) {
        ptrdiff_t n = n_samples - s < batch - in_batch ? n_samples - s : batch - in_batch;
        n = n < w.cap ? n : w.cap;
        const T *x = FBP_LOCAL(gather)(X, n_in, order + s, n, w.x);
        FBP_LOCAL(forward_rows)(net, params, x, n, w, w.z, w.out + w.cap * top);
        const ptrdiff_t good = FBP_LOCAL(deltas_rows)(net, Y, sample_weight, order + s, n,
                                                      w, opt->loss_scale, &total);
        if (good < n) {
            /* A non-finite loss stops before its sample, as the per-sample
             * loop does: the rows before it still add their gradients. */
            if (good > 0) FBP_LOCAL(backward_rows)(net, params, x, good, n, w, grad, 1, 1);
            *n_done = s + good;
            return total;
        }
        s += n;
        const int ends = in_batch + n == batch || (s == n_samples && opt->finish);
        if (plain && ends && in_batch == 0) {
            FBP_LOCAL(backward_rows)(net, params, x, n, n, w, params, -(T)o->lr / (T)n,
                                     opt->update_biases);
            *n_updates += 1;
        } else {
            FBP_LOCAL(backward_rows)(net, params, x, n, n, w, grad, 1, 1);
            if (ends) {
                *n_updates += 1;
                if (FBP_LOCAL(optimizer_step)(net, opt, params, grad, state, in_batch + n,
                                              *n_updates))
                    return total;
            }
        }
        in_batch = ends ? 0 : in_batch + n;
        *n_done = s;
    }
    return total;
}

/* The matrix forms of predict and loss (fbp_entries.template.h picks). */
static void FBP_LOCAL(predict_matrix)(const fbp_net *net, const T *params, const T *X,
                                      ptrdiff_t n_samples, T *out, T *workspace)
{
    const ptrdiff_t n_in = net->sizes[0], K = net->sizes[net->n_layers];
    FBP_LOCAL(rows_work) w = FBP_LOCAL(split_rows)(net, workspace);
    for (ptrdiff_t s = 0; s < n_samples; s += w.cap) {
        const ptrdiff_t n = n_samples - s < w.cap ? n_samples - s : w.cap;
        /* The outputs land in place: no loss needs their net inputs. */
        FBP_LOCAL(forward_rows)(net, params, X + s * n_in, n, w, out + s * K, out + s * K);
    }
}

static double FBP_LOCAL(loss_matrix)(const fbp_net *net, const T *params, const T *X,
                                     const T *Y, ptrdiff_t n_samples, T *workspace)
{
    const ptrdiff_t n_in = net->sizes[0], K = net->sizes[net->n_layers];
    FBP_LOCAL(rows_work) w = FBP_LOCAL(split_rows)(net, workspace);
    T *o = w.out + w.cap * net->unit_offsets[net->n_layers - 1];
    double total = 0;
    for (ptrdiff_t s = 0; s < n_samples; s += w.cap) {
        const ptrdiff_t n = n_samples - s < w.cap ? n_samples - s : w.cap;
        FBP_LOCAL(forward_rows)(net, params, X + s * n_in, n, w, w.z, o);
        for (ptrdiff_t r = 0; r < n; r++)
            total += FBP_LOCAL(output_deltas)(net, o + r * K, Y + (s + r) * K, w.z + r * K,
                                              w.delta + r * K);
    }
    return total;
}
