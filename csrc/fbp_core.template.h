/* The backprop core, written once for both float types and compiled once per
 * instruction set. The including file defines
 *   FBP_T       float or double
 *   FBP_S       f32 or f64 (suffix of every symbol for that type)
 *   FBP_DOUBLE  1 for double, 0 for float
 *   FBP_ISA   baseline, avx2 or avx512 (suffix of the exported entries)
 * and includes this body once per type (pywt's wt.template.h does the same).
 *
 * Loops over restrict pointers, a register's worth of values ("lanes", see
 * below) at a time, for the instruction set the including file targets. One
 * training step has FANN's four phases: forward (fann_run), output deltas and
 * loss (fann_compute_MSE), backward (fann_backpropagate_MSE) and update
 * (fann_update_weights), the last two fused into one pass over each weight
 * matrix. Networks small enough to fit a layer in one register train in a
 * loop of their own (fit_tiny).
 */
#include <math.h>
#include <string.h>
#include <stdint.h>

#define FBP_CAT_(a, b) a##_##b
#define FBP_CAT(a, b) FBP_CAT_(a, b)
#define FBP_LOCAL(name) FBP_CAT(name, FBP_S)
#define FBP_ENTRY(name) FBP_CAT(FBP_CAT(name, FBP_S), FBP_ISA)

#define T FBP_T

/* exp(x) for x <= 0 as scale * (1 + m), m = expm1(r), with x = n ln2 + r,
 * n an integer, |r| <= ln2/2 (expm1_parts). Branch-free; within a few ulp of
 * libm. Below about x = EXP_MIN + 0.3, where exp(x) is under the smallest
 * normal number, n reaches the bottom exponent and scale is exactly 0, so
 * results there are 0 (or tiny subnormals just above it); NaN stays NaN (it
 * reaches m). */
#if FBP_DOUBLE
#define EXP_MIN (-709.0)   /* rounds n to -1023, whose scale bits are those of 0 */
#define EXP_SHIFT 6755399441055744.0 /* 1.5 * 2^52: adding it rounds to an integer in the low bits */
#define BITS uint64_t
#define FBP_PD_PS pd
#define EXP_BIAS 1023u
#define EXP_MANT 52
#define LN2_HI 6.93147180369123816490e-01 /* n * LN2_HI is exact */
#define LN2_LO 1.90821492927058770002e-10
#else
#define EXP_MIN (-88.0f)   /* rounds n to -127 */
#define EXP_SHIFT 12582912.0f /* 1.5 * 2^23 */
#define BITS uint32_t
#define FBP_PD_PS ps
#define EXP_BIAS 127u
#define EXP_MANT 23
#define LN2_HI 0.693145751953125f
#define LN2_LO 1.428606765330187045e-06f
#endif

/* Lanes: the elementwise maths works on FBP_LANES values of T at once, as a
 * GCC/clang vector the width of the instruction set's registers (16 bytes,
 * 32 with AVX; GCC splits any wider vector's comparisons into scalar ones),
 * or on a lone T where the compiler has no vector extensions (MSVC). One
 * source serves both: a comparison becomes a lane mask through FBP_MASK, and
 * blend() picks by it. The lane helpers are static and always inlined, so
 * the ABI note GCC gives for vectors passed by value does not apply. */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
/* The AVX builds say so with FBP_ISA_AVX: clang's target pragma, unlike
 * GCC's, leaves __AVX__ undefined. */
#if defined(__AVX__) || defined(FBP_ISA_AVX)
#define FBP_AVX 1
#define FBP_LANE_BYTES 32
#else
#define FBP_LANE_BYTES 16
#endif
#define FBP_LANES ((ptrdiff_t)(FBP_LANE_BYTES / sizeof(T)))
#define FBP_HAVE_LANES 1
typedef T FBP_LOCAL(lane) __attribute__((vector_size(FBP_LANE_BYTES)));
typedef BITS FBP_LOCAL(lane_bits) __attribute__((vector_size(FBP_LANE_BYTES)));
#define FBP_MASK(cond) ((LBITS)(cond))
#else
#define FBP_LANES 1
#define FBP_HAVE_LANES 0
typedef T FBP_LOCAL(lane);
typedef BITS FBP_LOCAL(lane_bits);
#define FBP_MASK(cond) ((BITS)0 - (BITS)((cond) != 0))
#endif
#define LANE FBP_LOCAL(lane)
#define LBITS FBP_LOCAL(lane_bits)

