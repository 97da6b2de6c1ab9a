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

static inline T FBP_LOCAL(dot)(const T *FBP_RESTRICT w, const T *FBP_RESTRICT x,
                               ptrdiff_t n)
{
    T s = 0;
    if (n < FBP_SIMD_MIN) {
        for (ptrdiff_t i = 0; i < n; i++) s += w[i] * x[i];
        return s;
    }
    FBP_SIMD_REDUCE(s)
    for (ptrdiff_t i = 0; i < n; i++) s += w[i] * x[i];
    return s;
}

/* out[r] := W[r] . x for the 4 rows starting at W (stride n): four
 * independent sums share each load of x. `omp simd` lets the compiler split
 * each sum across vector lanes (no -ffast-math needed), so results differ from
 * a sequential sum by rounding only. */
FBP_INLINE void FBP_LOCAL(dot4)(const T *FBP_RESTRICT W, const T *FBP_RESTRICT x,
                                ptrdiff_t n, T *FBP_RESTRICT out)
{
    if (n < FBP_SIMD_MIN) {
        for (ptrdiff_t r = 0; r < 4; r++) out[r] = FBP_LOCAL(dot)(W + r * n, x, n);
        return;
    }
    const T *FBP_RESTRICT w0 = W, *FBP_RESTRICT w1 = W + n;
    const T *FBP_RESTRICT w2 = W + 2 * n, *FBP_RESTRICT w3 = W + 3 * n;
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    FBP_SIMD_REDUCE(s0, s1, s2, s3)
    for (ptrdiff_t i = 0; i < n; i++) {
        s0 += w0[i] * x[i];
        s1 += w1[i] * x[i];
        s2 += w2[i] * x[i];
        s3 += w3[i] * x[i];
    }
    out[0] = s0; out[1] = s1; out[2] = s2; out[3] = s3;
}

/* out := W x for an (n_out, n_in) row-major W. */
FBP_INLINE void FBP_LOCAL(matvec)(const T *W, const T *x, ptrdiff_t n_out,
                                     ptrdiff_t n_in, T *out)
{
    ptrdiff_t j = 0;
    for (; j + 4 <= n_out; j += 4) FBP_LOCAL(dot4)(W + j * n_in, x, n_in, out + j);
    for (; j < n_out; j++) out[j] = FBP_LOCAL(dot)(W + j * n_in, x, n_in);
}

/* exp(x) for x <= 0 as scale * (1 + q): scale = 2^n, q = expm1(r), with
 * x = n ln2 + r, |r| <= ln2/2. Branch-free, so loops calling it vectorise;
 * within a few ulp of libm. Results below the smallest normal number flush to
 * 0, and NaN stays NaN (it reaches q). */
#if FBP_DOUBLE
#define EXP_MIN (-708.0)   /* exp(-708) is still a normal number */
#define EXP_SHIFT 6755399441055744.0 /* 1.5 * 2^52: adding it rounds to an integer in the low bits */
#define BITS uint64_t
#define EXP_BIAS 1023u
#define EXP_MANT 52
#define LN2_HI 6.93147180369123816490e-01 /* n * LN2_HI is exact */
#define LN2_LO 1.90821492927058770002e-10
#else
#define EXP_MIN (-87.0f)
#define EXP_SHIFT 12582912.0f /* 1.5 * 2^23 */
#define BITS uint32_t
#define EXP_BIAS 127u
#define EXP_MANT 23
#define LN2_HI 0.693145751953125f
#define LN2_LO 1.428606765330187045e-06f
#endif

static inline T FBP_LOCAL(absval)(T x) { return x < 0 ? -x : x; }

/* cond ? a : b by bit masks: compilers turn a plain ?: in the scalar tail of
 * a loop into a branch, which random signs mispredict half the time. */
static inline T FBP_LOCAL(select)(int cond, T a, T b)
{
    union { T f; BITS u; } ua, ub;
    const BITS mask = (BITS)0 - (BITS)(cond != 0);
    ua.f = a;
    ub.f = b;
    ua.u = (ua.u & mask) | (ub.u & ~mask);
    return ua.f;
}

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
    /* Taylor series of (e^r - 1) / r, evaluated by Estrin's scheme: a short
     * dependency chain matters for the few units of a small network. */
    const T r2 = r * r, r4 = r2 * r2;
