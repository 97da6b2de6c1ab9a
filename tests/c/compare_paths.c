/* Compares the AVX2 and AVX-512 builds of fastbp's C core with its baseline
 * build, on whichever of them this CPU runs. tools/avx512_bochs/run.sh runs
 * it on the host and in an emulated Skylake-X (for CPUs without AVX-512); on
 * the host alone, from the repository's root, with setup.py's flags:
 *   gcc -O3 -std=c99 -fno-trapping-math -fno-math-errno -fopenmp-simd \
 *       -ffp-contract=fast -Icsrc csrc/fbp_*.c tests/c/compare_paths.c -lm \
 *       -o compare_paths && ./compare_paths
 * (about 20 s of compiling, 1 s of running: too slow for the pytest suite).
 *
 * A case is a shape, a hidden activation, an output activation with its loss,
 * and a float type. Every path starts from the same random parameters and
 * data and calls each entry point: fit with per-sample SGD, fit with Adam in
 * batches of 4 (the optimizer-step code), predict, loss and gradient. Nothing
 * calls fbp_set_gemm, so all of them run the per-sample loops, which are what
 * each instruction set's build vectorises, not the BLAS matrix path.
 *
 * Output: one line per case with each path's normwise relative difference
 * from the baseline, max_i |a_i - b_i| / max_i |b_i| over a vector (the
 * parameters after fit, predict's outputs, the gradient) or |a - b| / |b| for
 * a returned loss, and a hash of each path's raw results, which run.sh
 * compares between the emulator and the host. Then the largest differences
 * per shape and float type, and a SUMMARY line. Exit status 0 when every case
 * ran and agreed within the tolerance, else 1.
 *
 * Each case runs in a child process: a crash (an instruction the CPU or the
 * emulator lacks, say) is reported with the entry point it hit, and the
 * other cases still run. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cpuid.h>

#include "fbp_kernels.h"

#define N_SAMPLES 200
#define N_GRAD 20 /* samples whose gradients gradient() sums */
/* Those of tests/test_equivalence.py: after an epoch, rounding differences
 * (FMA, summation order across lanes) stay far below them. */
#define TOL_F32 1e-4
#define TOL_F64 1e-10

/* Not torch's 1e-8. Where a gradient nearly cancels the weight decay, Adam's
 * first step is about lr g / (|g| + eps), which amplifies g's rounding error
 * up to lr / eps times: with 1e-8, two correct float32 paths differed by 2e-4
 * on a 64-128-10 case. 1e-3 keeps Adam's differences at SGD's level. */
#define ADAM_EPS 1e-3

/* Layer sizes, input first; 0 ends a shorter list. */
#define MAX_LAYERS 3
static const ptrdiff_t shapes[][MAX_LAYERS + 1] = {
    {2, 2, 2}, {3, 5, 2}, {8, 16, 4}, {17, 33, 5}, {64, 128, 10}, {5, 7, 6, 3},
};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])
static const int hidden_acts[] = {FBP_SIGMOID, FBP_TANH, FBP_RELU, FBP_IDENTITY,
                                  FBP_LEAKY_RELU};
#define N_HIDDEN (int)(sizeof hidden_acts / sizeof hidden_acts[0])
/* Output layers: squared error with the hidden activation, squared error
 * with identity, sigmoid with binary cross-entropy, softmax with
 * cross-entropy. */
enum { OUT_SAME, OUT_IDENTITY, OUT_BCE, OUT_CE, N_OUTS };

