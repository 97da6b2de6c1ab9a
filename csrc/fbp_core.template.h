/* The backprop core, written once for both float types and compiled once per
 * instruction set. The including file defines
 *   FBP_T       float or double
 *   FBP_S       f32 or f64 (suffix of every symbol for that type)
 *   FBP_DOUBLE  1 for double, 0 for float
 *   FBP_ISA   baseline, avx2 or avx512 (suffix of the exported entries)
 * and includes this body once per type (pywt's wt.template.h does the same).
 *
 * Plain loops over restrict pointers: the compiler vectorises them for the
 * instruction set the including file targets. One training step has FANN's
 * four phases: forward (fann_run), output deltas and loss (fann_compute_MSE),
 * backward (fann_backpropagate_MSE) and update (fann_update_weights), the last
 * two fused into one pass over each weight matrix.
 */
#include <math.h>
#include <string.h>
#include <stdint.h>

#define FBP_CAT_(a, b) a##_##b
#define FBP_CAT(a, b) FBP_CAT_(a, b)
#define FBP_LOCAL(name) FBP_CAT(name, FBP_S)
#define FBP_ENTRY(name) FBP_CAT(FBP_CAT(name, FBP_S), FBP_ISA)

#define T FBP_T

/* Independent partial sums per dot product: enough to fill two 512-bit
 * vectors, so the sum vectorises without reassociation (no -ffast-math) and
 * rounds the same way on every instruction set. */
#define LANES ((ptrdiff_t)(128 / sizeof(T)))

/* y := w . x, summed in LANES interleaved partial sums, then pairwise. */
static inline T FBP_LOCAL(dot)(const T *FBP_RESTRICT w,
                               const T *FBP_RESTRICT x, ptrdiff_t n)
{
    T tail = 0;
    ptrdiff_t i = 0;
    if (n >= LANES) {
        T acc[LANES];
        for (ptrdiff_t k = 0; k < LANES; k++) acc[k] = w[k] * x[k];
        for (i = LANES; i + LANES <= n; i += LANES)
            for (ptrdiff_t k = 0; k < LANES; k++) acc[k] += w[i + k] * x[i + k];
        for (ptrdiff_t h = LANES / 2; h > 0; h /= 2)
            for (ptrdiff_t k = 0; k < h; k++) acc[k] += acc[k + h];
        tail = acc[0];
    }
    for (; i < n; i++) tail += w[i] * x[i];
    return tail;
}

/* exp(x) for x <= 0 as scale * (1 + q): scale = 2^n, q = expm1(r), with
 * x = n ln2 + r, |r| <= ln2/2. Branch-free, so loops calling it vectorise;
 * within a few ulp of libm. Results below the smallest normal number flush to
 * 0, and NaN stays NaN (it reaches q). */
#if FBP_DOUBLE
#define EXP_MIN (-708.0)   /* exp(-708) is still a normal number */
#define EXP_SHIFT 0x1.8p52 /* adding it rounds to an integer in the low bits */
#define BITS uint64_t
#define EXP_BIAS 1023u
#define EXP_MANT 52
#define LN2_HI 6.93147180369123816490e-01 /* n * LN2_HI is exact */
#define LN2_LO 1.90821492927058770002e-10
#else
#define EXP_MIN (-87.0f)
#define EXP_SHIFT 0x1.8p23f
#define BITS uint32_t
#define EXP_BIAS 127u
#define EXP_MANT 23
#define LN2_HI 0.693145751953125f
#define LN2_LO 1.428606765330187045e-06f
#endif

static inline T FBP_LOCAL(absval)(T x) { return x < 0 ? -x : x; }

