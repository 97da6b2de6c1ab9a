/* The per-sample loop: training one sample at a time, for the float type and
 * instruction set of the including file (fbp_core.template.h). Read it top
 * down: the loop (fit_per_sample), one sample's step, then the step's
 * phases in the order they run, FANN's four: forward (fann_run), output
 * deltas and loss (fann_compute_MSE), backward (fann_backpropagate_MSE) and
 * update (fann_update_weights), the last two fused into one pass over each
 * weight matrix (fbp_row_kernels.template.h). The update at the end of a
 * batch is the optimizer's (fbp_optim.template.h); tiny networks on plain
 * SGD take a loop of their own (fbp_tiny.template.h).
 */

/* Views of the workspace (net->sample_ws). */
typedef struct {
    T *out;    /* outputs of layers 1..L, concatenated */
    T *delta;  /* dE/dnet of layers 1..L, concatenated */
    T *z;      /* net input of the output layer (for the log losses) */
} FBP_LOCAL(work);

static inline FBP_LOCAL(work) FBP_LOCAL(split)(const fbp_net *net, T *ws)
{
    const fbp_sample_workspace *at = &net->sample_ws;
    FBP_LOCAL(work) w = {ws + at->out, ws + at->delta, ws + at->z};
    return w;
}

/* One sample's step and its phases, defined below the loop. */
static int FBP_LOCAL(sample_step)(const fbp_net *net, T lr, int update_biases,
                                  T *params, const T *x, const T *t, T weight,
                                  FBP_LOCAL(work) w, T *grad, const T *x_next,
                                  int first_ready, int check, double *E);
static inline const T *FBP_LOCAL(forward)(const fbp_net *net, const T *params,
                                          const T *x, FBP_LOCAL(work) w,
                                          int first_ready);
static inline double FBP_LOCAL(output_deltas)(const fbp_net *net, const T *o,
                                              const T *t, const T *z, T *d);
FBP_INLINE int FBP_LOCAL(backward)(const fbp_net *net, T *params, const T *x,
                                   FBP_LOCAL(work) w, T lr, int update_biases, int check,
                                   T *grad, const T *x_next);

/* The batch loop of fbp_fit's contract (fbp_kernels.h), a sample at a time:
 * each sample's gradient into grad and, at the end of a batch, the
 * optimizer's update; or, for plain per-sample SGD (fbp_fused_sgd), the
 * update inside the backward pass, with no grad. */
static double FBP_LOCAL(fit_per_sample)(const fbp_net *net, const fbp_train_options *opt,
                                        T *params, const T *X, const T *Y,
                                        const T *sample_weight, const ptrdiff_t *order,
                                        ptrdiff_t n_samples, T *workspace, T *grad, T *state,
                                        ptrdiff_t *n_updates, ptrdiff_t *n_done)
{
    const ptrdiff_t n_in = net->sizes[0], K = net->sizes[net->n_layers];
    const ptrdiff_t batch = opt->batch_size > 1 ? opt->batch_size : 1;
    const fbp_optimizer_options *o = &opt->optim;
    const int fused = fbp_fused_sgd(opt);
    FBP_LOCAL(work) w = FBP_LOCAL(split)(net, workspace);
    double total = 0, E;
    *n_done = 0;
#if FBP_HAVE_LANES
    if (fused && FBP_LOCAL(is_tiny)(net))
        return FBP_LOCAL(fit_tiny)(net, opt, params, X, Y, sample_weight, order, n_samples,
                                   n_updates, n_done);
#endif
    if (fused) {
        for (ptrdiff_t s = 0; s < n_samples; s++) {
            const T *x_next = s + 1 < n_samples ? X + order[s + 1] * n_in : NULL;
            const T weight = sample_weight ? sample_weight[order[s]] : 1;
            if (FBP_LOCAL(sample_step)(net, (T)o->lr, opt->update_biases, params,
                                       X + order[s] * n_in, Y + order[s] * K, weight,
                                       w, NULL, x_next, s > 0, opt->check_params, &E))
                return total;
            total += E * opt->loss_scale;
            *n_updates += 1;
            *n_done = s + 1;
        }
        return total;
    }
    ptrdiff_t in_batch = opt->batch_done;
    for (ptrdiff_t s = 0; s < n_samples; s++) {
        const T weight = sample_weight ? sample_weight[order[s]] : 1;
        if (FBP_LOCAL(sample_step)(net, 0, 0, params, X + order[s] * n_in,
                                   Y + order[s] * K, weight, w, grad, NULL, 0, 0, &E))
            return total;
        total += E * opt->loss_scale;
        if (++in_batch == batch || (s == n_samples - 1 && opt->finish)) {
            *n_updates += 1;
            if (FBP_LOCAL(optimizer_step)(net, opt, params, grad, state, in_batch,
                                          *n_updates))
                return total;
            in_batch = 0;
        }
        *n_done = s + 1;
    }
    return total;
}

