/* Sparse input: X in CSR form, for the float type and instruction set of the
 * including file (fbp_core.template.h). Only the first layer sees X; its
 * products and its weights' update (or gradient) run over the stored
 * entries alone, here, and every other step is the dense loops' own:
 *   per sample   the first layer's net inputs, then forward with them in
 *                place (first_ready) and the step's other phases with x
 *                NULL (sample_step, whose backward then leaves the first
 *                layer's weights alone), then W_0[j, c] += alpha d_j v for
 *                each stored (c, v);
 *   matrix       likewise a chunk at a time around forward_rows and
 *                backward_rows (x NULL): Z_0 := X W_0^T and
 *                G_0 += D_0^T X over the stored entries.
 * Biases and optimizer steps are untouched: a stateful optimizer (momentum,
 * Adam, Rprop) still steps every parameter at the end of a batch, from a
 * gradient that is zero in the columns no sample of the batch stored, as
 * it would be for the same data dense. Plain SGD (fused per sample, or a
 * batch in one chunk) touches only the stored columns. Deferring the
 * steps of a column until a batch stores it (replaying them then, exactly)
 * would not pay for Adam: its step is bound by a square root and a
 * division per parameter per step, which a replay needs too, and only the
 * memory traffic would go (a replay in cache took 75-90% of a streamed step's
 * time: 100,000 x 32 weights, float64, AVX-512).
 *
 * Row r of X holds data[indptr[r]..indptr[r + 1]) in the columns indices[..]
 * of the same range, in any order; repeated columns add up. The loops
 * mirror fit_per_sample and fit_matrix, with a CSR row for a dense one.
 */

/* The rows of X as CSR. */
typedef struct {
    const T *data;
    const ptrdiff_t *indices;
    const ptrdiff_t *indptr;
} FBP_LOCAL(csr);

/* Net inputs of the first layer for one row:
 * nets[j] = sum over stored (c, v) of W_0[j, c] v, plus b_0[j]. */
static void FBP_LOCAL(csr_nets)(const fbp_net *net, const T *params, FBP_LOCAL(csr) X,
                                ptrdiff_t r, T *FBP_RESTRICT nets)
{
    const ptrdiff_t n_in = net->sizes[0], n_out = net->sizes[1];
    const ptrdiff_t start = X.indptr[r], nnz = X.indptr[r + 1] - start;
    const T *FBP_RESTRICT v = X.data + start;
    const ptrdiff_t *FBP_RESTRICT c = X.indices + start;
    const T *b = net->b_offsets[0] >= 0 ? params + net->b_offsets[0] : NULL;
    for (ptrdiff_t j = 0; j < n_out; j++) {
        const T *FBP_RESTRICT row = params + net->w_offsets[0] + j * n_in;
        T s = 0;
        for (ptrdiff_t k = 0; k < nnz; k++) s += row[c[k]] * v[k];
        nets[j] = b ? s + b[j] : s;
    }
}

/* dst's first-layer weights += alpha D_0^T X over n rows (row i is X's row
 * rows[i], or i without rows) at the stored entries; D_0[j, i] is
 * d[j * d_unit + i * d_row]. With `check`, returns nonzero if an updated
 * weight is not finite. */
static int FBP_LOCAL(csr_outer)(const fbp_net *net, T *dst, T alpha, FBP_LOCAL(csr) X,
                                const ptrdiff_t *rows, ptrdiff_t n, const T *d,
                                ptrdiff_t d_unit, ptrdiff_t d_row, int check)
{
    const ptrdiff_t n_in = net->sizes[0], n_out = net->sizes[1];
    int bad = 0;
    /* A row of weights at a time: its stored columns stay in cache. */
    for (ptrdiff_t j = 0; j < n_out; j++) {
        T *FBP_RESTRICT W = dst + net->w_offsets[0] + j * n_in;
        for (ptrdiff_t i = 0; i < n; i++) {
            const ptrdiff_t r = rows ? rows[i] : i;
            const T a = alpha * d[j * d_unit + i * d_row];
            for (ptrdiff_t k = X.indptr[r]; k < X.indptr[r + 1]; k++) {
                T *FBP_RESTRICT w = W + X.indices[k];
                *w += a * X.data[k];
                bad |= check && *w - *w != 0;
            }
        }
    }
    return bad;
}

