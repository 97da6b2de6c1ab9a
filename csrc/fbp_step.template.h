/* One training step on one sample, for calls from Python (MLP.train_step and
 * MLP.learn_one), instantiated like fbp_core.template.h (same macros) and
 * included after it: it uses that file's helpers by name.
 *
 * The arithmetic is fbp_fit's at batch size 1 (the same helpers in the same
 * order), so a sequence of steps equals fit over the same samples. What
 * differs is how a diverging step is undone: fit copies every parameter
 * before a block of samples, which for one sample costs as much as the step
 * itself (784-128-10: ~59 us against ~6-9 us). Here a bound computed before
 * the update, from values the step has at hand, proves that no updated
 * parameter or state value can overflow; the update is then applied in place
 * unchecked. Only where the bound fails (a diverging model, or one close to
 * it) are params and state copied first and the update checked after, as
 * fbp_fit does.
 */
#include <float.h>

/* A loop with a max reduction, split across vector lanes as
 * FBP_SIMD_REDUCE does sums. */
#if defined(_OPENMP) || defined(__clang__) || defined(__GNUC__)
#define FBP_SIMD_MAX(...) FBP_PRAGMA(omp simd reduction(max : __VA_ARGS__))
#else
#define FBP_SIMD_MAX(...)
#endif


/* A T's bits as a signed integer (its sign bit is always cleared here), the
 * mask that clears the sign bit, and the bits of infinity. */
#if FBP_DOUBLE
#define STEP_BITS int64_t
#define STEP_ABS INT64_MAX
#define STEP_INF ((int64_t)0x7ff0000000000000)
#else
#define STEP_BITS int32_t
#define STEP_ABS INT32_MAX
#define STEP_INF ((int32_t)0x7f800000)
#endif

/* The bound's ceilings. STEP_LIMIT: the largest finite T over 16, room for
 * the rounding of the computed values (each product and sum a relative
 * error far below 2) on top of exact bounds. STEP_MOVE: a sixteenth of half
 * the gap between the largest finite T and the next power of 2 (its
 * rounding to infinity): w - s, rounded, is finite for every finite w
 * whenever |s| is below half that gap, so a move below STEP_MOVE cannot
 * overflow a finite parameter, however large. */
#if FBP_DOUBLE
#define STEP_LIMIT (DBL_MAX / 16)
#define STEP_MOVE 0x1p966
#else
#define STEP_LIMIT ((double)FLT_MAX / 16)
#define STEP_MOVE 0x1p99
#endif

/* Runs shorter than this are measured by max_bits_short. */
#define STEP_SHORT 32

/* |v|'s bits as an integer (as STEP_BITS describes). */
FBP_INLINE STEP_BITS FBP_LOCAL(abs_bits)(const T *v)
{
    STEP_BITS u;
    memcpy(&u, v, sizeof u);
    return u & STEP_ABS;
}

/* The bits of max |p[i]| over a short run, in one scalar loop: entering
 * the vector loop below costs more there (a small model's step measures
 * several such runs: its inputs, net inputs and deltas). */
FBP_INLINE STEP_BITS FBP_LOCAL(max_bits_short)(const T *p, ptrdiff_t n)
{
    STEP_BITS m = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        const STEP_BITS u = FBP_LOCAL(abs_bits)(p + i);
        m = u > m ? u : m;
    }
    return m;
}

/* The bits of max |p[i]| over n values. Compared as integers, |p[i]|'s
 * bits, which order as the values do, with infinity and NaN above every
 * finite value: an integer max takes a cycle where a float max (or a sum
 * that catches NaN) would hold up the loop for four. The four quarters go
 * through in one loop, whose own counting would otherwise cost as much as
 * its work. */
static STEP_BITS FBP_LOCAL(max_bits)(const T *p, ptrdiff_t n)
{
    const ptrdiff_t q = n / 4;
    STEP_BITS m0 = 0, m1 = 0, m2 = 0, m3 = 0;
    FBP_SIMD_MAX(m0, m1, m2, m3)
    for (ptrdiff_t i = 0; i < q; i++) {
        const STEP_BITS u0 = FBP_LOCAL(abs_bits)(p + i), u1 = FBP_LOCAL(abs_bits)(p + q + i);
        const STEP_BITS u2 = FBP_LOCAL(abs_bits)(p + 2 * q + i);
        const STEP_BITS u3 = FBP_LOCAL(abs_bits)(p + 3 * q + i);
        m0 = u0 > m0 ? u0 : m0;
        m1 = u1 > m1 ? u1 : m1;
        m2 = u2 > m2 ? u2 : m2;
        m3 = u3 > m3 ? u3 : m3;
    }
    const STEP_BITS rest = FBP_LOCAL(max_bits_short)(p + 4 * q, n - 4 * q);
    m0 = m1 > m0 ? m1 : m0;
    m2 = m3 > m2 ? m3 : m2;
    m0 = m2 > m0 ? m2 : m0;
    return rest > m0 ? rest : m0;
}

