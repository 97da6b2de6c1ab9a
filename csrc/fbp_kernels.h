/* fastbp C core: per-sample backpropagation over one flat parameter buffer.
 *
 * No Python, no NumPy: callers pass pointers, sizes and offsets, and own all
 * memory. Every entry point exists for float and double, and is compiled once
 * per instruction set (see fbp_dispatch.c); a const table of function pointers
 * per instruction set is what callers pick from.
 *
 * Layout: layer l (0 <= l < n_layers) maps sizes[l] inputs to sizes[l+1]
 * outputs. Its weights start at params[w_offsets[l]], row-major
 * (n_out, n_in), row j holding the weights into unit j; its biases start at
 * params[b_offsets[l]], right after them, or b_offsets[l] < 0 when the
 * network has none. Layer l + 1 starts where layer l ends, layer 0 at 0
 * (fbp_net_init checks all this).
 */
#ifndef FASTBP_KERNELS_H_
#define FASTBP_KERNELS_H_

#include <stddef.h>

#if defined(_MSC_VER)
#define FBP_RESTRICT __restrict
#else
#define FBP_RESTRICT restrict
#endif

/* A loop whose float sums the compiler may split across vector lanes
 * (OpenMP SIMD, enabled by -fopenmp-simd without any OpenMP runtime). */
#define FBP_PRAGMA(x) _Pragma(#x)
#if defined(_OPENMP) || defined(__clang__) || defined(__GNUC__)
#define FBP_SIMD_REDUCE(...) FBP_PRAGMA(omp simd reduction(+ : __VA_ARGS__))
#else
#define FBP_SIMD_REDUCE(...)
#endif

/* FBP_UNLIKELY(c): c, for a branch the compiler should lay out as the rare one. */
#if defined(__GNUC__)
#define FBP_INLINE static inline __attribute__((always_inline))
#define FBP_UNLIKELY(c) __builtin_expect(!!(c), 0)
#else
#define FBP_INLINE static inline
#define FBP_UNLIKELY(c) (c)
#endif

/* Per-file x86 targets need GCC or clang; elsewhere only the baseline path
 * is built. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define FBP_X86_MULTIVERSION 1
#if defined(__clang__)
#define FBP_TARGET_PUSH(t) \
    FBP_PRAGMA(clang attribute push(__attribute__((target(t))), apply_to = function))
#define FBP_TARGET_POP FBP_PRAGMA(clang attribute pop)
#define FBP_AVX512_TARGET "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma"
#else
/* GCC's generic tuning would split AVX-512 loops into 256-bit halves. */
#define FBP_AVX512_TARGET \
    "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512"
#define FBP_TARGET_PUSH(t) FBP_PRAGMA(GCC push_options) FBP_PRAGMA(GCC target(t))
#define FBP_TARGET_POP FBP_PRAGMA(GCC pop_options)
#endif
#else
#define FBP_X86_MULTIVERSION 0
#endif

/* Codes shared with Python through _kernels.pxd. */
typedef enum {
    FBP_IDENTITY = 0,
    FBP_SIGMOID = 1,
    FBP_TANH = 2,
    FBP_RELU = 3,
    FBP_LEAKY_RELU = 4,
    FBP_SOFTMAX = 5,
    FBP_EXP = 6
} fbp_activation;

typedef enum {
    FBP_SQUARED_ERROR = 0,
    FBP_BINARY_CROSS_ENTROPY = 1,
    FBP_CROSS_ENTROPY = 2,
    FBP_POISSON = 3       /* half the Poisson deviance, with an exp output */
} fbp_loss;

/* Slope of leaky_relu for negative inputs (PyTorch's default). */
#define FBP_LEAKY_SLOPE 0.01

/* The per-sample loop's workspace: offsets of its blocks, in elements. */
typedef struct {
    ptrdiff_t out;    /* outputs of layers 1..L, concatenated */
    ptrdiff_t delta;  /* dE/dnet of layers 1..L, likewise */
    ptrdiff_t z;      /* the output layer's net input (for the log losses) */
    ptrdiff_t size;
} fbp_sample_workspace;

/* The matrix loop's workspace for chunks of up to `rows` samples: each
 * layer's block of `out` and `delta` starts at rows times the units below it
 * (unit_offsets), so a chunk of fewer rows keeps the same layout. */