FBP_INLINE LBITS FBP_LOCAL(bits)(LANE x)
{
    LBITS u;
    memcpy(&u, &x, sizeof u);
    return u;
}

FBP_INLINE LANE FBP_LOCAL(from_bits)(LBITS u)
{
    LANE x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* mask ? a : b in each lane, mask from FBP_MASK: bit operations, as a
 * plain ?: becomes a branch that random signs mispredict half the time. */
FBP_INLINE LANE FBP_LOCAL(blend)(LBITS mask, LANE a, LANE b)
{
    return FBP_LOCAL(from_bits)((FBP_LOCAL(bits)(a) & mask) | (FBP_LOCAL(bits)(b) & ~mask));
}

/* -|x|, by setting the sign bit. */
FBP_INLINE LANE FBP_LOCAL(neg_abs)(LANE x)
{
    return FBP_LOCAL(from_bits)(FBP_LOCAL(bits)(x) | ((BITS)1 << (8 * sizeof(T) - 1)));
}

/* x, or c in the lanes where x < c; NaN stays NaN. On x86 one instruction
 * (max returns its second operand when either is NaN) in place of a
 * comparison and a blend: it is on the chain of every activation. */
#if FBP_HAVE_LANES && defined(FBP_AVX)
#include <immintrin.h>
#define FBP_MAX_LANES FBP_CAT(_mm256_max, FBP_PD_PS)
#elif FBP_HAVE_LANES && defined(__SSE2__)
#include <emmintrin.h>
#define FBP_MAX_LANES FBP_CAT(_mm_max, FBP_PD_PS)
#endif
FBP_INLINE LANE FBP_LOCAL(at_least)(LANE x, T c)
{
    const LANE zero = {0};
#ifdef FBP_MAX_LANES
    return FBP_MAX_LANES(zero + c, x);
#else
    return FBP_LOCAL(blend)(FBP_MASK(x < c), zero + c, x);
#endif
}

/* m, with exp(x) = *scale (1 + m), for x <= 0 in each lane. */
FBP_INLINE LANE FBP_LOCAL(expm1_parts)(LANE x, LANE *scale)
{
    const T log2e = (T)1.4426950408889634, shift = (T)EXP_SHIFT;
    const LANE xc = FBP_LOCAL(at_least)(x, (T)EXP_MIN);
    const LANE k = xc * log2e + shift;
    const LANE n = k - shift;
    /* x - n ln2 in two parts: r = x - n LN2_HI is exact and starts the series
     * at once; e^(-c), c = n LN2_LO (|c| < 2e-4), goes into the scale off the
     * chain of dependent operations, as 1 - c + c^2/2. */
    const LANE r = xc - n * (T)LN2_HI, c = n * (T)LN2_LO;
    *scale = FBP_LOCAL(from_bits)((FBP_LOCAL(bits)(k) + EXP_BIAS) << EXP_MANT) *
             (1 - c * (1 - (T)0.5 * c));
    /* Taylor series of e^r - 1 by Estrin's scheme: a short dependency chain
     * matters for the few units of a small network. */
    const LANE r2 = r * r, r4 = r2 * r2;
#if FBP_DOUBLE
    /* Terms to r^12 / 12!: truncation below 1 ulp for |r| <= ln2/2. */
    const LANE c45 = 1.0 / 24 + r * (1.0 / 120), c67 = 1.0 / 720 + r * (1.0 / 5040);
    const LANE c89 = 1.0 / 40320 + r * (1.0 / 362880);
    const LANE c1011 = 1.0 / 3628800 + r * (1.0 / 39916800);
    return ((r + r2 * (0.5 + r * (1.0 / 6))) + r4 * (c45 + r2 * c67)) +
           (r4 * r4) * ((c89 + r2 * c1011) + r4 * (1.0 / 479001600));
#else
    /* Terms to r^7 / 7!: truncation below 1e-8 for |r| <= ln2/2. */
    const LANE c45 = 1.0f / 24 + r * (1.0f / 120), c67 = 1.0f / 720 + r * (1.0f / 5040);
    return (r + r2 * (0.5f + r * (1.0f / 6))) + r4 * (c45 + r2 * c67);
#endif
}

/* f(x) in each lane for the elementwise activations (not softmax). */
FBP_INLINE LANE FBP_LOCAL(activate_lanes)(int act, LANE x)
{
    const LANE zero = {0};
    LANE s, m;
    switch (act) {
    case FBP_SIGMOID:
    {
        /* With e = exp(-|x|), which never overflows: 1 / (1 + e) for x >= 0,
         * e / (1 + e) below. 1 + e = (1 + s) + s m rounds once. The
         * numerator's choice is made on s, which is ready before m, so it
         * adds nothing to the chain: 1 + 0 m, or s + s m. */
        m = FBP_LOCAL(expm1_parts)(FBP_LOCAL(neg_abs)(x), &s);
        const LBITS pos = FBP_MASK(x >= 0);
        const LANE lead = FBP_LOCAL(blend)(pos, zero + 1, s);
        return (lead + FBP_LOCAL(blend)(pos, zero, s) * m) / ((1 + s) + s * m);
    }
    case FBP_TANH: {
        /* tanh|x| = -m / (2 + m), m = expm1(-2|x|): exact near 0 too. */
        m = FBP_LOCAL(expm1_parts)(2 * FBP_LOCAL(neg_abs)(x), &s);
        m = s * m + (s - 1);
        const LANE t = -m / (2 + m);
        return FBP_LOCAL(blend)(FBP_MASK(x < 0), -t, t);
    }
    case FBP_RELU:
        return FBP_LOCAL(blend)(FBP_MASK(x > 0), x, zero);
    case FBP_LEAKY_RELU:
        return FBP_LOCAL(blend)(FBP_MASK(x > 0), x, (T)FBP_LEAKY_SLOPE * x);
    default: /* FBP_IDENTITY */
        return x;
    }
}

/* f'(net) in each lane, taken from the outputs a = f(net) (not softmax). */
FBP_INLINE LANE FBP_LOCAL(slope_lanes)(int act, LANE a)
{
    const LANE zero = {0};
    switch (act) {
    case FBP_SIGMOID:
        return a - a * a;
    case FBP_TANH:
        return 1 - a * a;
    case FBP_RELU:
        return FBP_LOCAL(blend)(FBP_MASK(a > 0), zero + 1, zero);
    case FBP_LEAKY_RELU:
        return FBP_LOCAL(blend)(FBP_MASK(a > 0), zero + 1, zero + (T)FBP_LEAKY_SLOPE);
    default:
        return zero + 1;
    }
}

/* d * f'(net) in each lane (not softmax); 0 where relu's slope is, even for
 * an infinite d. */
FBP_INLINE LANE FBP_LOCAL(derivative_lanes)(int act, LANE a, LANE d)
{
    const LANE zero = {0};
    if (act == FBP_RELU) return FBP_LOCAL(blend)(FBP_MASK(a > 0), d, zero);
    return d * FBP_LOCAL(slope_lanes)(act, a);
}

/* Lane 0 of v. */
FBP_INLINE T FBP_LOCAL(first_lane)(LANE v)
{
    T lanes[FBP_LANES];
    memcpy(lanes, &v, sizeof v);
    return lanes[0];
}

/* v := p[0 .. FBP_LANES), and back. */
FBP_INLINE LANE FBP_LOCAL(load_lanes)(const T *p)
{
    LANE v;
    memcpy(&v, p, sizeof v);
    return v;
}

FBP_INLINE void FBP_LOCAL(store_lanes)(T *p, LANE v)
{
    memcpy(p, &v, sizeof v);
}

/* The sum of v's lanes, pairwise, in registers. */
FBP_INLINE T FBP_LOCAL(lane_sum)(LANE v)
{
    T x[FBP_LANES];
    memcpy(x, &v, sizeof v);
    for (ptrdiff_t half = FBP_LANES / 2; half > 0; half /= 2)
        for (ptrdiff_t k = 0; k < half; k++) x[k] += x[k + half];
    return x[0];
}

/* w . x: a sum per lane over whole lanes, then the lanes' sum and the last
 * few terms. Results differ from a sequential sum by rounding only. */
static inline T FBP_LOCAL(dot)(const T *FBP_RESTRICT w, const T *FBP_RESTRICT x,
                               ptrdiff_t n)
{
    LANE acc = {0};
    ptrdiff_t i = 0;
    for (; i + FBP_LANES <= n; i += FBP_LANES)
        acc += FBP_LOCAL(load_lanes)(w + i) * FBP_LOCAL(load_lanes)(x + i);
    T s = i > 0 ? FBP_LOCAL(lane_sum)(acc) : 0;
    for (; i < n; i++) s += w[i] * x[i];
    return s;
}

/* out[r] := W[r] . x for the 4 rows starting at W (stride n), summed as dot
 * does: four independent sums share each load of x. */
FBP_INLINE void FBP_LOCAL(dot4)(const T *FBP_RESTRICT W, const T *FBP_RESTRICT x,
                                ptrdiff_t n, T *FBP_RESTRICT out)
{
    const T *FBP_RESTRICT w0 = W, *FBP_RESTRICT w1 = W + n;
    const T *FBP_RESTRICT w2 = W + 2 * n, *FBP_RESTRICT w3 = W + 3 * n;
    LANE s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    ptrdiff_t i = 0;
    for (; i + FBP_LANES <= n; i += FBP_LANES) {
        const LANE xi = FBP_LOCAL(load_lanes)(x + i);
        s0 += FBP_LOCAL(load_lanes)(w0 + i) * xi;
        s1 += FBP_LOCAL(load_lanes)(w1 + i) * xi;
        s2 += FBP_LOCAL(load_lanes)(w2 + i) * xi;
        s3 += FBP_LOCAL(load_lanes)(w3 + i) * xi;
    }
    T t0 = FBP_LOCAL(lane_sum)(s0), t1 = FBP_LOCAL(lane_sum)(s1);
    T t2 = FBP_LOCAL(lane_sum)(s2), t3 = FBP_LOCAL(lane_sum)(s3);
    for (; i < n; i++) {
        t0 += w0[i] * x[i]; t1 += w1[i] * x[i]; t2 += w2[i] * x[i]; t3 += w3[i] * x[i];
    }
    out[0] = t0; out[1] = t1; out[2] = t2; out[3] = t3;
}

/* out := W x for an (n_out, n_in) row-major W. */
FBP_INLINE void FBP_LOCAL(matvec)(const T *W, const T *x, ptrdiff_t n_out,
                                     ptrdiff_t n_in, T *out)
{
    ptrdiff_t j = 0;
    for (; j + 4 <= n_out; j += 4) FBP_LOCAL(dot4)(W + j * n_in, x, n_in, out + j);
    for (; j < n_out; j++) out[j] = FBP_LOCAL(dot)(W + j * n_in, x, n_in);
}

/* f(x) in each lane: activate_lanes, or exp for FBP_SOFTMAX (x <= 0). */
FBP_INLINE LANE FBP_LOCAL(map_lane)(int act, LANE x)
{
    if (act != FBP_SOFTMAX) return FBP_LOCAL(activate_lanes)(act, x);
    LANE s;
    const LANE m = FBP_LOCAL(expm1_parts)(x, &s);
    return s + s * m;
}

/* v := map_lane(act, x) for n values, whole lanes at a time and the last
 * few through a zero-padded one; v may be x itself. */
FBP_INLINE void FBP_LOCAL(map_lanes)(int act, const T *x, T *v, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i + FBP_LANES <= n; i += FBP_LANES)
        FBP_LOCAL(store_lanes)(v + i, FBP_LOCAL(map_lane)(act, FBP_LOCAL(load_lanes)(x + i)));
    if (i < n) {
        T part[FBP_LANES] = {0};
        for (ptrdiff_t k = 0; k < n - i; k++) part[k] = x[i + k];
        FBP_LOCAL(store_lanes)(part, FBP_LOCAL(map_lane)(act, FBP_LOCAL(load_lanes)(part)));
        for (ptrdiff_t k = 0; k < n - i; k++) v[i + k] = part[k];
    }
}