/* max |p[i]| over n values (0 when n is 0), or infinity if one is NaN or
 * infinite. */
FBP_INLINE double FBP_LOCAL(max_abs)(const T *p, ptrdiff_t n)
{
    const STEP_BITS m = n < STEP_SHORT ? FBP_LOCAL(max_bits_short)(p, n)
                                       : FBP_LOCAL(max_bits)(p, n);
    if (m >= STEP_INF) return INFINITY;
    T top;
    memcpy(&top, &m, sizeof top);
    return top;
}

/* 1 if x and t are finite and t is a target the loss is defined for (the
 * checks of MLP._sample, for calls that skipped them). */
static int FBP_LOCAL(step_inputs_ok)(const fbp_net *net, const T *x, const T *t)
{
    const ptrdiff_t n_in = net->sizes[0], K = net->sizes[net->n_layers];
    int ok = FBP_LOCAL(max_abs)(x, n_in) <= DBL_MAX && FBP_LOCAL(max_abs)(t, K) <= DBL_MAX;
    for (ptrdiff_t k = 0; k < K; k++) {
        if (net->loss == FBP_BINARY_CROSS_ENTROPY) ok &= t[k] >= 0 && t[k] <= 1;
        if (net->loss == FBP_CROSS_ENTROPY) ok &= t[k] >= 0;
    }
    return ok;
}

/* out[r] := W_r . x for the R (8 or 4) rows starting at W (stride n),
 * each summed exactly as dot4 sums it (the same terms in the same order, so
 * learn_one's outputs are predict's, bit for bit), eight rows at a time:
 * eight sums in flight hide the multiply-add's latency, on which dot4's
 * four wait. */
FBP_INLINE void FBP_LOCAL(dot_rows)(const T *FBP_RESTRICT W, const T *FBP_RESTRICT x,
                                    ptrdiff_t n, ptrdiff_t R, T *FBP_RESTRICT out)
{
    const LANE zero = {0};
    LANE sum[8];
    for (ptrdiff_t r = 0; r < 8; r++) sum[r] = zero;
    ptrdiff_t i = 0;
    for (; i + FBP_LANES <= n; i += FBP_LANES) {
        const LANE xi = FBP_LOCAL(load_lanes)(x + i);
        for (ptrdiff_t r = 0; r < R; r++) sum[r] += FBP_LOCAL(load_lanes)(W + r * n + i) * xi;
    }
    for (ptrdiff_t r = 0; r < R; r++) {
        T t = FBP_LOCAL(lane_sum)(sum[r]);
        for (ptrdiff_t k = i; k < n; k++) t += W[r * n + k] * x[k];
        out[r] = t;
    }
}

/* forward(net, params, x, w, 0), which also finds what sgd_step_safe
 * needs to know of the parameters: *M := the largest |weight| of the layers
 * above the first (which carry the deltas down), or infinity if a parameter
 * is not finite. A weight or bias that is NaN or infinite leaves its unit's
 * net input so (0 times infinity is NaN), so checking the net inputs finds
 * one without reading the parameters again. The sums are matvec's, rows in
 * fours as dot4 sums them (here eight at a time), the last few by dot; the
 * weights are measured right after, from the L1 cache. */
static const T *FBP_LOCAL(forward_measured)(const fbp_net *net, const T *params,
                                            const T *x, FBP_LOCAL(work) w, double *M)
{
    const T *in = x;
    T *out = w.out;
    const ptrdiff_t L = net->n_layers;
    double top = 0;
    for (ptrdiff_t l = 0; l < L; l++) {
        const ptrdiff_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        const T *W = params + net->w_offsets[l];
        T *nets = l == L - 1 ? w.z : out;
        for (ptrdiff_t j = 0; j < n_out;) {
            const ptrdiff_t rows = n_out - j >= 8 ? 8 : n_out - j >= 4 ? 4 : 1;
            /* Constant row counts, so that the sums stay in registers. */
            if (rows == 8)
                FBP_LOCAL(dot_rows)(W + j * n_in, in, n_in, 8, nets + j);
            else if (rows == 4)
                FBP_LOCAL(dot_rows)(W + j * n_in, in, n_in, 4, nets + j);
            else
                nets[j] = FBP_LOCAL(dot)(W + j * n_in, in, n_in);
            if (l > 0) {
                const double m = FBP_LOCAL(max_abs)(W + j * n_in, rows * n_in);
                top = m > top ? m : top;
            }
            j += rows;
        }
        if (net->b_offsets[l] >= 0) {
            const T *b = params + net->b_offsets[l];
            for (ptrdiff_t k = 0; k < n_out; k++) nets[k] += b[k];
        }
        if (FBP_LOCAL(max_abs)(nets, n_out) > DBL_MAX) top = INFINITY;
        FBP_LOCAL(activate)(net->activations[l], nets, out, n_out);
        in = out;
        out += n_out;
    }
    *M = top;
    return in;
}