/* One sample: forward, output deltas (times the sample's weight), backward
 * (and the update when grad is NULL, with step lr; x_next and first_ready as
 * for backward and forward). Stores the weighted loss in *E; returns nonzero,
 * before any update, if the loss is not finite, or (with check) if an update
 * left a parameter that is not. */
static int FBP_LOCAL(sample_step)(const fbp_net *net, T lr, int update_biases,
                                  T *params, const T *x, const T *t, T weight,
                                  FBP_LOCAL(work) w, T *grad, const T *x_next,
                                  int first_ready, int check, double *E)
{
    const T *o = FBP_LOCAL(forward)(net, params, x, w, first_ready);
    T *d_out = w.delta + (o - w.out);
    *E = FBP_LOCAL(output_deltas)(net, o, t, w.z, d_out);
    if (*E - *E != 0) return 1;
    if (weight != 1) {
        const ptrdiff_t K = net->sizes[net->n_layers];
        for (ptrdiff_t k = 0; k < K; k++) d_out[k] *= weight;
        *E *= weight;
    }
    return FBP_LOCAL(backward)(net, params, x, w, lr, update_biases, check, grad, x_next);
}

/* Phase 1: outputs of every layer for input x; returns the output layer's.
 * With first_ready, the first layer's net inputs are already in place (the
 * previous sample's update computed them, see sgd_rows_next): in w.z for a
 * single-layer network, else in w.out. */
static inline const T *FBP_LOCAL(forward)(const fbp_net *net, const T *params,
                                          const T *x, FBP_LOCAL(work) w,
                                          int first_ready)
{
    const T *in = x;
    T *out = w.out;
    const ptrdiff_t L = net->n_layers;
    for (ptrdiff_t l = 0; l < L; l++) {
        const ptrdiff_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        /* The output layer keeps its net inputs, for the log losses. */
        T *nets = l == L - 1 ? w.z : out;
        if (l > 0 || !first_ready) {
            FBP_LOCAL(matvec)(params + net->w_offsets[l], in, n_out, n_in, nets);
            if (net->b_offsets[l] >= 0) {
                const T *b = params + net->b_offsets[l];
                for (ptrdiff_t j = 0; j < n_out; j++) nets[j] += b[j];
            }
        }
        FBP_LOCAL(activate)(net->activations[l], nets, out, n_out);
        in = out;
        out += n_out;
    }
    return in;
}

/* Phase 2: the sample's loss, and the output layer's deltas dE/dnet:
 * o mass - t (for the cross-entropies that is dE/dz, z the net input of
 * their output activation), times f'(net) for the squared error. */
static inline double FBP_LOCAL(output_deltas)(const fbp_net *net, const T *o,
                                              const T *t, const T *z, T *d)
{
    const ptrdiff_t K = net->sizes[net->n_layers];
    T mass;
    const double E = FBP_LOCAL(sample_loss)(net, o, t, z, &mass);
    for (ptrdiff_t k = 0; k < K; k++) d[k] = o[k] * mass - t[k];
    if (net->loss == FBP_SQUARED_ERROR)
        FBP_LOCAL(scale_by_derivative)(net->activations[net->n_layers - 1], o, d, K);
    return E;
}

/* Phases 3 and 4 for one sample: walk the layers from the top, computing
 * the deltas of the layer below (none for the input layer) while updating.
 * With grad == NULL the update is applied at once (per-sample SGD, step
 * lr); otherwise dE/dparams is added to grad and params stay unchanged.
 * Given x_next (SGD only), the first layer's update also leaves the next
 * sample's net inputs to it in the workspace, where this sample's outputs of
 * that layer were (no longer needed by then). x NULL leaves the first
 * layer's weights alone (sparse input). With `check`, returns nonzero if an
 * updated parameter is not finite. */