typedef struct {
    ptrdiff_t rows;   /* rows per chunk (FBP_CHUNK_ROWS, FBP_CHUNK_ELEMS) */
    ptrdiff_t x;      /* the chunk's inputs gathered, rows x n_in */
    ptrdiff_t y;      /* its targets gathered, rows x K */
    ptrdiff_t out;    /* outputs of layers 1..L, a block of rows x units each */
    ptrdiff_t delta;  /* dE/dnet of layers 1..L, likewise */
    ptrdiff_t z;      /* the output layer's net inputs, rows x K */
    ptrdiff_t size;
} fbp_matrix_workspace;

/* A network as the core sees it. The caller fills the first six fields and
 * calls fbp_net_init, which derives the rest once; every loop reads them
 * from here. */
typedef struct {
    ptrdiff_t n_layers;          /* weight layers */
    const ptrdiff_t *sizes;      /* n_layers + 1 unit counts */
    const ptrdiff_t *w_offsets;  /* n_layers */
    const ptrdiff_t *b_offsets;  /* n_layers; negative: no biases */
    const int *activations;      /* n_layers fbp_activation codes */
    int loss;                    /* fbp_loss code */
    /* Derived by fbp_net_init: */
    const ptrdiff_t *unit_offsets;  /* n_layers + 1: units of layers 1..l,
                                       where layer l's outputs (l >= 1) end
                                       and layer l + 1's start in the
                                       workspace's blocks; [n_layers] is
                                       every unit above the input */
    ptrdiff_t n_params;          /* the end of the last layer's parameters */
    int matrix_ok;               /* the matrix loop can run it: layer sizes
                                    BLAS's int arguments can hold, and no
                                    softmax before the output layer */
    fbp_sample_workspace sample_ws;
    fbp_matrix_workspace matrix_ws;
    ptrdiff_t workspace_size;    /* elements of workspace every entry needs:
                                    the larger of the two layouts */
} fbp_net;

/* What fbp_net_init finds wrong with a network. */
typedef enum {
    FBP_NET_OK = 0,
    FBP_NET_BAD_SIZES = 1,   /* no layer, or a layer of no units */
    FBP_NET_BAD_CODES = 2,   /* an unknown activation or loss code */
    FBP_NET_BAD_LAYOUT = 3   /* parameters not laid out layer after layer
                                from 0, each layer's biases (if any) right
                                after its weights, as the optimizer's
                                single pass over a layer needs */
} fbp_net_status;

/* Fills net's derived fields, unit_offsets pointing at the caller's
 * n_layers + 1 elements; returns an fbp_net_status. */
int fbp_net_init(fbp_net *net, ptrdiff_t *unit_offsets);

typedef enum {
    FBP_SGD = 0,
    FBP_ADAM = 1,
    FBP_RPROP = 2
} fbp_optimizer;

/* How a batch's gradient becomes an update. With g the batch's mean
 * gradient plus weight_decay * params (torch.optim's L2 decay; on the
 * weights alone with weights_only_decay):
 *   FBP_SGD    torch.optim.SGD, dampening 0: b := momentum b + g (b starts at
 *              0, so the first b is g); params -= lr (g + momentum b if
 *              nesterov, else b). momentum 0 is plain gradient descent.
 *   FBP_ADAM   torch.optim.Adam: m := beta1 m + (1 - beta1) g,
 *              v := beta2 v + (1 - beta2) g^2, and with t updates so far
 *              params -= lr / (1 - beta1^t) m / (sqrt(v / (1 - beta2^t)) + eps).
 *   FBP_RPROP  iRprop- (torch.optim.Rprop): per parameter a step size that
 *              grows by eta_plus while g keeps its sign and shrinks by
 *              eta_minus when it flips (then g counts as 0 for this update),
 *              clamped to [step_min, step_max]; params -= sign(g) step. */
typedef struct {
    int kind;             /* fbp_optimizer */
    double lr;            /* SGD and Adam (Rprop keeps its steps in state) */
    double weight_decay;
    int weights_only_decay;  /* 1: decay the weights, not the biases
                                (scikit-learn's alpha); 0: every parameter */
    double momentum;
    int nesterov;
    double beta1, beta2, eps;
    double eta_minus, eta_plus, step_min, step_max;
} fbp_optimizer_options;

/* n_params-long blocks of optimizer state the options need: 1 for SGD with
 * momentum (b), 2 for Adam (m, then v) and Rprop (the previous g, then the
 * step sizes), else 0. */
int fbp_state_blocks(const fbp_optimizer_options *o);

/* Nonzero for plain gradient descent (SGD without momentum or decay), whose
 * update needs no state and can be fused into the backward pass. */
int fbp_plain_sgd(const fbp_optimizer_options *o);