/* v := f(net) for the n units of one layer; v may be net itself. */
FBP_INLINE void FBP_LOCAL(activate)(int act, const T *net, T *v, ptrdiff_t n)
{
    if (act != FBP_SOFTMAX) {
        FBP_LOCAL(map_lanes)(act, net, v, n);
        return;
    }
    T top = net[0], sum = 0;
    for (ptrdiff_t i = 1; i < n; i++) top = net[i] > top ? net[i] : top;
    for (ptrdiff_t i = 0; i < n; i++) v[i] = net[i] - top;
    FBP_LOCAL(map_lanes)(FBP_SOFTMAX, v, v, n);
    for (ptrdiff_t i = 0; i < n; i++) sum += v[i];
    for (ptrdiff_t i = 0; i < n; i++) v[i] /= sum;
}

/* d := d * f'(net), f' taken from the outputs a = f(net). */
FBP_INLINE void FBP_LOCAL(scale_by_derivative)(int act, const T *FBP_RESTRICT a,
                                                  T *FBP_RESTRICT d, ptrdiff_t n)
{
    if (act == FBP_SOFTMAX) {
        /* Full Jacobian: d_k := a_k (d_k - sum_j d_j a_j). */
        double dot = 0;
        for (ptrdiff_t i = 0; i < n; i++) dot += (double)d[i] * a[i];
        for (ptrdiff_t i = 0; i < n; i++) d[i] = a[i] * (d[i] - (T)dot);
        return;
    }
    ptrdiff_t i = 0;
    for (; i + FBP_LANES <= n; i += FBP_LANES)
        FBP_LOCAL(store_lanes)(d + i, FBP_LOCAL(derivative_lanes)(
            act, FBP_LOCAL(load_lanes)(a + i), FBP_LOCAL(load_lanes)(d + i)));
    /* The last few one by one: lane 0 of a lone value. */
    for (; i < n; i++) {
        const LANE al = {a[i]}, dl = {d[i]};
        d[i] = FBP_LOCAL(first_lane)(FBP_LOCAL(derivative_lanes)(act, al, dl));
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

/* 1/2 e^2, the squared error of one output that is off by e. */
static inline double FBP_LOCAL(half_square)(T e)
{
    return 0.5 * (double)e * e;
}

/* Phase 2, the loss: E of one sample with outputs o = f(z); *mass := sum(t)
 * for the cross-entropy, else 1 (output_deltas needs it). */
static inline double FBP_LOCAL(sample_loss)(const fbp_net *net, const T *o, const T *t,
                                            const T *z, T *mass)
{
    const ptrdiff_t K = net->sizes[net->n_layers];
    double E = 0;
    *mass = 1;
    switch (net->loss) {
    case FBP_BINARY_CROSS_ENTROPY:
        /* E = sum softplus(z) - t z, written so no term can overflow. */
        for (ptrdiff_t k = 0; k < K; k++) {
            double zk = z[k];
            E += (zk > 0 ? zk : 0) - zk * t[k] + log1p(exp(-fabs(zk)));
        }
        break;
    case FBP_CROSS_ENTROPY: {
        /* E = sum t_k (logsumexp(z) - z_k). */
        double top = z[0], sum = 0, m = 0;
        for (ptrdiff_t k = 1; k < K; k++) top = z[k] > top ? z[k] : top;
        for (ptrdiff_t k = 0; k < K; k++) sum += exp(z[k] - top);
        const double lse = top + log(sum);
        for (ptrdiff_t k = 0; k < K; k++) {
            E += t[k] * (lse - z[k]);
            m += t[k];
        }
        *mass = (T)m;
        break;
    }
    default: /* FBP_SQUARED_ERROR */
        for (ptrdiff_t k = 0; k < K; k++) E += FBP_LOCAL(half_square)(o[k] - t[k]);
        break;
    }
    return E;
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
    ptrdiff_t i = 0;
    for (ptrdiff_t r = 0; r < R; r++) step[r] = lr * g[r];
    if (prev && R == 4) {
        /* Whole lanes written out: clang leaves the loop below scalar. */
        const LANE zero = {0};
        const T g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3];
        T *FBP_RESTRICT w0 = W, *FBP_RESTRICT w1 = W + n_in;
        T *FBP_RESTRICT w2 = W + 2 * n_in, *FBP_RESTRICT w3 = W + 3 * n_in;
        for (; i + FBP_LANES <= n_in; i += FBP_LANES) {
            const LANE ai = FBP_LOCAL(load_lanes)(a + i);
            const LANE u0 = FBP_LOCAL(load_lanes)(w0 + i), u1 = FBP_LOCAL(load_lanes)(w1 + i);
            const LANE u2 = FBP_LOCAL(load_lanes)(w2 + i), u3 = FBP_LOCAL(load_lanes)(w3 + i);
            LANE back = fresh ? zero : FBP_LOCAL(load_lanes)(prev + i);
            back += u0 * g0;
            back += u1 * g1;
            back += u2 * g2;
            back += u3 * g3;
            FBP_LOCAL(store_lanes)(w0 + i, u0 - step[0] * ai);
            FBP_LOCAL(store_lanes)(w1 + i, u1 - step[1] * ai);
            FBP_LOCAL(store_lanes)(w2 + i, u2 - step[2] * ai);
            FBP_LOCAL(store_lanes)(w3 + i, u3 - step[3] * ai);
            FBP_LOCAL(store_lanes)(prev + i, back);
        }
    }
    if (prev) {
        for (; i < n_in; i++) {
            T back = fresh ? 0 : prev[i];
            for (ptrdiff_t r = 0; r < R; r++) {
                const T w = W[r * n_in + i];
                back += w * g[r];
                W[r * n_in + i] = w - step[r] * a[i];
            }
            prev[i] = back;
        }
    } else {
        for (; i < n_in; i++)
            for (ptrdiff_t r = 0; r < R; r++) W[r * n_in + i] -= step[r] * a[i];
    }
    if (check) {
        for (ptrdiff_t k = 0; k < R * n_in; k++) bad |= W[k] - W[k] != 0;
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
    if (n_in < FBP_LANES || R == 1) {
        /* Short rows gain nothing from one pass; a lone row is rare. */
        const int bad = FBP_LOCAL(sgd_rows)(W, n_in, R, a, g, lr, NULL, 0, check);
        for (ptrdiff_t r = 0; r < R; r++)
            out_next[r] = FBP_LOCAL(dot)(W + r * n_in, x_next, n_in);
        return bad;
    }
    T *FBP_RESTRICT w0 = W, *FBP_RESTRICT w1 = W + n_in;
    T *FBP_RESTRICT w2 = W + 2 * n_in, *FBP_RESTRICT w3 = W + 3 * n_in;
    const T c0 = lr * g[0], c1 = lr * g[1], c2 = lr * g[2], c3 = lr * g[3];
    LANE s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    ptrdiff_t i = 0;
    for (; i + FBP_LANES <= n_in; i += FBP_LANES) {
        const LANE ai = FBP_LOCAL(load_lanes)(a + i), xi = FBP_LOCAL(load_lanes)(x_next + i);
        const LANE u0 = FBP_LOCAL(load_lanes)(w0 + i) - c0 * ai;
        const LANE u1 = FBP_LOCAL(load_lanes)(w1 + i) - c1 * ai;
        const LANE u2 = FBP_LOCAL(load_lanes)(w2 + i) - c2 * ai;
        const LANE u3 = FBP_LOCAL(load_lanes)(w3 + i) - c3 * ai;
        FBP_LOCAL(store_lanes)(w0 + i, u0);
        FBP_LOCAL(store_lanes)(w1 + i, u1);
        FBP_LOCAL(store_lanes)(w2 + i, u2);
        FBP_LOCAL(store_lanes)(w3 + i, u3);
        s0 += u0 * xi; s1 += u1 * xi; s2 += u2 * xi; s3 += u3 * xi;
    }
    T t0 = FBP_LOCAL(lane_sum)(s0), t1 = FBP_LOCAL(lane_sum)(s1);
    T t2 = FBP_LOCAL(lane_sum)(s2), t3 = FBP_LOCAL(lane_sum)(s3);
    for (; i < n_in; i++) {
        w0[i] -= c0 * a[i]; w1[i] -= c1 * a[i]; w2[i] -= c2 * a[i]; w3[i] -= c3 * a[i];
        t0 += w0[i] * x_next[i]; t1 += w1[i] * x_next[i];
        t2 += w2[i] * x_next[i]; t3 += w3[i] * x_next[i];
    }
    out_next[0] = t0; out_next[1] = t1; out_next[2] = t2; out_next[3] = t3;
    int bad = 0;
    if (check)
        for (ptrdiff_t k = 0; k < 4 * n_in; k++) bad |= W[k] - W[k] != 0;
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

#if FBP_HAVE_LANES
/* Tiny networks: at most FBP_TINY_LAYERS layers, none wider than FBP_LANES
 * units, no softmax. fbp_fit trains them per sample in fit_tiny, each
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
        if (net->activations[l] == FBP_SOFTMAX) return 0;
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

/* fbp_fit's per-sample SGD on a tiny network (is_tiny), same contract,
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
#endif

double FBP_ENTRY(fbp_fit)(const fbp_net *net, const fbp_train_options *opt,
                          T *params, const T *X, const T *Y, const T *sample_weight,
                          const ptrdiff_t *order, ptrdiff_t n_samples, T *workspace,
                          T *grad, T *state, ptrdiff_t *n_updates, ptrdiff_t *n_done)
{
    const ptrdiff_t n_in = net->sizes[0], K = net->sizes[net->n_layers];
    const ptrdiff_t batch = opt->batch_size > 1 ? opt->batch_size : 1;
    const fbp_optimizer_options *o = &opt->optim;
    const int fused = batch == 1 && fbp_plain_sgd(o);
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
#undef LANE
#undef FBP_PD_PS
#undef FBP_MAX_LANES
#undef LBITS
#undef FBP_MASK
#undef FBP_LANES
#undef FBP_LANE_BYTES
#undef FBP_HAVE_LANES
#undef FBP_AVX
#undef FBP_TINY_LAYERS