FBP_INLINE int FBP_LOCAL(backward)(const fbp_net *net, T *params, const T *x,
                                      FBP_LOCAL(work) w, T lr,
                                      int update_biases, int check, T *grad,
                                      const T *x_next)
{
    const ptrdiff_t *units = net->unit_offsets;
    T *next_nets = net->n_layers == 1 ? w.z : w.out;
    int bad = 0;
    for (ptrdiff_t l = net->n_layers - 1; l >= 0; l--) {
        const ptrdiff_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        /* This layer's deltas, its input (x, or the outputs below) and
         * the deltas below, which it computes. */
        const T *d = w.delta + units[l];
        const T *a = l > 0 ? w.out + units[l - 1] : x;
        T *prev = l > 0 ? w.delta + units[l - 1] : NULL;
        T *W = params + net->w_offsets[l];
        ptrdiff_t j = 0;
        if (!a) {
            /* x NULL: a sparse input, whose weights fbp_sparse.template.h
             * updates after this pass. */
        } else if (grad) {
            T *G = grad + net->w_offsets[l];
            for (; j + 4 <= n_out; j += 4)
                FBP_LOCAL(grad_rows)(W + j * n_in, G + j * n_in, n_in, 4, a, d + j, prev,
                                     j == 0);
            for (; j < n_out; j++)
                FBP_LOCAL(grad_rows)(W + j * n_in, G + j * n_in, n_in, 1, a, d + j, prev,
                                     j == 0);
        } else if (l == 0 && x_next) {
            for (; j + 4 <= n_out; j += 4)
                bad |= FBP_LOCAL(sgd_rows_next)(W + j * n_in, n_in, 4, a, d + j, lr,
                                                x_next, next_nets + j, check);
            for (; j < n_out; j++)
                bad |= FBP_LOCAL(sgd_rows_next)(W + j * n_in, n_in, 1, a, d + j, lr,
                                                x_next, next_nets + j, check);
        } else {
            for (; j + 4 <= n_out; j += 4)
                bad |= FBP_LOCAL(sgd_rows)(W + j * n_in, n_in, 4, a, d + j, lr, prev,
                                           j == 0, check);
            for (; j < n_out; j++)
                bad |= FBP_LOCAL(sgd_rows)(W + j * n_in, n_in, 1, a, d + j, lr, prev,
                                           j == 0, check);
        }
        if (net->b_offsets[l] >= 0) {
            if (grad) {
                T *gb = grad + net->b_offsets[l];
                for (ptrdiff_t k = 0; k < n_out; k++) gb[k] += d[k];
            } else if (update_biases) {
                T *b = params + net->b_offsets[l];
                for (ptrdiff_t k = 0; k < n_out; k++) {
                    b[k] -= lr * d[k];
                    bad |= check && b[k] - b[k] != 0;
                }
            }
            if (l == 0 && x_next && !grad) {
                const T *b = params + net->b_offsets[l];
                for (ptrdiff_t k = 0; k < n_out; k++) next_nets[k] += b[k];
            }
        }
        if (prev) FBP_LOCAL(scale_by_derivative)(net->activations[l - 1], a, prev, n_in);
    }
    return bad;
}

/* The per-sample forms of predict and loss (fbp_entries.template.h picks). */
static void FBP_LOCAL(predict_per_sample)(const fbp_net *net, const T *params, const T *X,
                                          ptrdiff_t n_samples, T *out, T *workspace)
{
    const ptrdiff_t n_in = net->sizes[0], K = net->sizes[net->n_layers];
    FBP_LOCAL(work) w = FBP_LOCAL(split)(net, workspace);
    for (ptrdiff_t s = 0; s < n_samples; s++) {
        const T *o = FBP_LOCAL(forward)(net, params, X + s * n_in, w, 0);
        memcpy(out + s * K, o, (size_t)K * sizeof(T));
    }
}

static double FBP_LOCAL(loss_per_sample)(const fbp_net *net, const T *params,
                                         const T *X, const T *Y, ptrdiff_t n_samples,
                                         T *workspace)
{
    const ptrdiff_t n_in = net->sizes[0], K = net->sizes[net->n_layers];
    FBP_LOCAL(work) w = FBP_LOCAL(split)(net, workspace);
    double total = 0;
    for (ptrdiff_t s = 0; s < n_samples; s++) {
        const T *o = FBP_LOCAL(forward)(net, params, X + s * n_in, w, 0);
        total += FBP_LOCAL(output_deltas)(net, o, Y + s * K, w.z,
                                          w.delta + (o - w.out));
    }
    return total;
}
