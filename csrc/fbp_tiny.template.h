/* The tiny-network loop: per-sample plain SGD on networks whose layers each
 * fit in one register, for the float type and instruction set of the
 * including file (fbp_core.template.h). The per-sample loop
 * (fbp_sample_loop.template.h) hands such networks to fit_tiny when the
 * special paths are on; it is that loop, specialised, and agrees with it to
 * rounding.
 */
#if FBP_HAVE_LANES
/* Tiny networks: at most FBP_TINY_LAYERS layers, none wider than FBP_LANES
 * units, no softmax. fit_per_sample trains them in fit_tiny, each
 * layer's units in one lane vector: no per-layer bookkeeping, and only whole
 * vectors through memory. The next sample needs this one's update, so a
 * sample costs at least its chain of dependent operations (for two layers:
 * two activations, two small products and the deltas); fit_tiny keeps that
 * chain short. */
#define FBP_TINY_LAYERS 4

/* A tiny network's parameters, zero-padded to FBP_LANES units per layer,
 * and the outputs of the sample at hand. wt[l][i] holds the weights from
 * input i into every unit of layer l (the forward pass scales it by that
 * input), w[l][j] those into unit j from every input (the backward pass
 * scales it by unit j's delta); w[0] is unused, as no delta goes into the
 * inputs. Both copies get the same updates, so they stay equal.
 * The padded weights and biases stay 0: a missing unit's net input is 0, its
 * output f(0) (out[l] holds it; keep[l] masks it out where it would reach a
 * weight) and its delta 0 (the output layer's target there is f(0) too). */
typedef struct {
    LANE wt[FBP_TINY_LAYERS][FBP_LANES];
    LANE w[FBP_TINY_LAYERS][FBP_LANES];
    LANE b[FBP_TINY_LAYERS];
    LANE out[FBP_TINY_LAYERS];
    LBITS keep[FBP_TINY_LAYERS];
} FBP_LOCAL(tiny);

static int FBP_LOCAL(is_tiny)(const fbp_net *net)
{
    if (net->n_layers > FBP_TINY_LAYERS) return 0;
    for (ptrdiff_t l = 0; l <= net->n_layers; l++)
        if (net->sizes[l] > FBP_LANES) return 0;
    for (ptrdiff_t l = 0; l < net->n_layers; l++)
        if (net->activations[l] == FBP_SOFTMAX || net->activations[l] == FBP_EXP) return 0;
    return 1;
}

static void FBP_LOCAL(tiny_load)(const fbp_net *net, const T *params, FBP_LOCAL(tiny) *tn)
{
    memset(tn, 0, sizeof *tn);
    for (ptrdiff_t l = 0; l < net->n_layers; l++) {
        const ptrdiff_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        const T *W = params + net->w_offsets[l];
        for (ptrdiff_t j = 0; j < n_out; j++) {
            for (ptrdiff_t i = 0; i < n_in; i++)
                tn->wt[l][i][j] = tn->w[l][j][i] = W[j * n_in + i];
            if (net->b_offsets[l] >= 0) tn->b[l][j] = params[net->b_offsets[l] + j];
            tn->keep[l][j] = ~(BITS)0;
        }
    }
}

static void FBP_LOCAL(tiny_store)(const fbp_net *net, const FBP_LOCAL(tiny) *tn, T *params)
{
    for (ptrdiff_t l = 0; l < net->n_layers; l++) {
        const ptrdiff_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        T *W = params + net->w_offsets[l];
        for (ptrdiff_t j = 0; j < n_out; j++) {
            for (ptrdiff_t i = 0; i < n_in; i++) W[j * n_in + i] = tn->wt[l][i][j];
            if (net->b_offsets[l] >= 0) params[net->b_offsets[l] + j] = tn->b[l][j];
        }
    }
}