static const char *act_name(int a)
{
    static const char *const names[] = {"ident", "sigm", "tanh", "relu", "lrelu", "smax"};
    return names[a];
}
static const char *loss_name(int l)
{
    return l == FBP_SQUARED_ERROR ? "SE" : l == FBP_BINARY_CROSS_ENTROPY ? "BCE" : "CE";
}
static void shape_name(int shape, char *buf, size_t size)
{
    buf[0] = 0;
    for (int l = 0; l <= MAX_LAYERS && shapes[shape][l]; l++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%td", l ? "-" : "", shapes[shape][l]);
}

enum { FIT_P, FIT_L, ADAM_P, PRED, LOSS, GRAD, N_DIFFS };
static const char *const diff_names[N_DIFFS] = {"fitP", "fitL", "adamP", "pred", "loss", "grad"};
static const char *const path_names[FBP_N_PATHS] = {"baseline", "avx2", "avx512"};

/* What a child process hands back to the parent, in shared memory. */
typedef struct {
    const char *stage, *stage_path; /* the call running, for a crash report */
    int done;
    double diff[FBP_N_PATHS][N_DIFFS]; /* vs the baseline; row 0 unused */
    int nonfinite[FBP_N_PATHS];        /* a NaN or an infinity in its results */
    int n_done_differs[FBP_N_PATHS];   /* fit stopped early and the baseline not, or the reverse */
    uint64_t hash[FBP_N_PATHS];
} case_report;
static case_report *report;

/* xorshift64*: the same data on every machine, whatever its libc. */
static uint64_t rng_state;
static double urand(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

/* FNV-1a */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

/* A case's network, parameters and data, in double. */
typedef struct {
    ptrdiff_t sizes[MAX_LAYERS + 1], woff[MAX_LAYERS], boff[MAX_LAYERS];
    ptrdiff_t units[MAX_LAYERS + 1]; /* fbp_net_init's unit offsets */
    int acts[MAX_LAYERS];
    fbp_net net;
    size_t n_params, n_out;
    double *p0, *X, *Y;
} problem;

/* One path's results, in double. */
typedef struct {
    double *fit_params, *adam_params, *pred, *grad;
    double fit_loss, loss, grad_E;
    ptrdiff_t fit_done;
} result;

static void at(const char *stage, const fbp_kernels *k)
{
    report->stage = stage;
    report->stage_path = k->name;
}

#define DEFINE_RUN(T, S)                                                                  \
    static uint64_t run_##S(const fbp_kernels *k, const problem *pb, result *r)           \
    {                                                                                     \
        const fbp_net *net = &pb->net;                                                    \
        const size_t np = pb->n_params, nx = N_SAMPLES * pb->sizes[0], ny = pb->n_out;    \
        T *p0 = malloc(np * sizeof(T)), *p = malloc(np * sizeof(T));                      \
        T *X = malloc(nx * sizeof(T)), *Y = malloc(ny * sizeof(T));                       \
        T *out = malloc(ny * sizeof(T)), *grad = calloc(np, sizeof(T));                   \
        T *state = calloc(2 * np, sizeof(T));                                             \
        T *ws = calloc(net->workspace_size, sizeof(T));                                   \
        ptrdiff_t order[N_SAMPLES], n_updates = 0;                                        \
        for (size_t i = 0; i < np; i++) p0[i] = (T)pb->p0[i];                             \
        for (size_t i = 0; i < nx; i++) X[i] = (T)pb->X[i];                               \
        for (size_t i = 0; i < ny; i++) Y[i] = (T)pb->Y[i];                               \
        /* a permutation: 7 and N_SAMPLES are coprime */                                 \
        for (ptrdiff_t i = 0; i < N_SAMPLES; i++) order[i] = (i * 7) % N_SAMPLES;         \
        uint64_t h = 1469598103934665603ull;                                              \
                                                                                          \
        fbp_train_options opt;                                                            \
        memset(&opt, 0, sizeof opt);                                                      \
        opt.optim.kind = FBP_SGD;                                                         \
        opt.optim.lr = 0.05;                                                              \
        opt.loss_scale = 1.0 / N_SAMPLES;                                                 \
        opt.batch_size = 1;                                                               \
        opt.finish = 1;                                                                   \
        opt.update_biases = 1;                                                            \
        opt.special_paths = 1;                                                            \
        memcpy(p, p0, np * sizeof(T));                                                    \
        at("fit (SGD, batch 1)", k);                                                      \
        r->fit_loss = k->fit_##S(net, &opt, p, X, Y, NULL, order, N_SAMPLES, ws, grad,    \
                                 state, &n_updates, &r->fit_done);                        \
        for (size_t i = 0; i < np; i++) r->fit_params[i] = p[i];                          \
        h = fnv(h, p, np * sizeof(T));                                                    \
                                                                                          \
        opt.optim.kind = FBP_ADAM;                                                        \
        opt.optim.lr = 0.01;                                                              \
        opt.optim.weight_decay = 1e-3;                                                    \
        opt.optim.beta1 = 0.9;                                                            \
        opt.optim.beta2 = 0.999;                                                          \
        opt.optim.eps = ADAM_EPS;                                                         \
        opt.batch_size = 4;                                                               \
        ptrdiff_t adam_done;                                                              \
        n_updates = 0;                                                                    \
        memset(grad, 0, np * sizeof(T));                                                  \
        memset(state, 0, 2 * np * sizeof(T));                                             \
        memcpy(p, p0, np * sizeof(T));                                                    \
        at("fit (Adam, batch 4)", k);                                                     \
        k->fit_##S(net, &opt, p, X, Y, NULL, order, N_SAMPLES, ws, grad, state,           \
                   &n_updates, &adam_done);                                               \
        for (size_t i = 0; i < np; i++) r->adam_params[i] = p[i];                         \
        h = fnv(h, p, np * sizeof(T));                                                    \
                                                                                          \
        at("predict", k);                                                                 \
        k->predict_##S(net, p0, X, N_SAMPLES, out, ws);                                   \
        for (size_t i = 0; i < ny; i++) r->pred[i] = out[i];                              \
        h = fnv(h, out, ny * sizeof(T));                                                  \
                                                                                          \
        at("loss", k);                                                                    \
        r->loss = k->loss_##S(net, p0, X, Y, N_SAMPLES, ws);                              \
        h = fnv(h, &r->loss, sizeof r->loss);                                             \
                                                                                          \
        at("gradient", k);                                                                \
        memset(grad, 0, np * sizeof(T));                                                  \
        r->grad_E = 0;                                                                    \
        for (ptrdiff_t s = 0; s < N_GRAD; s++)                                            \
            r->grad_E += k->gradient_##S(net, p0, X + s * pb->sizes[0],                   \
                                         Y + s * pb->sizes[net->n_layers], ws, grad);     \
        for (size_t i = 0; i < np; i++) r->grad[i] = grad[i];                             \
        h = fnv(h, grad, np * sizeof(T));                                                 \
                                                                                          \
        free(p0); free(p); free(X); free(Y); free(out); free(grad); free(state); free(ws); \
        return h;                                                                         \
    }
