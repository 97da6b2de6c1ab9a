/* The optimizers' update rules (fbp_optimizer_options in fbp_kernels.h says
 * what each computes), for the float type and instruction set of the
 * including file (fbp_core.template.h). Both loops, per sample and matrix,
 * end a batch with optimizer_step; plain per-sample SGD alone may skip it,
 * its update fused into the backward pass (fbp_row_kernels.template.h).
 */

#if FBP_DOUBLE
#define FBP_SQRT sqrt
#else
#define FBP_SQRT sqrtf
#endif

/* GCC's loop distribution would split update_range's g[i] = 0 back out of
 * the loop into a memset after it: a second pass over g, which cost 15-20%
 * of an Adam step over 3.2M parameters (AVX-512, float64). */
#if !defined(FBP_ONE_PASS)
#if defined(__GNUC__) && !defined(__clang__)
#define FBP_ONE_PASS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define FBP_ONE_PASS
#endif
#endif

/* One optimizer update of n parameters p from gradient sums g (times
 * scale: 1 / samples in the batch) and weight decay wd, then g := 0 in the
 * same pass; s1 and s2 are their blocks of state, t the number of this
 * update (fbp_optimizer_options says how each works). */
FBP_ONE_PASS
static void FBP_LOCAL(update_range)(const fbp_optimizer_options *o, T *FBP_RESTRICT p,
                                    T *FBP_RESTRICT g, T *FBP_RESTRICT s1,
                                    T *FBP_RESTRICT s2, ptrdiff_t n, T scale,
                                    ptrdiff_t t, T wd)
{
    const T lr = (T)o->lr, mom = (T)o->momentum;
    switch (o->kind) {
    case FBP_ADAM: {
        /* torch's step m / (sqrt(v) / root + eps), root = sqrt(1 - beta2^t),
         * multiplied through by root: the same number to rounding, and a
         * division fewer per parameter, which made the step 1.3-1.5x faster
         * (the divider bounds it). step m comes first, as in torch, so an
         * update overflows (diverges) where torch's does. */
        const double root = sqrt(1 - pow(o->beta2, (double)t));
        const T b1 = (T)o->beta1, b2 = (T)o->beta2, eps = (T)(o->eps * root);
        const T step = (T)(o->lr / (1 - pow(o->beta1, (double)t))), r = (T)root;
        for (ptrdiff_t i = 0; i < n; i++) {
            const T d = scale * g[i] + wd * p[i];
            const T m = b1 * s1[i] + (1 - b1) * d, v = b2 * s2[i] + (1 - b2) * d * d;
            g[i] = 0;
            s1[i] = m;
            s2[i] = v;
            p[i] -= step * m * r / (FBP_SQRT(v) + eps);
        }
        break;
    }
    case FBP_RPROP: {
        const T up = (T)o->eta_plus, down = (T)o->eta_minus;
        const T lo = (T)o->step_min, hi = (T)o->step_max;
        for (ptrdiff_t i = 0; i < n; i++) {
            T d = scale * g[i] + wd * p[i], step = s2[i];
            const T agree = d * s1[i];
            if (agree > 0) step = step * up < hi ? step * up : hi;
            else if (agree < 0) step = step * down > lo ? step * down : lo;
            d = agree < 0 ? 0 : d;
            g[i] = 0;
            p[i] -= d > 0 ? step : d < 0 ? -step : 0;
            s1[i] = d;
            s2[i] = step;
        }
        break;
    }
    default:
        if (mom == 0) {
            for (ptrdiff_t i = 0; i < n; i++) {
                p[i] -= lr * (scale * g[i] + wd * p[i]);
                g[i] = 0;
            }
        } else {
            const int nesterov = o->nesterov;
            for (ptrdiff_t i = 0; i < n; i++) {
                const T d = scale * g[i] + wd * p[i], b = mom * s1[i] + d;
                g[i] = 0;
                s1[i] = b;
                p[i] -= lr * (nesterov ? d + mom * b : b);
            }
        }
        break;
    }
}

/* The update at the end of a batch, layer by layer over weights (and biases
 * if update_biases), from gradient sums `grad` over `count` samples; grad := 0.
 * `state` (n_params per block) and t as for update_range. With
 * opt->check_params, returns nonzero if an updated parameter is not finite. */
static int FBP_LOCAL(optimizer_step)(const fbp_net *net, const fbp_train_options *opt,
                                     T *FBP_RESTRICT params, T *FBP_RESTRICT grad,
                                     T *state, ptrdiff_t count, ptrdiff_t t)
{
    const ptrdiff_t n_params = net->n_params;
    int bad = 0;
    for (ptrdiff_t l = 0; l < net->n_layers; l++) {
        const ptrdiff_t n_out = net->sizes[l + 1], n_w = n_out * net->sizes[l];
        const ptrdiff_t n_b = net->b_offsets[l] >= 0 ? n_out : 0;
        /* Biases follow their layer's weights (fbp_net_init checks it). */
        const ptrdiff_t n = n_w + (opt->update_biases ? n_b : 0), at = net->w_offsets[l];
        const T wd = (T)opt->optim.weight_decay;
        /* The biases, when they do not decay, as a second range. */
        const ptrdiff_t split = opt->optim.weights_only_decay ? n_w : n;
        T *p = params + at;
        FBP_LOCAL(update_range)(&opt->optim, p, grad + at, state ? state + at : NULL,
                                state ? state + n_params + at : NULL, split,
                                (T)1 / (T)count, t, wd);
        if (split < n)
            FBP_LOCAL(update_range)(&opt->optim, p + split, grad + at + split,
                                    state ? state + at + split : NULL,
                                    state ? state + n_params + at + split : NULL, n - split,
                                    (T)1 / (T)count, t, 0);
        if (opt->check_params)
            for (ptrdiff_t i = 0; i < n; i++) bad |= p[i] - p[i] != 0;
        /* Biases left as they are: their sums, which update_range did not clear. */
        memset(grad + at + n, 0, (size_t)(n_w + n_b - n) * sizeof(T));
    }
    return bad;
}