/* 1 if a lane of v is NaN or infinite. */
FBP_INLINE int FBP_LOCAL(any_nonfinite)(LANE v)
{
    const LBITS bad = FBP_MASK(v - v != 0);
    BITS any = 0;
    for (ptrdiff_t k = 0; k < FBP_LANES; k++) any |= bad[k];
    return any != 0;
}

/* Layer l's activation: `act` where the loop is compiled for networks with
 * one activation throughout, else (act < 0) the layer's own. */
FBP_INLINE int FBP_LOCAL(layer_act)(const fbp_net *net, int act, ptrdiff_t l)
{
    return act >= 0 ? act : net->activations[l];
}

/* The first layer's net inputs for input x. */
FBP_INLINE LANE FBP_LOCAL(tiny_net0)(const fbp_net *net, const FBP_LOCAL(tiny) *tn,
                                     const T *x)
{
    LANE s = tn->b[0];
    for (ptrdiff_t i = 0; i < net->sizes[0]; i++) s += tn->wt[0][i] * x[i];
    return s;
}

/* Phase 1 on a tiny network from the first layer's net inputs net0 (act as
 * for layer_act): the outputs of every layer into tn->out; returns the
 * output layer's, and its net inputs in *z. */
FBP_INLINE LANE FBP_LOCAL(tiny_forward)(const fbp_net *net, int act, FBP_LOCAL(tiny) *tn,
                                        LANE net0, LANE *z)
{
    LANE s = net0, a = s;
    for (ptrdiff_t l = 0; l < net->n_layers; l++) {
        if (l > 0) {
            s = tn->b[l];
            /* Whole lanes, so that a[i] is a register's lane, not a load. */
            for (ptrdiff_t i = 0; i < FBP_LANES; i++)
                if (i < net->sizes[l]) s += tn->wt[l][i] * a[i];
        }
        tn->out[l] = a = FBP_LOCAL(activate_lanes)(FBP_LOCAL(layer_act)(net, act, l), s);
    }
    *z = s;
    return a;
}

/* Phase 2 on a tiny network with outputs o = f(z) and targets t (`fill` in
 * the lanes of missing units, which keep masks out; act as for layer_act,
 * loss net->loss): returns the loss and stores the output layer's deltas in
 * *d, as output_deltas does. */
FBP_INLINE double FBP_LOCAL(tiny_deltas)(const fbp_net *net, int act, int loss, LANE o,
                                         LANE z, const T *t, LANE fill, LBITS keep,
                                         LANE *d)
{
    const ptrdiff_t L = net->n_layers, K = net->sizes[L];
    LANE tl = fill;
    for (ptrdiff_t k = 0; k < FBP_LANES; k++)
        if (k < K) tl[k] = t[k];
    const LANE e = o - tl;
    if (loss == FBP_SQUARED_ERROR) {
        /* From lanes: o through memory would hold up the chain. */
        double E = 0;
        for (ptrdiff_t k = 0; k < FBP_LANES; k++)
            if (k < K) E += FBP_LOCAL(half_square)(e[k]);
        *d = FBP_LOCAL(derivative_lanes)(FBP_LOCAL(layer_act)(net, act, L - 1), o, e);
        return E;
    }
    const LANE zero = {0};
    T o_arr[FBP_LANES], z_arr[FBP_LANES], mass;
    memcpy(o_arr, &o, sizeof o);
    memcpy(z_arr, &z, sizeof z);
    const double E = FBP_LOCAL(sample_loss)(net, o_arr, t, z_arr, &mass);
    *d = mass == 1 ? e : FBP_LOCAL(blend)(keep, o * mass - tl, zero);
    return E;
}

/* Phases 3 and 4 on a tiny network from the output layer's deltas d, as
 * backward() does them (act as for layer_act). Also the next sample's net
 * inputs to the first layer, for input x_next, in *net0, without waiting for
 * that layer's update: with the update W -= (lr f'(a) p) x^T (and the same
 * on b, q1 = 1, if biases train; else q1 = 0), p the sums W1^T d1 from the
 * layer above, the updated net inputs are
 *   b + W x_next - (lr f'(a) (q1 + x . x_next)) p,
 * where all but d1 is known before d1 is: one multiply-add per unit of the
 * layer above separates d1 from net0. They differ from the sums of the
 * updated weights by rounding only (unless they overflow: see the end), so
 * where a compiled call starts, and its first sample's net inputs are summed,
 * changes the rounding of what follows. Returns nonzero (with check) if an
 * update leaves a parameter that is not finite. */