DEFINE_RUN(float, f32)
DEFINE_RUN(double, f64)

static double vec_diff(const double *a, const double *b, size_t n, int *nonfinite)
{
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) *nonfinite = 1;
        md = fmax(md, fabs(a[i] - b[i]));
        mb = fmax(mb, fabs(b[i]));
    }
    return mb > 0 ? md / mb : md;
}
static double scalar_diff(double a, double b, int *nonfinite)
{
    return vec_diff(&a, &b, 1, nonfinite);
}

/* The case's network, and its parameters and data from a seed. */
static void make_problem(problem *pb, int shape, int hidden, int out, uint64_t seed)
{
    memset(pb, 0, sizeof *pb);
    ptrdiff_t L = 0;
    while (L < MAX_LAYERS && shapes[shape][L + 1]) L++;
    size_t np = 0;
    for (ptrdiff_t l = 0; l <= L; l++) pb->sizes[l] = shapes[shape][l];
    for (ptrdiff_t l = 0; l < L; l++) {
        pb->woff[l] = np;
        np += pb->sizes[l] * pb->sizes[l + 1];
        pb->boff[l] = np;
        np += pb->sizes[l + 1];
        pb->acts[l] = hidden;
    }
    int loss = FBP_SQUARED_ERROR;
    if (out == OUT_IDENTITY) pb->acts[L - 1] = FBP_IDENTITY;
    if (out == OUT_BCE) { pb->acts[L - 1] = FBP_SIGMOID; loss = FBP_BINARY_CROSS_ENTROPY; }
    if (out == OUT_CE) { pb->acts[L - 1] = FBP_SOFTMAX; loss = FBP_CROSS_ENTROPY; }
    pb->net = (fbp_net){L, pb->sizes, pb->woff, pb->boff, pb->acts, loss};
    if (fbp_net_init(&pb->net, pb->units) != FBP_NET_OK) {
        fprintf(stderr, "fbp_net_init refused case %d\n", shape);
        exit(1);
    }
    const ptrdiff_t n_in = pb->sizes[0], K = pb->sizes[L];
    pb->n_params = np;
    pb->n_out = (size_t)N_SAMPLES * K;
    pb->p0 = malloc(np * sizeof(double));
    pb->X = malloc((size_t)N_SAMPLES * n_in * sizeof(double));
    pb->Y = malloc(pb->n_out * sizeof(double));

    rng_state = seed;
    for (ptrdiff_t l = 0; l < L; l++) {
        const double scale = 2.0 / sqrt((double)pb->sizes[l]);
        for (ptrdiff_t i = 0; i < pb->sizes[l] * pb->sizes[l + 1]; i++)
            pb->p0[pb->woff[l] + i] = (urand() - 0.5) * scale;
        for (ptrdiff_t i = 0; i < pb->sizes[l + 1]; i++)
            pb->p0[pb->boff[l] + i] = (urand() - 0.5) * 0.2;
    }
    for (ptrdiff_t i = 0; i < N_SAMPLES * n_in; i++) pb->X[i] = urand() * 2 - 1;
    /* Targets the output activation can reach. */
    for (ptrdiff_t s = 0; s < N_SAMPLES; s++) {
        double *y = pb->Y + s * K;
        if (loss == FBP_CROSS_ENTROPY) {
            const ptrdiff_t c = (ptrdiff_t)(urand() * K) % K;
            for (ptrdiff_t j = 0; j < K; j++) y[j] = j == c;
        } else if (loss == FBP_BINARY_CROSS_ENTROPY) {
            for (ptrdiff_t j = 0; j < K; j++) y[j] = urand() < 0.5;
        } else {
            for (ptrdiff_t j = 0; j < K; j++)
                y[j] = pb->acts[L - 1] == FBP_TANH ? urand() * 1.6 - 0.8 : urand() * 0.8 + 0.1;
        }
    }
}