#if FBP_DOUBLE
    /* Terms to r^12 / 12!: truncation below 1 ulp for |r| <= ln2/2. */
    const T p01 = 1.0 + r * 0.5, p23 = 1.0 / 6 + r * (1.0 / 24);
    const T p45 = 1.0 / 120 + r * (1.0 / 720), p67 = 1.0 / 5040 + r * (1.0 / 40320);
    const T p89 = 1.0 / 362880 + r * (1.0 / 3628800);
    const T p1011 = 1.0 / 39916800 + r * (1.0 / 479001600);
    const T q = (p01 + r2 * p23) + r4 * (p45 + r2 * p67) + (r4 * r4) * (p89 + r2 * p1011);
#else
    /* Terms to r^7 / 7!: truncation below 1e-8 for |r| <= ln2/2. */
    const T p01 = 1.0f + r * 0.5f, p23 = 1.0f / 6 + r * (1.0f / 24);
    const T p45 = 1.0f / 120 + r * (1.0f / 720);
    const T q = (p01 + r2 * p23) + r4 * (p45 + r2 * (1.0f / 5040));
#endif
    return q * r;
}

static inline T FBP_LOCAL(exp_nonpos)(T x)
{
    T s, q = FBP_LOCAL(expm1_parts)(x, &s);
    return s + s * q;
}

/* v := f(net) for the n units of one layer; v may be net itself. */
FBP_INLINE void FBP_LOCAL(activate)(int act, const T *net, T *v, ptrdiff_t n)
{
    switch (act) {
    case FBP_SIGMOID:
        /* e = exp(-|x|) never overflows; x < 0 gives e / (1 + e). */
        for (ptrdiff_t i = 0; i < n; i++) {
            T x = net[i];
            T e = FBP_LOCAL(exp_nonpos)(-FBP_LOCAL(absval)(x));
            T r = 1 / (1 + e);
            v[i] = FBP_LOCAL(select)(x >= 0, r, e * r);
        }
        break;
    case FBP_TANH:
        /* tanh|x| = -m / (2 + m), m = expm1(-2|x|): exact near 0 too. */
        for (ptrdiff_t i = 0; i < n; i++) {
            T x = net[i], s;
            T q = FBP_LOCAL(expm1_parts)(-2 * FBP_LOCAL(absval)(x), &s);
            T m = s * q + (s - 1);
            T t = -m / (2 + m);
            v[i] = FBP_LOCAL(select)(x < 0, -t, t);
        }
        break;
    case FBP_RELU:
        for (ptrdiff_t i = 0; i < n; i++) v[i] = net[i] > 0 ? net[i] : 0;
        break;
    case FBP_LEAKY_RELU:
        for (ptrdiff_t i = 0; i < n; i++)
            v[i] = FBP_LOCAL(select)(net[i] > 0, net[i], (T)FBP_LEAKY_SLOPE * net[i]);
        break;
    case FBP_SOFTMAX: {
        T top = net[0], sum = 0;
        for (ptrdiff_t i = 1; i < n; i++) top = net[i] > top ? net[i] : top;
        for (ptrdiff_t i = 0; i < n; i++) {
            v[i] = FBP_LOCAL(exp_nonpos)(net[i] - top);
            sum += v[i];
        }
        for (ptrdiff_t i = 0; i < n; i++) v[i] /= sum;
        break;
    }
    default: /* FBP_IDENTITY */
        if (v != net)
            for (ptrdiff_t i = 0; i < n; i++) v[i] = net[i];
        break;
    }
}