/* How fit trains. */
typedef struct {
    fbp_optimizer_options optim;
    double loss_scale;    /* each sample's loss is summed times this: 1/n
                             makes the sum an epoch's mean, which cannot
                             overflow while every loss is finite */
    ptrdiff_t batch_size; /* samples per update; 1 is per-sample */
    ptrdiff_t batch_done; /* samples of the first batch that earlier calls
                             already added to grad (a batch may span calls) */
    int finish;           /* apply a trailing incomplete batch (at the end of
                             an epoch); else leave it accumulated in grad */
    int update_biases;    /* 0 leaves the biases as they are */
    int check_params;     /* also stop at an update that leaves a parameter
                             NaN or infinite (a pass over the updated rows) */
    int special_paths;    /* let the special paths run where they apply: the
                             tiny-network loop, and plain SGD's update fused
                             into the backward pass (per sample) or into the
                             backward products (matrix loop); 0 sends every
                             update through grad and the optimizer step, which
                             agrees with them to rounding (for tests) */
} fbp_train_options;

/* Nonzero when fit updates per sample inside the backward pass (plain SGD,
 * batch 1, special paths on), and so needs no grad. */
int fbp_fused_sgd(const fbp_train_options *opt);

/* Batch loop: batches of opt->batch_size consecutive samples of
 * X[order], the first already opt->batch_done samples along; at the end of
 * each, one optimizer update from the batch's mean gradient, each sample's
 * gradient times its weight sample_weight[order[s]] (all 1 when
 * sample_weight is NULL). Where fbp_fused_sgd(opt) says so the update is
 * fused into the backward pass and grad may be NULL; otherwise
 * `grad` (n_params) carries the sums of an unfinished batch between calls
 * and is zero after a finished one. `state` holds the optimizer state
 * (fbp_state_blocks) and *n_updates counts updates (Adam's t); both carry
 * over between calls.
 * Returns the sum of each sample's (weighted) loss times opt->loss_scale,
 * measured before its batch's update.
 * Stops early at a sample whose loss is NaN or infinite (before updating with
 * it), or as opt->check_params says; *n_done tells how many samples were
 * taken in before that (n_samples when none failed). */
#define FBP_DECLARE_ENTRIES(T, S)                                              \
    typedef double (*fbp_fit_##S##_fn)(                                        \
        const fbp_net *net, const fbp_train_options *opt, T *params,           \
        const T *X, const T *Y, const T *sample_weight,                        \
        const ptrdiff_t *order, ptrdiff_t n_samples, T *workspace, T *grad,    \
        T *state, ptrdiff_t *n_updates, ptrdiff_t *n_done);                    \
    /* out[s] := network(X[s]) for n_samples rows. */                          \
    typedef void (*fbp_predict_##S##_fn)(                                      \
        const fbp_net *net, const T *params, const T *X, ptrdiff_t n_samples,  \
        T *out, T *workspace);                                                 \
    /* Sum over samples of the loss. */                                        \
    typedef double (*fbp_loss_##S##_fn)(                                       \
        const fbp_net *net, const T *params, const T *X, const T *Y,           \
        ptrdiff_t n_samples, T *workspace);                                    \
    /* grad += dE/dparams of one sample (bias entries too); returns E. */      \
    typedef double (*fbp_gradient_##S##_fn)(                                   \
        const fbp_net *net, const T *params, const T *x, const T *t,           \
        T *workspace, T *grad);                                                \
    /* One step of fbp_fit on one sample (x, t) at batch size 1 (opt's      \
     * loss_scale, batch and check options aside), fbp_step_status: the     \
     * update is applied only if no parameter becomes NaN or infinite.      \
     * grad (n_params zeros) is needed unless fbp_plain_sgd, state as for   \
     * fbp_fit; undo (n_params plus the state's length) is scratch. With    \
     * out (n_outputs) given, the network's outputs for x before the update \
     * are stored there. *E := the loss before the update. */               \
    typedef int (*fbp_step_##S##_fn)(                                          \
        const fbp_net *net, const fbp_train_options *opt, T *params,           \
        const T *x, const T *t, T *workspace, T *grad, T *state,               \
        ptrdiff_t *n_updates, T *undo, T *out, double *E);

/* What fbp_step did: FBP_STEP_OK updated (and counted the update in
 * *n_updates); otherwise params, grad, state and *n_updates are unchanged:
 * FBP_STEP_DIVERGED, the loss or an updated parameter was NaN or infinite;
 * FBP_STEP_BAD_INPUT, x or t is not finite, or t is outside the loss's
 * domain (binary cross-entropy: [0, 1]; cross-entropy: >= 0). */