/* 1 if per-sample SGD at rate lr, after forward_measured (M as it says)
 * and output_deltas, can make no parameter NaN or infinite. Layer l's
 * update moves no weight by more than lr D A (D = max|delta| of its units,
 * A = max|input|) and no bias by more than lr D, which must stay below
 * STEP_MOVE; the deltas of the layer below are at most n_out M D |f'|,
 * |f'| <= 1 for every hidden activation (sigmoid's 1/4, tanh's, relu's,
 * leaky_relu's, identity's), doubled here for the rounding of the sums. */
static int FBP_LOCAL(sgd_step_safe)(const fbp_net *net, const T *x, FBP_LOCAL(work) w,
                                    double M, double lr)
{
    const ptrdiff_t L = net->n_layers, *units = net->unit_offsets;
    double D = FBP_LOCAL(max_abs)(w.delta + units[L - 1], net->sizes[L]);
    if (!(M <= DBL_MAX)) return 0;
    for (ptrdiff_t l = L - 1; l >= 0; l--) {
        const T *a = l > 0 ? w.out + units[l - 1] : x;
        const double A = FBP_LOCAL(max_abs)(a, net->sizes[l]);
        if (!(D < STEP_LIMIT && lr * D * (A > 1 ? A : 1) < STEP_MOVE)) return 0;
        D *= 2.0 * (double)net->sizes[l + 1] * M;
    }
    return 1;
}

/* 1 if the optimizer update (update_range, update number t) from gradient
 * g leaves every parameter and state value below STEP_LIMIT. With P, G and
 * S the largest |params|, |g| and |state| (per block), the update's gradient
 * is at most D = G + weight_decay P; SGD's b at most momentum S + D and its
 * step lr (D + b); Adam's m at most S1 + D, v at most S2 + D^2 and its step
 * lr / (1 - beta1^t) m / eps. Rprop is always checked after. */
static int FBP_LOCAL(optimizer_step_safe)(const fbp_optimizer_options *o, const T *params,
                                          const T *g, const T *state, ptrdiff_t n,
                                          ptrdiff_t t)
{
    const double P = FBP_LOCAL(max_abs)(params, n);
    const double D = FBP_LOCAL(max_abs)(g, n) + o->weight_decay * P;
    double moved, kept;
    switch (o->kind) {
    case FBP_ADAM: {
        const double m = FBP_LOCAL(max_abs)(state, n) + D;
        const double v = FBP_LOCAL(max_abs)(state + n, n) + D * D;
        moved = o->lr / (1 - pow(o->beta1, (double)t)) * m / o->eps;
        kept = m > v ? m : v;
        break;
    }
    case FBP_SGD: {
        const double b = (o->momentum != 0 ? o->momentum * FBP_LOCAL(max_abs)(state, n) : 0) + D;
        moved = o->lr * (D + b);
        kept = b;
        break;
    }
    default:
        return 0;
    }
    return P + moved < STEP_LIMIT && kept < STEP_LIMIT;
}

/* Plain per-sample SGD, fit's fused update. out as for fbp_step. */
static int FBP_LOCAL(sgd_step)(const fbp_net *net, const fbp_train_options *opt, T *params,
                               const T *x, const T *t, FBP_LOCAL(work) w, T *undo, T *out,
                               double *E)
{
    const ptrdiff_t n = net->n_params, K = net->sizes[net->n_layers];
    double M;
    const T *o = FBP_LOCAL(forward_measured)(net, params, x, w, &M);
    *E = FBP_LOCAL(output_deltas)(net, o, t, w.z, w.delta + (o - w.out));
    if (*E - *E != 0) return FBP_STEP_DIVERGED;
    if (out) memcpy(out, o, (size_t)K * sizeof(T));
    const int safe = FBP_LOCAL(sgd_step_safe)(net, x, w, M, opt->optim.lr);
    if (!safe) memcpy(undo, params, (size_t)n * sizeof(T));
    if (FBP_LOCAL(backward)(net, params, x, w, (T)opt->optim.lr, opt->update_biases, !safe,
                            NULL, NULL)) {
        memcpy(params, undo, (size_t)n * sizeof(T));
        return FBP_STEP_DIVERGED;
    }
    return FBP_STEP_OK;
}