FBP_INLINE int FBP_LOCAL(tiny_backward)(const fbp_net *net, int act, FBP_LOCAL(tiny) *tn,
                                        const T *x, LANE d, T lr, int update_biases,
                                        int check, const T *x_next, LANE *net0)
{
    const ptrdiff_t n_in0 = net->sizes[0];
    const int biases0 = update_biases && net->b_offsets[0] >= 0;
    const LANE zero = {0};
    LANE p = d, lr_slope = zero + lr;
    int bad = 0;
    T reach = biases0 ? 1 : 0;
    for (ptrdiff_t i = 0; i < n_in0; i++) reach += x[i] * x_next[i];
    *net0 = FBP_LOCAL(tiny_net0)(net, tn, x_next);
    for (ptrdiff_t l = net->n_layers - 1; l > 0; l--) {
        const ptrdiff_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        const LANE a = tn->out[l - 1], step = lr * d;
        const LANE a_kept = FBP_LOCAL(blend)(tn->keep[l - 1], a, zero);
        const int below = FBP_LOCAL(layer_act)(net, act, l - 1);
        if (update_biases && net->b_offsets[l] >= 0) tn->b[l] -= lr * d;
        if (l == 1) {
            lr_slope = lr * FBP_LOCAL(slope_lanes)(below, a);
            const LANE pull = lr_slope * reach;
            for (ptrdiff_t j = 0; j < FBP_LANES; j++)
                if (j < n_out) *net0 -= (pull * tn->w[l][j]) * d[j];
        }
        /* The sums for the deltas below, with the weights from before the
         * update. */
        p = tn->w[l][0] * d[0];
        for (ptrdiff_t j = 1; j < FBP_LANES; j++)
            if (j < n_out) p += tn->w[l][j] * d[j];
        for (ptrdiff_t j = 0; j < FBP_LANES; j++)
            if (j < n_out) tn->w[l][j] -= step[j] * a_kept;
        for (ptrdiff_t i = 0; i < FBP_LANES; i++)
            if (i < n_in) tn->wt[l][i] -= step * a[i];
        if (check) {
            for (ptrdiff_t i = 0; i < n_in; i++) bad |= FBP_LOCAL(any_nonfinite)(tn->wt[l][i]);
            bad |= FBP_LOCAL(any_nonfinite)(tn->b[l]);
        }
        if (l > 1) d = FBP_LOCAL(derivative_lanes)(below, a, p);
    }
    if (net->n_layers == 1) *net0 -= (lr_slope * reach) * p;
    if (biases0) tn->b[0] -= lr_slope * p;
    for (ptrdiff_t i = 0; i < n_in0; i++) tn->wt[0][i] -= (x[i] * lr_slope) * p;
    /* Huge inputs can overflow the shortcut (x . x_next, say) where the sums
     * of the updated weights stay finite: then those sums. The branch only
     * waits for net0, so on the usual path the chain goes on past it. */
    if (FBP_UNLIKELY(FBP_LOCAL(any_nonfinite)(*net0)))
        *net0 = FBP_LOCAL(tiny_net0)(net, tn, x_next);
    if (check) {
        for (ptrdiff_t i = 0; i < n_in0; i++) bad |= FBP_LOCAL(any_nonfinite)(tn->wt[0][i]);
        bad |= FBP_LOCAL(any_nonfinite)(tn->b[0]);
    }
    return bad;
}

/* fit_per_sample's plain SGD on a tiny network (is_tiny), same contract,
 * with `loss` net->loss and act as for layer_act; the parameters stay in
 * lanes from the first sample to the last. */