typedef enum {
    FBP_STEP_OK = 0,
    FBP_STEP_DIVERGED = 1,
    FBP_STEP_BAD_INPUT = 2
} fbp_step_status;

FBP_DECLARE_ENTRIES(float, f32)
FBP_DECLARE_ENTRIES(double, f64)

/* The same for X in CSR form (fbp_sparse.template.h): row r's stored values
 * data[indptr[r]..indptr[r + 1]) in the columns indices[...] of that range,
 * each in [0, n_inputs), in any order (repeats add up). */
#define FBP_DECLARE_CSR_ENTRIES(T, S)                                          \
    typedef double (*fbp_fit_csr_##S##_fn)(                                    \
        const fbp_net *net, const fbp_train_options *opt, T *params,           \
        const T *data, const ptrdiff_t *indices, const ptrdiff_t *indptr,      \
        const T *Y, const T *sample_weight, const ptrdiff_t *order,            \
        ptrdiff_t n_samples, T *workspace, T *grad, T *state,                  \
        ptrdiff_t *n_updates, ptrdiff_t *n_done);                              \
    typedef void (*fbp_predict_csr_##S##_fn)(                                  \
        const fbp_net *net, const T *params, const T *data,                    \
        const ptrdiff_t *indices, const ptrdiff_t *indptr, ptrdiff_t n_samples, \
        T *out, T *workspace);                                                 \
    typedef double (*fbp_loss_csr_##S##_fn)(                                   \
        const fbp_net *net, const T *params, const T *data,                    \
        const ptrdiff_t *indices, const ptrdiff_t *indptr, const T *Y,         \
        ptrdiff_t n_samples, T *workspace);

FBP_DECLARE_CSR_ENTRIES(float, f32)
FBP_DECLARE_CSR_ENTRIES(double, f64)

typedef struct {
    const char *name;
    fbp_fit_f32_fn fit_f32;
    fbp_fit_f64_fn fit_f64;
    fbp_predict_f32_fn predict_f32;
    fbp_predict_f64_fn predict_f64;
    fbp_loss_f32_fn loss_f32;
    fbp_loss_f64_fn loss_f64;
    fbp_gradient_f32_fn gradient_f32;
    fbp_gradient_f64_fn gradient_f64;
    fbp_step_f32_fn step_f32;
    fbp_step_f64_fn step_f64;
    fbp_fit_csr_f32_fn fit_csr_f32;
    fbp_fit_csr_f64_fn fit_csr_f64;
    fbp_predict_csr_f32_fn predict_csr_f32;
    fbp_predict_csr_f64_fn predict_csr_f64;
    fbp_loss_csr_f32_fn loss_csr_f32;
    fbp_loss_csr_f64_fn loss_csr_f64;
} fbp_kernels;

/* Instruction-set paths, best last. Each entry is NULL where this build or
 * this CPU lacks the path. */
enum { FBP_PATH_BASELINE = 0, FBP_PATH_AVX2 = 1, FBP_PATH_AVX512 = 2,
       FBP_N_PATHS = 3 };
const fbp_kernels *fbp_path(int path);

/* The matrix loop (fbp_matrix_loop.template.h): batches, and predict and
 * loss calls, of at least FBP_ROWS_MIN samples run as BLAS matrix products,
 * in chunks of net->matrix_ws.rows rows at most. Measured with one thread
 * (AMD EPYC, OpenBLAS, float64): at batch 8 the matrix path is faster than
 * the per-sample loop on every shape tried (1.15x at 4-16-1, 1.2x at 2-2-2,
 * 2x at 784-128-10); at batch 4 the calls' overhead makes it slower on small
 * networks (0.8x at 2-2-2 and 4-16-1). */
#define FBP_ROWS_MIN 8
/* Chunks have at most FBP_CHUNK_ROWS rows and, above FBP_ROWS_MIN rows, at
 * most about FBP_CHUNK_ELEMS elements of workspace, so that a chunk's
 * buffers stay in the L2/L3 cache between the products. */
#define FBP_CHUNK_ROWS 256
#define FBP_CHUNK_ELEMS (1 << 18)

/* 1 if `rows` samples at once (a batch, or a predict or loss call) take
 * the matrix loop: at least FBP_ROWS_MIN of them, a BLAS installed
 * (fbp_set_gemm), and net->matrix_ok. */
int fbp_rows_pay(const fbp_net *net, ptrdiff_t rows);

#endif /* FASTBP_KERNELS_H_ */