static inline T FBP_LOCAL(expm1_parts)(T x, T *scale)
{
    const T log2e = (T)1.4426950408889634, shift = (T)EXP_SHIFT;
    T xc = x < (T)EXP_MIN ? (T)EXP_MIN : x;
    T k = xc * log2e + shift;
    T n = k - shift;
    T r = (xc - n * (T)LN2_HI) - n * (T)LN2_LO;
    union { T f; BITS u; } kb, s;
    kb.f = k;
    s.u = (kb.u + EXP_BIAS) << EXP_MANT;
    *scale = x < (T)EXP_MIN ? (T)0 : s.f;
#if FBP_DOUBLE
    /* Taylor to r^12: truncation below 1 ulp for |r| <= ln2/2. */
    T q = 1.0 / 479001600;
    q = q * r + 1.0 / 39916800; q = q * r + 1.0 / 3628800;
    q = q * r + 1.0 / 362880;   q = q * r + 1.0 / 40320;
    q = q * r + 1.0 / 5040;     q = q * r + 1.0 / 720;
    q = q * r + 1.0 / 120;      q = q * r + 1.0 / 24;
    q = q * r + 1.0 / 6;        q = q * r + 0.5;
    q = q * r + 1.0;
#else
    T q = 1.0f / 40320;
    q = q * r + 1.0f / 5040; q = q * r + 1.0f / 720;
    q = q * r + 1.0f / 120;  q = q * r + 1.0f / 24;
    q = q * r + 1.0f / 6;    q = q * r + 0.5f;
    q = q * r + 1.0f;
#endif
    return q * r;
}

static inline T FBP_LOCAL(exp_nonpos)(T x)
{
    T s, q = FBP_LOCAL(expm1_parts)(x, &s);
    return s + s * q;
}

/* Activations, in place on the n net inputs of one layer. */
static inline void FBP_LOCAL(activate)(int act, T *FBP_RESTRICT v, ptrdiff_t n)
{
    switch (act) {
    case FBP_SIGMOID:
        /* e = exp(-|x|) never overflows; x < 0 gives e / (1 + e). */
        for (ptrdiff_t i = 0; i < n; i++) {
            T x = v[i];
            T e = FBP_LOCAL(exp_nonpos)(-FBP_LOCAL(absval)(x));
            T r = 1 / (1 + e);
            v[i] = x >= 0 ? r : e * r;
        }
        break;
    case FBP_TANH:
        /* tanh|x| = -m / (2 + m), m = expm1(-2|x|): exact near 0 too. */
        for (ptrdiff_t i = 0; i < n; i++) {
            T x = v[i], s;
            T q = FBP_LOCAL(expm1_parts)(-2 * FBP_LOCAL(absval)(x), &s);
            T m = s * q + (s - 1);
            T t = -m / (2 + m);
            v[i] = x < 0 ? -t : t;
        }
        break;
    case FBP_RELU:
        for (ptrdiff_t i = 0; i < n; i++) v[i] = v[i] > 0 ? v[i] : 0;
        break;
    case FBP_LEAKY_RELU:
        for (ptrdiff_t i = 0; i < n; i++)
            v[i] = v[i] > 0 ? v[i] : (T)FBP_LEAKY_SLOPE * v[i];
        break;
    case FBP_SOFTMAX: {
        T top = v[0], sum = 0;
        for (ptrdiff_t i = 1; i < n; i++) top = v[i] > top ? v[i] : top;
        for (ptrdiff_t i = 0; i < n; i++) {
            v[i] = FBP_LOCAL(exp_nonpos)(v[i] - top);
            sum += v[i];
        }
        for (ptrdiff_t i = 0; i < n; i++) v[i] /= sum;
        break;
    }
    default: /* FBP_IDENTITY */
        break;
    }
}

/* d := d * f'(net), f' taken from the outputs a = f(net). */
static inline void FBP_LOCAL(scale_by_derivative)(int act, const T *FBP_RESTRICT a,
                                                  T *FBP_RESTRICT d, ptrdiff_t n)
{
    switch (act) {
    case FBP_SIGMOID:
        for (ptrdiff_t i = 0; i < n; i++) d[i] *= a[i] * (1 - a[i]);
        break;
    case FBP_TANH:
        for (ptrdiff_t i = 0; i < n; i++) d[i] *= 1 - a[i] * a[i];
        break;
    case FBP_RELU:
        for (ptrdiff_t i = 0; i < n; i++) d[i] = a[i] > 0 ? d[i] : 0;
        break;
    case FBP_LEAKY_RELU:
        for (ptrdiff_t i = 0; i < n; i++)
            d[i] = a[i] > 0 ? d[i] : (T)FBP_LEAKY_SLOPE * d[i];
        break;
    case FBP_SOFTMAX: {
        /* Full Jacobian: d_k := a_k (d_k - sum_j d_j a_j). */
        double dot = 0;
        for (ptrdiff_t i = 0; i < n; i++) dot += (double)d[i] * a[i];
        for (ptrdiff_t i = 0; i < n; i++) d[i] = a[i] * (d[i] - (T)dot);
        break;
    }
    default:
        break;
    }
}

