/* Kernels over a few rows of a weight matrix, for the float type and
 * instruction set of the including file (fbp_core.template.h): the forward
 * products (dot, dot4, matvec) and the backward pass's rows, which update a
 * layer's weights (SGD) or add to its gradient while they sum the deltas of
 * the layer below. Four rows at a time share each load of the vector they
 * multiply; backward() in fbp_sample_loop.template.h walks a layer with them.
 */

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

/* Phase 4 fused with phase 3 for R consecutive rows of W (R = 4, written
 * out by hand lane by lane, or 1): prev += W_rows^T g with the weights from before
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