/* d := d * f'(net), f' taken from the outputs a = f(net). */
FBP_INLINE void FBP_LOCAL(scale_by_derivative)(int act, const T *FBP_RESTRICT a,
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
        for (ptrdiff_t i = 0; i < n; i++) d[i] = FBP_LOCAL(select)(a[i] > 0, d[i], 0);
        break;
    case FBP_LEAKY_RELU:
        for (ptrdiff_t i = 0; i < n; i++)
            d[i] = FBP_LOCAL(select)(a[i] > 0, d[i], (T)FBP_LEAKY_SLOPE * d[i]);
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

/* Phase 4 fused with phase 3 for R consecutive rows of W (R = 4 or 1,
 * unrolled by the compiler): prev += W_rows^T g with the weights from before
 * the update (the worked examples' rule), read in the same pass that updates
 * them, W_r -= (lr g_r) a. Rows are added to prev in order, as the reference
 * does; `fresh` (the first rows) starts prev from 0. With `check`, returns
 * nonzero if an updated weight is not finite (x - x != 0 exactly when x is
 * NaN or infinite). */
FBP_INLINE int FBP_LOCAL(sgd_rows)(T *FBP_RESTRICT W, ptrdiff_t n_in, ptrdiff_t R,
                                      const T *FBP_RESTRICT a, const T *g, T lr,
                                      T *FBP_RESTRICT prev, int fresh, int check)
{
    T step[4];
    int bad = 0;
    for (ptrdiff_t r = 0; r < R; r++) step[r] = lr * g[r];
    if (prev) {
        for (ptrdiff_t i = 0; i < n_in; i++) {
            T back = fresh ? 0 : prev[i];
            for (ptrdiff_t r = 0; r < R; r++) {
                const T w = W[r * n_in + i];
                back += w * g[r];
                W[r * n_in + i] = w - step[r] * a[i];
            }
            prev[i] = back;
        }
    } else {
        for (ptrdiff_t i = 0; i < n_in; i++)
            for (ptrdiff_t r = 0; r < R; r++) W[r * n_in + i] -= step[r] * a[i];
    }
    if (check) {
        for (ptrdiff_t i = 0; i < R * n_in; i++) bad |= W[i] - W[i] != 0;
    }
    return bad;
}

/* The first layer's update fused with the next sample's forward pass through
 * it, which needs exactly the updated rows: W_r -= (lr g_r) a, then
 * out_next[r] := W_r . x_next, in one pass over the R = 4 or 1 rows. */
FBP_INLINE int FBP_LOCAL(sgd_rows_next)(T *FBP_RESTRICT W, ptrdiff_t n_in, ptrdiff_t R,
                                        const T *FBP_RESTRICT a, const T *g, T lr,
                                        const T *FBP_RESTRICT x_next,
                                        T *FBP_RESTRICT out_next, int check)
{
    if (n_in < FBP_SIMD_MIN || R == 1) {
        /* Short rows gain nothing from one pass; a lone row is rare. */
        const int bad = FBP_LOCAL(sgd_rows)(W, n_in, R, a, g, lr, NULL, 0, check);
        for (ptrdiff_t r = 0; r < R; r++)
            out_next[r] = FBP_LOCAL(dot)(W + r * n_in, x_next, n_in);
        return bad;
    }
    T *FBP_RESTRICT w0 = W, *FBP_RESTRICT w1 = W + n_in;
    T *FBP_RESTRICT w2 = W + 2 * n_in, *FBP_RESTRICT w3 = W + 3 * n_in;
    const T c0 = lr * g[0], c1 = lr * g[1], c2 = lr * g[2], c3 = lr * g[3];
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    FBP_SIMD_REDUCE(s0, s1, s2, s3)
    for (ptrdiff_t i = 0; i < n_in; i++) {
        const T u0 = w0[i] - c0 * a[i], u1 = w1[i] - c1 * a[i];
        const T u2 = w2[i] - c2 * a[i], u3 = w3[i] - c3 * a[i];
        w0[i] = u0; w1[i] = u1; w2[i] = u2; w3[i] = u3;
        s0 += u0 * x_next[i]; s1 += u1 * x_next[i];
        s2 += u2 * x_next[i]; s3 += u3 * x_next[i];
    }
    out_next[0] = s0; out_next[1] = s1; out_next[2] = s2; out_next[3] = s3;
    int bad = 0;
    if (check)
        for (ptrdiff_t i = 0; i < 4 * n_in; i++) bad |= W[i] - W[i] != 0;
    return bad;
}

/* The same rows without an update: G_r += g_r a and prev += W_rows^T g. */
FBP_INLINE void FBP_LOCAL(grad_rows)(const T *FBP_RESTRICT W, T *FBP_RESTRICT G,
                                        ptrdiff_t n_in, ptrdiff_t R,
                                        const T *FBP_RESTRICT a, const T *g,
                                        T *FBP_RESTRICT prev, int fresh)
{
    for (ptrdiff_t i = 0; i < n_in; i++)
        for (ptrdiff_t r = 0; r < R; r++) G[r * n_in + i] += g[r] * a[i];
    if (prev)
        for (ptrdiff_t i = 0; i < n_in; i++) {
            T back = fresh ? 0 : prev[i];
            for (ptrdiff_t r = 0; r < R; r++) back += W[r * n_in + i] * g[r];
            prev[i] = back;
        }
}

/* Phases 3 and 4 for one sample: walk the layers from the top, computing
 * the deltas of the layer below (none for the input layer) while updating.
 * With grad == NULL the update is applied at once (per-sample SGD, step
 * lr); otherwise dE/dparams is added to grad and params stay unchanged.
 * Given x_next (SGD only), the first layer's update also leaves the next
 * sample's net inputs to it in the workspace, where this sample's outputs of
 * that layer were (no longer needed by then). With `check`, returns nonzero
 * if an updated parameter is not finite. */
FBP_INLINE int FBP_LOCAL(backward)(const fbp_net *net, T *params, const T *x,
                                      FBP_LOCAL(work) w, T lr,
                                      int update_biases, int check, T *grad,
                                      const T *x_next)
{
    ptrdiff_t units = 0;
    for (ptrdiff_t l = 1; l <= net->n_layers; l++) units += net->sizes[l];
    ptrdiff_t a_off = units - net->sizes[net->n_layers];
    ptrdiff_t d_off = a_off;
    T *next_nets = net->n_layers == 1 ? w.z : w.out;
    int bad = 0;
    for (ptrdiff_t l = net->n_layers - 1; l >= 0; l--) {
        const ptrdiff_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
        const T *d = w.delta + d_off;
        const T *a = FBP_LOCAL(layer_input)(net, x, w, l, &a_off);
        T *prev = l > 0 ? w.delta + a_off : NULL;
        T *W = params + net->w_offsets[l];
        ptrdiff_t j = 0;
        if (grad) {
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
        d_off = a_off;
    }
    return bad;
}

#if FBP_DOUBLE
#define FBP_SQRT sqrt
#else
#define FBP_SQRT sqrtf
#endif

/* One optimizer update of n parameters p from gradient sums g (times
 * scale: 1 / samples in the batch); s1 and s2 are their blocks of state,
 * t the number of this update (fbp_optimizer_options says how each works). */
static void FBP_LOCAL(update_range)(const fbp_optimizer_options *o, T *FBP_RESTRICT p,
                                    const T *FBP_RESTRICT g, T *FBP_RESTRICT s1,
                                    T *FBP_RESTRICT s2, ptrdiff_t n, T scale,
                                    ptrdiff_t t)
{
    const T lr = (T)o->lr, wd = (T)o->weight_decay, mom = (T)o->momentum;
    switch (o->kind) {
    case FBP_ADAM: {
        const T b1 = (T)o->beta1, b2 = (T)o->beta2, eps = (T)o->eps;
        const T step = (T)(o->lr / (1 - pow(o->beta1, (double)t)));
        const T root = (T)sqrt(1 - pow(o->beta2, (double)t));
        for (ptrdiff_t i = 0; i < n; i++) {
            const T d = scale * g[i] + wd * p[i];
            const T m = b1 * s1[i] + (1 - b1) * d, v = b2 * s2[i] + (1 - b2) * d * d;
            s1[i] = m;
            s2[i] = v;
            p[i] -= step * m / (FBP_SQRT(v) / root + eps);
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
            p[i] -= d > 0 ? step : d < 0 ? -step : 0;
            s1[i] = d;
            s2[i] = step;
        }
        break;
    }
    default:
        if (mom == 0) {
            for (ptrdiff_t i = 0; i < n; i++) p[i] -= lr * (scale * g[i] + wd * p[i]);
        } else {
            const int nesterov = o->nesterov;
            for (ptrdiff_t i = 0; i < n; i++) {
                const T d = scale * g[i] + wd * p[i], b = mom * s1[i] + d;
                s1[i] = b;
                p[i] -= lr * (nesterov ? d + mom * b : b);
            }
        }
        break;
    }
}

/* The update at the end of a batch, layer by layer over weights (and biases
 * if update_biases), from gradient sums `grad` over `count` samples; grad := 0.
 * `state` (n_params per block) and t as for update_range. With `check`,
 * returns nonzero if an updated parameter is not finite. */
static int FBP_LOCAL(optimizer_step)(const fbp_net *net, const fbp_train_options *opt,
                                     T *FBP_RESTRICT params, T *FBP_RESTRICT grad,
                                     T *state, ptrdiff_t count, ptrdiff_t t)
{
    const ptrdiff_t L = net->n_layers;
    const ptrdiff_t n_params = net->b_offsets[L - 1] >= 0
        ? net->b_offsets[L - 1] + net->sizes[L]
        : net->w_offsets[L - 1] + net->sizes[L] * net->sizes[L - 1];
    int bad = 0;
    for (ptrdiff_t l = 0; l < L; l++) {
        const ptrdiff_t n_out = net->sizes[l + 1], n_w = n_out * net->sizes[l];
        const ptrdiff_t n_b = net->b_offsets[l] >= 0 ? n_out : 0;
        /* Biases follow their layer's weights in the buffer (_layout.py). */
        const ptrdiff_t n = n_w + (opt->update_biases ? n_b : 0), at = net->w_offsets[l];
        T *p = params + at;
        FBP_LOCAL(update_range)(&opt->optim, p, grad + at, state ? state + at : NULL,
                                state ? state + n_params + at : NULL, n,
                                (T)1 / (T)count, t);
        if (opt->check_params)
            for (ptrdiff_t i = 0; i < n; i++) bad |= p[i] - p[i] != 0;
        memset(grad + at, 0, (size_t)(n_w + n_b) * sizeof(T));
    }
    return bad;
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

double FBP_ENTRY(fbp_fit)(const fbp_net *net, const fbp_train_options *opt,
                          T *params, const T *X, const T *Y, const T *sample_weight,
                          const ptrdiff_t *order, ptrdiff_t n_samples, T *workspace,
                          T *grad, T *state, ptrdiff_t *n_updates, ptrdiff_t *n_done)
{
    const ptrdiff_t n_in = net->sizes[0], K = net->sizes[net->n_layers];
    const ptrdiff_t batch = opt->batch_size > 1 ? opt->batch_size : 1;
    const fbp_optimizer_options *o = &opt->optim;
    const int fused = batch == 1 && o->kind == FBP_SGD && o->momentum == 0 &&
                      o->weight_decay == 0;
    FBP_LOCAL(work) w = FBP_LOCAL(split)(net, workspace);
    double total = 0, E;
    *n_done = 0;
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

void FBP_ENTRY(fbp_predict)(const fbp_net *net, const T *params, const T *X,
                            ptrdiff_t n_samples, T *out, T *workspace)
{
    const ptrdiff_t n_in = net->sizes[0], K = net->sizes[net->n_layers];
    FBP_LOCAL(work) w = FBP_LOCAL(split)(net, workspace);
    for (ptrdiff_t s = 0; s < n_samples; s++) {
        const T *o = FBP_LOCAL(forward)(net, params, X + s * n_in, w, 0);
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
        const T *o = FBP_LOCAL(forward)(net, params, X + s * n_in, w, 0);
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
    FBP_LOCAL(sample_step)(net, 0, 0, (T *)params, x, t, 1, w, grad, NULL, 0, 0, &E);
    return E;
}

#undef T
#undef BITS
#undef LN2_HI
#undef LN2_LO
#undef EXP_MIN
#undef EXP_SHIFT
#undef EXP_BIAS
#undef EXP_MANT
#undef FBP_SQRT