/* Workspace views: per layer outputs and deltas, then the output net input. */
typedef struct {
    T *out;    /* outputs of layers 1..L, concatenated */
    T *delta;  /* dE/dnet of layers 1..L, concatenated */
    T *z;      /* net input of the output layer (for the log losses) */
} FBP_LOCAL(work);

static inline FBP_LOCAL(work) FBP_LOCAL(split)(const fbp_net *net, T *ws)
{
    ptrdiff_t units = 0;
    for (ptrdiff_t l = 1; l <= net->n_layers; l++) units += net->sizes[l];
    FBP_LOCAL(work) w = {ws, ws + units, ws + 2 * units};
    return w;
}

/* Phase 1: outputs of every layer for input x; returns the output layer's. */
static inline const T *FBP_LOCAL(forward)(const fbp_net *net, const T *params,
                                          const T *x, FBP_LOCAL(work) w)
{
    const T *in = x;
    T *out = w.out;
    const ptrdiff_t L = net->n_layers;
    for (ptrdiff_t l = 0; l < L; l++) {
        const ptrdiff_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        const T *W = params + net->w_offsets[l];
        for (ptrdiff_t j = 0; j < n_out; j++)
            out[j] = FBP_LOCAL(dot)(W + j * n_in, in, n_in);
        if (net->b_offsets[l] >= 0) {
            const T *b = params + net->b_offsets[l];
            for (ptrdiff_t j = 0; j < n_out; j++) out[j] += b[j];
        }
        if (l == L - 1) memcpy(w.z, out, (size_t)n_out * sizeof(T));
        FBP_LOCAL(activate)(net->activations[l], out, n_out);
        in = out;
        out += n_out;
    }
    return in;
}

/* Phase 2: the sample's loss, and the output layer's deltas dE/dnet. */
static inline double FBP_LOCAL(output_deltas)(const fbp_net *net, const T *o,
                                              const T *t, const T *z, T *d)
{
    const ptrdiff_t K = net->sizes[net->n_layers];
    double E = 0;
    switch (net->loss) {
    case FBP_BINARY_CROSS_ENTROPY:
        /* E = sum softplus(z) - t z, written so no term can overflow. */
        for (ptrdiff_t k = 0; k < K; k++) {
            double zk = z[k];
            E += (zk > 0 ? zk : 0) - zk * t[k] + log1p(exp(-fabs(zk)));
            d[k] = o[k] - t[k];
        }
        break;
    case FBP_CROSS_ENTROPY: {
        /* E = sum t_k (logsumexp(z) - z_k); dE/dz_k = o_k sum(t) - t_k. */
        double top = z[0], sum = 0, mass = 0;
        for (ptrdiff_t k = 1; k < K; k++) top = z[k] > top ? z[k] : top;
        for (ptrdiff_t k = 0; k < K; k++) sum += exp(z[k] - top);
        const double lse = top + log(sum);
        for (ptrdiff_t k = 0; k < K; k++) {
            E += t[k] * (lse - z[k]);
            mass += t[k];
        }
        for (ptrdiff_t k = 0; k < K; k++) d[k] = o[k] * (T)mass - t[k];
        break;
    }
    default: /* FBP_SQUARED_ERROR: E = sum 1/2 (t - o)^2 */
        for (ptrdiff_t k = 0; k < K; k++) {
            d[k] = o[k] - t[k];
            E += 0.5 * (double)d[k] * d[k];
        }
        FBP_LOCAL(scale_by_derivative)(net->activations[net->n_layers - 1], o, d, K);
        break;
    }
    return E;
}

/* Layer l's input: x for the first layer, else the previous layer's outputs. */
static inline const T *FBP_LOCAL(layer_input)(const fbp_net *net, const T *x,
                                              FBP_LOCAL(work) w, ptrdiff_t l,
                                              ptrdiff_t *offset)
{
    if (l == 0) return x;
    *offset -= net->sizes[l];
    return w.out + *offset;
}