/* One row's step, as sample_step (same arguments, x for row r of X). */
static int FBP_LOCAL(csr_step)(const fbp_net *net, T lr, int update_biases, T *params,
                               FBP_LOCAL(csr) X, ptrdiff_t r, const T *t, T weight,
                               FBP_LOCAL(work) w, T *grad, int check, double *E)
{
    FBP_LOCAL(csr_nets)(net, params, X, r, net->n_layers == 1 ? w.z : w.out);
    if (FBP_LOCAL(sample_step)(net, lr, update_biases, params, NULL, t, weight, w, grad,
                               NULL, 1, check, E))
        return 1;
    /* The first layer's deltas start the delta block (unit_offsets[0] = 0). */
    return FBP_LOCAL(csr_outer)(net, grad ? grad : params, grad ? 1 : -lr, X, &r, 1,
                                w.delta, 1, 0, check && !grad);
}

/* fit_per_sample with CSR rows. */
static double FBP_LOCAL(fit_csr_per_sample)(const fbp_net *net, const fbp_train_options *opt,
                                            T *params, FBP_LOCAL(csr) X, const T *Y,
                                            const T *sample_weight, const ptrdiff_t *order,
                                            ptrdiff_t n_samples, T *workspace, T *grad,
                                            T *state, ptrdiff_t *n_updates, ptrdiff_t *n_done)
{
    const ptrdiff_t K = net->sizes[net->n_layers];
    const ptrdiff_t batch = opt->batch_size > 1 ? opt->batch_size : 1;
    const int fused = fbp_fused_sgd(opt);
    FBP_LOCAL(work) w = FBP_LOCAL(split)(net, workspace);
    ptrdiff_t in_batch = opt->batch_done;
    double total = 0, E;
    *n_done = 0;
    for (ptrdiff_t s = 0; s < n_samples; s++) {
        const ptrdiff_t r = order[s];
        const T weight = sample_weight ? sample_weight[r] : 1;
        if (FBP_LOCAL(csr_step)(net, fused ? (T)opt->optim.lr : 0, fused && opt->update_biases,
                                params, X, r, Y + r * K, weight, w, fused ? NULL : grad,
                                fused && opt->check_params, &E))
            return total;
        total += E * opt->loss_scale;
        if (fused) {
            *n_updates += 1;
        } else if (++in_batch == batch || (s == n_samples - 1 && opt->finish)) {
            *n_updates += 1;
            if (FBP_LOCAL(optimizer_step)(net, opt, params, grad, state, in_batch, *n_updates))
                return total;
            in_batch = 0;
        }
        *n_done = s + 1;
    }
    return total;
}

/* The matrix loop's workspace without its block of gathered inputs, which
 * sparse rows never need: as many rows per chunk as the rest fits in the
 * net's workspace, up to FBP_CHUNK_ROWS (at least the dense loop's rows,
 * and a whole batch of 200 on wide inputs, whose dense chunks are short). */
static FBP_LOCAL(rows_work) FBP_LOCAL(csr_split_rows)(const fbp_net *net, T *ws)
{
    const ptrdiff_t K = net->sizes[net->n_layers], units = net->unit_offsets[net->n_layers];
    ptrdiff_t cap = net->workspace_size / (2 * K + 2 * units);
    cap = cap < FBP_CHUNK_ROWS ? cap : FBP_CHUNK_ROWS;
    FBP_LOCAL(rows_work) w = {cap, NULL, ws, ws + cap * K, ws + cap * (K + units),
                              ws + cap * (K + 2 * units)};
    return w;
}

/* forward_rows for the n rows rows[0..n) of X (0..n without rows): the
 * first layer's products over the stored entries, then the rest. */