/* Runs in the child: every path on one case, results into *report. The
 * child exits next, so nothing here is freed. */
static void run_case(const fbp_kernels *const *paths, const problem *pb, int f64)
{
    const size_t np = pb->n_params, ny = pb->n_out;
    result r[FBP_N_PATHS];
    for (int pi = 0; pi < FBP_N_PATHS; pi++) {
        if (!paths[pi]) continue;
        r[pi].fit_params = malloc(np * sizeof(double));
        r[pi].adam_params = malloc(np * sizeof(double));
        r[pi].grad = malloc(np * sizeof(double));
        r[pi].pred = malloc(ny * sizeof(double));
        report->hash[pi] = f64 ? run_f64(paths[pi], pb, &r[pi]) : run_f32(paths[pi], pb, &r[pi]);
    }
    const result *b = &r[0];
    for (int pi = 1; pi < FBP_N_PATHS; pi++) {
        if (!paths[pi]) continue;
        const result *a = &r[pi];
        double *d = report->diff[pi];
        int *nf = &report->nonfinite[pi];
        d[FIT_P] = vec_diff(a->fit_params, b->fit_params, np, nf);
        d[FIT_L] = scalar_diff(a->fit_loss, b->fit_loss, nf);
        d[ADAM_P] = vec_diff(a->adam_params, b->adam_params, np, nf);
        d[PRED] = vec_diff(a->pred, b->pred, ny, nf);
        d[LOSS] = scalar_diff(a->loss, b->loss, nf);
        d[GRAD] = fmax(vec_diff(a->grad, b->grad, np, nf), scalar_diff(a->grad_E, b->grad_E, nf));
        report->n_done_differs[pi] = a->fit_done != b->fit_done;
    }
    report->done = 1;
}