/* Phases 3 and 4 for one sample: walk the layers from the top. `prev` gets
 * W^T d with the weights from before the update (the worked examples' rule),
 * read in the same pass that updates them; the input layer needs no delta.
 * With grad == NULL the update is applied at once (per-sample SGD, step
 * lr); otherwise dE/dparams is added to grad and params stay unchanged.
 * Returns nonzero if an updated parameter is not finite. */
static inline int FBP_LOCAL(backward)(const fbp_net *net, T *params, const T *x,
                                       FBP_LOCAL(work) w, T lr,
                                       int update_biases, T *grad)
{
    ptrdiff_t units = 0;
    for (ptrdiff_t l = 1; l <= net->n_layers; l++) units += net->sizes[l];
    ptrdiff_t a_off = units - net->sizes[net->n_layers];
    ptrdiff_t d_off = a_off;
    int bad = 0; /* x - x != 0 exactly when x is NaN or infinite */
    for (ptrdiff_t l = net->n_layers - 1; l >= 0; l--) {
        const ptrdiff_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        const T *d = w.delta + d_off;
        const T *a = FBP_LOCAL(layer_input)(net, x, w, l, &a_off);
        T *prev = l > 0 ? w.delta + a_off : NULL;
        T *W = params + net->w_offsets[l];
        if (prev) memset(prev, 0, (size_t)n_in * sizeof(T));
        for (ptrdiff_t j = 0; j < n_out; j++) {
            T *FBP_RESTRICT row = W + j * n_in;
            const T g = d[j];
            if (grad) {
                T *FBP_RESTRICT grow = grad + net->w_offsets[l] + j * n_in;
                for (ptrdiff_t i = 0; i < n_in; i++) grow[i] += g * a[i];
                if (prev)
                    for (ptrdiff_t i = 0; i < n_in; i++) prev[i] += row[i] * g;
            } else {
                const T step = lr * g;
                if (prev) {
                    T *FBP_RESTRICT back = prev;
                    for (ptrdiff_t i = 0; i < n_in; i++) {
                        const T wji = row[i], updated = wji - step * a[i];
                        back[i] += wji * g;
                        row[i] = updated;
                        bad |= updated - updated != 0;
                    }
                } else {
                    for (ptrdiff_t i = 0; i < n_in; i++) {
                        const T updated = row[i] - step * a[i];
                        row[i] = updated;
                        bad |= updated - updated != 0;
                    }
                }
            }
        }
        if (net->b_offsets[l] >= 0) {
            if (grad) {
                T *gb = grad + net->b_offsets[l];
                for (ptrdiff_t j = 0; j < n_out; j++) gb[j] += d[j];
            } else if (update_biases) {
                T *b = params + net->b_offsets[l];
                for (ptrdiff_t j = 0; j < n_out; j++) {
                    b[j] -= lr * d[j];
                    bad |= b[j] - b[j] != 0;
                }
            }
        }
        if (prev) FBP_LOCAL(scale_by_derivative)(net->activations[l - 1], a, prev, n_in);
        d_off = a_off;
    }
    return bad;
}

/* params -= scale * grad over weights (and biases if update_biases); grad := 0.
 * Returns nonzero if an updated parameter is not finite. */
static int FBP_LOCAL(apply_gradient)(const fbp_net *net, T *FBP_RESTRICT params,
                                     T *FBP_RESTRICT grad, T scale,
                                     int update_biases)
{
    int bad = 0;
    for (ptrdiff_t l = 0; l < net->n_layers; l++) {
        const ptrdiff_t n_out = net->sizes[l + 1], n_w = n_out * net->sizes[l];
        const ptrdiff_t n_b = net->b_offsets[l] >= 0 ? n_out : 0;
        /* Biases follow their layer's weights in the buffer (_layout.py). */
        const ptrdiff_t n = n_w + (update_biases ? n_b : 0);
        T *FBP_RESTRICT p = params + net->w_offsets[l];
        T *FBP_RESTRICT g = grad + net->w_offsets[l];
        for (ptrdiff_t i = 0; i < n; i++) {
            p[i] -= scale * g[i];
            bad |= p[i] - p[i] != 0;
        }
        memset(g, 0, (size_t)(n_w + n_b) * sizeof(T));
    }
    return bad;
}