static void FBP_LOCAL(csr_forward_rows)(const fbp_net *net, const T *params, FBP_LOCAL(csr) X,
                                        const ptrdiff_t *rows, ptrdiff_t n,
                                        FBP_LOCAL(rows_work) w, T *z, T *o)
{
    const ptrdiff_t n_in = net->sizes[0], n_out = net->sizes[1];
    /* A hidden first layer is unit-major in w.out, an output layer
     * sample-major in z (forward_rows adds the biases). */
    const int top = net->n_layers == 1;
    T *Z = top ? z : w.out;
    const ptrdiff_t unit = top ? 1 : n, row = top ? n_out : 1;
    for (ptrdiff_t j = 0; j < n_out; j++) {
        const T *FBP_RESTRICT W = params + net->w_offsets[0] + j * n_in;
        for (ptrdiff_t i = 0; i < n; i++) {
            const ptrdiff_t r = rows ? rows[i] : i;
            T s = 0;
            for (ptrdiff_t k = X.indptr[r]; k < X.indptr[r + 1]; k++)
                s += W[X.indices[k]] * X.data[k];
            Z[j * unit + i * row] = s;
        }
    }
    FBP_LOCAL(forward_rows)(net, params, NULL, n, w, z, o);
}

/* backward_rows for the first n of the `ld` rows csr_forward_rows ran. */
static void FBP_LOCAL(csr_backward_rows)(const fbp_net *net, const T *params, FBP_LOCAL(csr) X,
                                         const ptrdiff_t *rows, ptrdiff_t n, ptrdiff_t ld,
                                         FBP_LOCAL(rows_work) w, T *dst, T alpha, int biases)
{
    const int top = net->n_layers == 1;
    FBP_LOCAL(backward_rows)(net, params, NULL, n, ld, w, dst, alpha, biases);
    FBP_LOCAL(csr_outer)(net, dst, alpha, X, rows, n, w.delta, top ? 1 : ld,
                         top ? net->sizes[1] : 1, 0);
}