/* What CPUID and XCR0 offer, which fbp_dispatch.c goes by. */
static void print_cpu(void)
{
    unsigned a = 0, b = 0, c = 0, d = 0, xcr0 = 0, edx;
    __get_cpuid(1, &a, &b, &c, &d);
    const unsigned osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (osxsave) __asm__("xgetbv" : "=a"(xcr0), "=d"(edx) : "c"(0));
    __get_cpuid_count(7, 0, &a, &b, &c, &d);
    printf("cpu: osxsave=%u avx=%u fma=%u avx2=%u avx512f=%u dq=%u bw=%u vl=%u xcr0=0x%x\n",
           osxsave, avx, fma, (b >> 5) & 1, (b >> 16) & 1, (b >> 17) & 1, (b >> 30) & 1,
           (b >> 31) & 1, xcr0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    report = mmap(NULL, sizeof *report, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                  -1, 0);
    if (report == MAP_FAILED) { perror("mmap"); return 1; }

    print_cpu();
    const fbp_kernels *paths[FBP_N_PATHS];
    for (int pi = 0; pi < FBP_N_PATHS; pi++) {
        paths[pi] = fbp_path(pi);
        printf("fbp_path(%d) = %s\n", pi, paths[pi] ? paths[pi]->name : "NULL (not available)");
    }

    /* Per shape and float type: cases, largest differences, and cases in
     * which avx512's results are not bit for bit avx2's. */
    struct { int n; double max[FBP_N_PATHS][N_DIFFS]; int differs_avx2; } table[N_SHAPES][2];
    memset(table, 0, sizeof table);
    int n_cases = 0, n_crashed = 0, n_failed = 0;

    printf("\ncase shape hidden output/loss type | path:");
    for (int di = 0; di < N_DIFFS; di++) printf(" %s", diff_names[di]);
    printf(" (relative to baseline) | hashes of baseline avx2 avx512\n");
    for (int si = 0; si < N_SHAPES; si++)
        for (int hi = 0; hi < N_HIDDEN; hi++)
            for (int oi = 0; oi < N_OUTS; oi++) {
                /* identity-output is OUT_SAME for an identity network */
                if (oi == OUT_IDENTITY && hidden_acts[hi] == FBP_IDENTITY) continue;
                problem pb;
                /* The same parameters and data for both float types. */
                make_problem(&pb, si, hidden_acts[hi], oi,
                             88172645463325252ull + (uint64_t)n_cases * 7919);
                const fbp_net *net = &pb.net;
                char shape[64], out[32];
                shape_name(si, shape, sizeof shape);
                snprintf(out, sizeof out, "%s/%s", act_name(pb.acts[net->n_layers - 1]),
                         loss_name(net->loss));

                for (int f64 = 0; f64 < 2; f64++, n_cases++) {
                    printf("case %3d %-10s %-5s %-10s %s", n_cases, shape,
                           act_name(hidden_acts[hi]), out, f64 ? "f64" : "f32");
                    memset(report, 0, sizeof *report);
                    fflush(stdout);
                    const pid_t pid = fork();
                    if (pid < 0) { perror("fork"); return 1; }
                    if (pid == 0) {
                        run_case(paths, &pb, f64);
                        _exit(0);
                    }
                    int status;
                    waitpid(pid, &status, 0);
                    if (!report->done) {
                        if (WIFSIGNALED(status))
                            printf(" | CRASH: signal %d (%s)", WTERMSIG(status),
                                   strsignal(WTERMSIG(status)));
                        else
                            printf(" | CRASH: exit status %d", WEXITSTATUS(status));
                        printf(" in %s %s\n", report->stage_path ? report->stage_path : "",
                               report->stage ? report->stage : "setup");
                        n_crashed++;
                        continue;
                    }

                    const double tol = f64 ? TOL_F64 : TOL_F32;
                    int fail = 0;
                    table[si][f64].n++;
                    for (int pi = FBP_N_PATHS - 1; pi > 0; pi--) {
                        printf(" | %s:", path_names[pi]);
                        if (!paths[pi]) { printf(" n/a"); continue; }
                        for (int di = 0; di < N_DIFFS; di++) {
                            const double d = report->diff[pi][di];
                            printf(" %.1e", d);
                            fail |= d > tol;
                            table[si][f64].max[pi][di] = fmax(table[si][f64].max[pi][di], d);
                        }
                        if (report->nonfinite[pi]) printf(" NONFINITE");
                        if (report->n_done_differs[pi]) printf(" N_DONE_DIFFERS");
                        fail |= report->nonfinite[pi] || report->n_done_differs[pi];
                    }
                    if (paths[FBP_PATH_AVX512] && paths[FBP_PATH_AVX2])
                        table[si][f64].differs_avx2 +=
                            report->hash[FBP_PATH_AVX512] != report->hash[FBP_PATH_AVX2];
                    printf(" | h");
                    for (int pi = 0; pi < FBP_N_PATHS; pi++)
                        if (paths[pi]) printf(" %016" PRIx64, report->hash[pi]);
                        else printf(" -");
                    printf("%s\n", fail ? " FAIL" : "");
                    n_failed += fail;
                }
                free(pb.p0); free(pb.X); free(pb.Y);
            }

    printf("\nlargest difference from baseline over each row's cases; last column: cases in "
           "which avx512's results differ from avx2's in any bit\n");
    printf("%-10s %-4s %5s", "shape", "type", "cases");
    for (int pi = FBP_N_PATHS - 1; pi > 0; pi--) {
        printf(" | %-6s", path_names[pi]);
        for (int di = 0; di < N_DIFFS; di++) printf("  %-7s", diff_names[di]);
    }
    printf(" | avx512!=avx2\n");
    for (int si = 0; si < N_SHAPES; si++)
        for (int f64 = 0; f64 < 2; f64++) {
            char shape[64];
            shape_name(si, shape, sizeof shape);
            printf("%-10s %-4s %5d", shape, f64 ? "f64" : "f32", table[si][f64].n);
            for (int pi = FBP_N_PATHS - 1; pi > 0; pi--) {
                printf(" | %-6s", "");
                for (int di = 0; di < N_DIFFS; di++)
                    if (paths[pi]) printf("  %.1e", table[si][f64].max[pi][di]);
                    else printf("  %-7s", "n/a");
            }
            if (paths[FBP_PATH_AVX512] && paths[FBP_PATH_AVX2])
                printf(" | %d\n", table[si][f64].differs_avx2);
            else
                printf(" | n/a\n");
        }
    printf("\nSUMMARY: %d cases, %d crashed, %d above the tolerance (f32 %.0e, f64 %.0e) or "
           "not finite\n", n_cases, n_crashed, n_failed, TOL_F32, TOL_F64);
    return n_crashed || n_failed;
}