FBP_INLINE double FBP_LOCAL(tiny_loop)(const fbp_net *net, int loss, int act,
                                       const fbp_train_options *opt, T *params,
                                       const T *X, const T *Y, const T *sample_weight,
                                       const ptrdiff_t *order, ptrdiff_t n_samples,
                                       ptrdiff_t *n_updates, ptrdiff_t *n_done)
{
    const ptrdiff_t L = net->n_layers, n_in = net->sizes[0], K = net->sizes[L];
    const T lr = (T)opt->optim.lr;
    const double loss_scale = opt->loss_scale;
    const int update_biases = opt->update_biases, check = opt->check_params;
    const LANE zero = {0};
    FBP_LOCAL(tiny) tn;
    double total = 0;
    FBP_LOCAL(tiny_load)(net, params, &tn);
    const LANE fill = FBP_LOCAL(activate_lanes)(FBP_LOCAL(layer_act)(net, act, L - 1), zero);
    LANE net0 = zero;
    if (n_samples > 0) net0 = FBP_LOCAL(tiny_net0)(net, &tn, X + order[0] * n_in);
    ptrdiff_t s = 0;
    for (; s < n_samples; s++) {
        const T *x = X + order[s] * n_in;
        /* After the last sample, x stands in for the next one. */
        const T *x_next = s + 1 < n_samples ? X + order[s + 1] * n_in : x;
        LANE z, d;
        const LANE o = FBP_LOCAL(tiny_forward)(net, act, &tn, net0, &z);
        double E = FBP_LOCAL(tiny_deltas)(net, act, loss, o, z, Y + order[s] * K, fill,
                                          tn.keep[L - 1], &d);
        if (E - E != 0) break;
        if (sample_weight && sample_weight[order[s]] != 1) {
            d *= sample_weight[order[s]];
            E *= sample_weight[order[s]];
        }
        if (FBP_LOCAL(tiny_backward)(net, act, &tn, x, d, lr, update_biases, check, x_next,
                                     &net0))
            break;
        total += E * loss_scale;
    }
    *n_updates += s;
    *n_done = s;
    FBP_LOCAL(tiny_store)(net, &tn, params);
    return total;
}

/* tiny_loop, compiled on its own for the squared error (the log losses call
 * libm, and a call in the loop would move its vectors to memory), and
 * within that for the classic networks of one activation throughout,
 * whose loop then holds that activation's code alone. */
static double FBP_LOCAL(fit_tiny)(const fbp_net *net, const fbp_train_options *opt,
                                  T *params, const T *X, const T *Y,
                                  const T *sample_weight, const ptrdiff_t *order,
                                  ptrdiff_t n_samples, ptrdiff_t *n_updates,
                                  ptrdiff_t *n_done)
{
    int act = net->activations[0];
    for (ptrdiff_t l = 1; l < net->n_layers; l++)
        if (net->activations[l] != act) act = -1;
    if (net->loss != FBP_SQUARED_ERROR)
        return FBP_LOCAL(tiny_loop)(net, net->loss, -1, opt, params, X, Y, sample_weight,
                                    order, n_samples, n_updates, n_done);
    if (act == FBP_SIGMOID)
        return FBP_LOCAL(tiny_loop)(net, FBP_SQUARED_ERROR, FBP_SIGMOID, opt, params, X, Y,
                                    sample_weight, order, n_samples, n_updates, n_done);
    if (act == FBP_TANH)
        return FBP_LOCAL(tiny_loop)(net, FBP_SQUARED_ERROR, FBP_TANH, opt, params, X, Y,
                                    sample_weight, order, n_samples, n_updates, n_done);
    return FBP_LOCAL(tiny_loop)(net, FBP_SQUARED_ERROR, -1, opt, params, X, Y,
                                sample_weight, order, n_samples, n_updates, n_done);
}
#undef FBP_TINY_LAYERS
#endif