/* fit_matrix with CSR rows. */
static double FBP_LOCAL(fit_csr_matrix)(const fbp_net *net, const fbp_train_options *opt,
                                        T *params, FBP_LOCAL(csr) X, const T *Y,
                                        const T *sample_weight, const ptrdiff_t *order,
                                        ptrdiff_t n_samples, T *workspace, T *grad, T *state,
                                        ptrdiff_t *n_updates, ptrdiff_t *n_done)
{
    const fbp_optimizer_options *o = &opt->optim;
    const int plain = opt->special_paths && fbp_plain_sgd(o) && !opt->check_params;
    const ptrdiff_t batch = opt->batch_size, top = net->unit_offsets[net->n_layers - 1];
    FBP_LOCAL(rows_work) w = FBP_LOCAL(csr_split_rows)(net, workspace);
    ptrdiff_t in_batch = opt->batch_done;
    double total = 0;
    *n_done = 0;
    for (ptrdiff_t s = 0; s < n_samples;) {
        ptrdiff_t n = n_samples - s < batch - in_batch ? n_samples - s : batch - in_batch;
        n = n < w.cap ? n : w.cap;
        const ptrdiff_t *rows = order + s;
        FBP_LOCAL(csr_forward_rows)(net, params, X, rows, n, w, w.z, w.out + w.cap * top);
        const ptrdiff_t good = FBP_LOCAL(deltas_rows)(net, Y, sample_weight, rows, n, w,
                                                      opt->loss_scale, &total);
        if (good < n) {
            if (good > 0)
                FBP_LOCAL(csr_backward_rows)(net, params, X, rows, good, n, w, grad, 1, 1);
            *n_done = s + good;
            return total;
        }
        s += n;
        const int ends = in_batch + n == batch || (s == n_samples && opt->finish);
        if (plain && ends && in_batch == 0) {
            FBP_LOCAL(csr_backward_rows)(net, params, X, rows, n, n, w, params,
                                         -(T)o->lr / (T)n, opt->update_biases);
            *n_updates += 1;
        } else {
            FBP_LOCAL(csr_backward_rows)(net, params, X, rows, n, n, w, grad, 1, 1);
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

/* The outputs of the next rows of X from row r0 (of n_left): a chunk on
 * the matrix path (`matrix`), else one row. Points *o, *z and *d at their
 * outputs, net inputs and a scratch block for deltas, K apart (sample-major);
 * returns how many rows. */
static ptrdiff_t FBP_LOCAL(csr_outputs)(const fbp_net *net, const T *params, FBP_LOCAL(csr) X,
                                        ptrdiff_t r0, ptrdiff_t n_left, int matrix,
                                        T *workspace, const T **o, const T **z, T **d)
{
    if (matrix) {
        const FBP_LOCAL(rows_work) w = FBP_LOCAL(csr_split_rows)(net, workspace);
        const ptrdiff_t n = n_left < w.cap ? n_left : w.cap;
        const FBP_LOCAL(csr) chunk = {X.data, X.indices, X.indptr + r0};
        T *out = w.out + w.cap * net->unit_offsets[net->n_layers - 1];
        FBP_LOCAL(csr_forward_rows)(net, params, chunk, NULL, n, w, w.z, out);
        *o = out, *z = w.z, *d = w.delta;
        return n;
    }
    const FBP_LOCAL(work) w = FBP_LOCAL(split)(net, workspace);
    FBP_LOCAL(csr_nets)(net, params, X, r0, net->n_layers == 1 ? w.z : w.out);
    *o = FBP_LOCAL(forward)(net, params, NULL, w, 1);
    *z = w.z, *d = w.delta + (*o - w.out);
    return 1;
}

/* The table's entries for CSR input (fbp_kernels.h), picking a loop as
 * fbp_entries.template.h does. */
double FBP_ENTRY(fbp_fit_csr)(const fbp_net *net, const fbp_train_options *opt, T *params,
                              const T *data, const ptrdiff_t *indices, const ptrdiff_t *indptr,
                              const T *Y, const T *sample_weight, const ptrdiff_t *order,
                              ptrdiff_t n_samples, T *workspace, T *grad, T *state,
                              ptrdiff_t *n_updates, ptrdiff_t *n_done)
{
    const FBP_LOCAL(csr) X = {data, indices, indptr};
    if (grad && fbp_rows_pay(net, opt->batch_size))
        return FBP_LOCAL(fit_csr_matrix)(net, opt, params, X, Y, sample_weight, order,
                                         n_samples, workspace, grad, state, n_updates, n_done);
    return FBP_LOCAL(fit_csr_per_sample)(net, opt, params, X, Y, sample_weight, order,
                                         n_samples, workspace, grad, state, n_updates, n_done);
}

void FBP_ENTRY(fbp_predict_csr)(const fbp_net *net, const T *params, const T *data,
                                const ptrdiff_t *indices, const ptrdiff_t *indptr,
                                ptrdiff_t n_samples, T *out, T *workspace)
{
    const FBP_LOCAL(csr) X = {data, indices, indptr};
    const ptrdiff_t K = net->sizes[net->n_layers];
    const int matrix = fbp_rows_pay(net, n_samples);
    const T *o, *z;
    T *d;
    for (ptrdiff_t r = 0, n; r < n_samples; r += n) {
        n = FBP_LOCAL(csr_outputs)(net, params, X, r, n_samples - r, matrix, workspace, &o,
                                   &z, &d);
        memcpy(out + r * K, o, (size_t)(n * K) * sizeof(T));
    }
}

double FBP_ENTRY(fbp_loss_csr)(const fbp_net *net, const T *params, const T *data,
                               const ptrdiff_t *indices, const ptrdiff_t *indptr, const T *Y,
                               ptrdiff_t n_samples, T *workspace)
{
    const FBP_LOCAL(csr) X = {data, indices, indptr};
    const ptrdiff_t K = net->sizes[net->n_layers];
    const int matrix = fbp_rows_pay(net, n_samples);
    const T *o, *z;
    T *d;
    double total = 0;
    for (ptrdiff_t r = 0, n; r < n_samples; r += n) {
        n = FBP_LOCAL(csr_outputs)(net, params, X, r, n_samples - r, matrix, workspace, &o,
                                   &z, &d);
        for (ptrdiff_t i = 0; i < n; i++)
            total += FBP_LOCAL(output_deltas)(net, o + i * K, Y + (r + i) * K, z + i * K,
                                              d + i * K);
    }
    return total;
}