/* Any other optimizer: the gradient into grad (zeros), then one update
 * (number t) of params and state, as fbp_fit's batch loop does at batch
 * size 1. */
static int FBP_LOCAL(optimizer_one)(const fbp_net *net, const fbp_train_options *opt,
                                    T *params, const T *x, const T *t, FBP_LOCAL(work) w,
                                    T *grad, T *state, ptrdiff_t n_updates, T *undo, T *out,
                                    double *E)
{
    const ptrdiff_t n = net->n_params, K = net->sizes[net->n_layers];
    const ptrdiff_t n_state = fbp_state_blocks(&opt->optim) * n;
    /* Refused before it touches grad when the loss is not finite. */
    if (FBP_LOCAL(sample_step)(net, 0, 0, params, x, t, 1, w, grad, NULL, 0, 0, E))
        return FBP_STEP_DIVERGED;
    if (out) memcpy(out, w.out + net->unit_offsets[net->n_layers - 1], (size_t)K * sizeof(T));
    fbp_train_options checked = *opt;
    checked.check_params = !FBP_LOCAL(optimizer_step_safe)(&opt->optim, params, grad, state,
                                                           n, n_updates);
    if (checked.check_params) {
        memcpy(undo, params, (size_t)n * sizeof(T));
        if (n_state) memcpy(undo + n, state, (size_t)n_state * sizeof(T));
    }
    if (FBP_LOCAL(optimizer_step)(net, &checked, params, grad, state, 1, n_updates)) {
        memcpy(params, undo, (size_t)n * sizeof(T));
        if (n_state) memcpy(state, undo + n, (size_t)n_state * sizeof(T));
        return FBP_STEP_DIVERGED;
    }
    return FBP_STEP_OK;
}

#if FBP_HAVE_LANES
/* Plain SGD on a tiny network: fit's own loop (fit_tiny) on the one sample,
 * checked after, as fbp_fit does: such a network's parameters cost next to
 * nothing to copy. */
static int FBP_LOCAL(tiny_step)(const fbp_net *net, const fbp_train_options *opt,
                                T *params, const T *x, const T *t, FBP_LOCAL(work) w,
                                T *undo, T *out, double *E)
{
    const ptrdiff_t n = net->n_params, K = net->sizes[net->n_layers];
    const ptrdiff_t first = 0;
    ptrdiff_t n_updates = 0, done;
    fbp_train_options one = *opt;
    one.loss_scale = 1;
    one.check_params = 1;
    if (out) memcpy(out, FBP_LOCAL(forward)(net, params, x, w, 0), (size_t)K * sizeof(T));
    memcpy(undo, params, (size_t)n * sizeof(T));
    *E = FBP_LOCAL(fit_tiny)(net, &one, params, x, t, NULL, &first, 1, &n_updates, &done);
    if (done == 1) return FBP_STEP_OK;
    memcpy(params, undo, (size_t)n * sizeof(T));
    return FBP_STEP_DIVERGED;
}
#endif

int FBP_ENTRY(fbp_step)(const fbp_net *net, const fbp_train_options *opt, T *params,
                        const T *x, const T *t, T *workspace, T *grad, T *state,
                        ptrdiff_t *n_updates, T *undo, T *out, double *E)
{
    FBP_LOCAL(work) w = FBP_LOCAL(split)(net, workspace);
    int status;
    *E = 0;
    if (!FBP_LOCAL(step_inputs_ok)(net, x, t)) return FBP_STEP_BAD_INPUT;
    if (!fbp_plain_sgd(&opt->optim))
        status = FBP_LOCAL(optimizer_one)(net, opt, params, x, t, w, grad, state,
                                          *n_updates + 1, undo, out, E);
#if FBP_HAVE_LANES
    else if (opt->special_paths && FBP_LOCAL(is_tiny)(net))
        status = FBP_LOCAL(tiny_step)(net, opt, params, x, t, w, undo, out, E);
#endif
    else
        status = FBP_LOCAL(sgd_step)(net, opt, params, x, t, w, undo, out, E);
    if (status == FBP_STEP_OK) *n_updates += 1;
    return status;
}

#undef STEP_SHORT
#undef STEP_LIMIT
#undef STEP_MOVE
#undef STEP_BITS
#undef STEP_ABS
#undef STEP_INF
