/* The elementwise maths of the core, for the float type and instruction set
 * of the including file (fbp_core.template.h): lanes (a register's worth of
 * values) and their bit tricks, exp by polynomial, the activations and their
 * derivatives from outputs, and the loss of one sample. Everything here is
 * static and per float type (FBP_LOCAL); the loops that use it are in
 * fbp_sample_loop.template.h, fbp_tiny.template.h and
 * fbp_matrix_loop.template.h.
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
    if (act == FBP_EXP) {
        /* libm's exp: the lanes' exp is made for softmax's arguments (<= 0). */
        for (ptrdiff_t i = 0; i < n; i++) v[i] = (T)exp((double)net[i]);
        return;
    }
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
    if (act == FBP_EXP) {   /* exp' = exp */
        for (ptrdiff_t i = 0; i < n; i++) d[i] *= a[i];
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

/* 1/2 e^2, the squared error of one output that is off by e. */
static inline double FBP_LOCAL(half_square)(T e)
{
    return 0.5 * (double)e * e;
}

/* Phase 2, the loss: E of one sample with outputs o = f(z); *mass := sum(t)
 * for the cross-entropy, else 1 (output_deltas needs it). The log losses and
 * the Poisson deviance read z, their output activation's net input. */
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
    case FBP_POISSON:
        /* E = sum o - t z + t log t - t, o = exp(z): half the Poisson
         * deviance (scikit-learn's), 0 at o = t; its dE/dz is o - t. */
        for (ptrdiff_t k = 0; k < K; k++) {
            const double tk = t[k];
            E += (double)o[k] - tk * z[k] + (tk > 0 ? tk * log(tk) : 0) - tk;
        }
        break;
    default: /* FBP_SQUARED_ERROR */
        for (ptrdiff_t k = 0; k < K; k++) E += FBP_LOCAL(half_square)(o[k] - t[k]);
        break;
    }
    return E;
}