/* One sample: forward, output deltas, backward (and the update when grad is
 * NULL). Stores the loss in *E; returns nonzero, before any update, if the
 * loss is not finite, or if an update left a parameter that is not. */
static int FBP_LOCAL(sample_step)(const fbp_net *net, T *params, const T *x,
                                  const T *t, FBP_LOCAL(work) w, T lr,
                                  int update_biases, T *grad, double *E)
{
    const T *o = FBP_LOCAL(forward)(net, params, x, w);
    T *d_out = w.delta + (o - w.out);
    *E = FBP_LOCAL(output_deltas)(net, o, t, w.z, d_out);
    if (*E - *E != 0) return 1;
    return FBP_LOCAL(backward)(net, params, x, w, lr, update_biases, grad);
}

double FBP_ENTRY(fbp_fit)(const fbp_net *net, T *params, const T *X, const T *Y,
                          const ptrdiff_t *order, ptrdiff_t n_samples,
                          ptrdiff_t batch_size, T lr, int update_biases,
                          T *workspace, T *grad, ptrdiff_t *n_done)
{
    const ptrdiff_t n_in = net->sizes[0], K = net->sizes[net->n_layers];
    const ptrdiff_t batch = batch_size > 1 ? batch_size : 1;
    FBP_LOCAL(work) w = FBP_LOCAL(split)(net, workspace);
    double total = 0, E;
    *n_done = 0;
    for (ptrdiff_t start = 0; start < n_samples; start += batch) {
        const ptrdiff_t stop = start + batch < n_samples ? start + batch : n_samples;
        for (ptrdiff_t s = start; s < stop; s++) {
            const ptrdiff_t r = order[s];
            if (FBP_LOCAL(sample_step)(net, params, X + r * n_in, Y + r * K, w, lr,
                                       update_biases, batch > 1 ? grad : NULL, &E))
                return total;
            total += E;
        }
        if (batch > 1 && FBP_LOCAL(apply_gradient)(net, params, grad,
                                                   lr / (T)(stop - start),
                                                   update_biases))
            return total;
        *n_done = stop;
    }
    return total;
}

void FBP_ENTRY(fbp_predict)(const fbp_net *net, const T *params, const T *X,
                            ptrdiff_t n_samples, T *out, T *workspace)
{
    const ptrdiff_t n_in = net->sizes[0], K = net->sizes[net->n_layers];
    FBP_LOCAL(work) w = FBP_LOCAL(split)(net, workspace);
    for (ptrdiff_t s = 0; s < n_samples; s++) {
        const T *o = FBP_LOCAL(forward)(net, params, X + s * n_in, w);
        memcpy(out + s * K, o, (size_t)K * sizeof(T));
    }
}

double FBP_ENTRY(fbp_loss)(const fbp_net *net, const T *params, const T *X,
                           const T *Y, ptrdiff_t n_samples, T *workspace)
{
    const ptrdiff_t n_in = net->sizes[0], K = net->sizes[net->n_layers];
    FBP_LOCAL(work) w = FBP_LOCAL(split)(net, workspace);
    double total = 0;
    for (ptrdiff_t s = 0; s < n_samples; s++) {
        const T *o = FBP_LOCAL(forward)(net, params, X + s * n_in, w);
        total += FBP_LOCAL(output_deltas)(net, o, Y + s * K, w.z,
                                          w.delta + (o - w.out));
    }
    return total;
}

double FBP_ENTRY(fbp_gradient)(const fbp_net *net, const T *params, const T *x,
                               const T *t, T *workspace, T *grad)
{
    FBP_LOCAL(work) w = FBP_LOCAL(split)(net, workspace);
    double E;
    /* With grad given, backward only reads params. */
    FBP_LOCAL(sample_step)(net, (T *)params, x, t, w, 0, 0, grad, &E);
    return E;
}

#undef T
#undef LANES
#undef BITS
#undef LN2_HI
#undef LN2_LO
#undef EXP_MIN
#undef EXP_SHIFT
#undef EXP_BIAS
#undef EXP_MANT
