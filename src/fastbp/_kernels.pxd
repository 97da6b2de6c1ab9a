# Declarations of csrc/fbp_kernels.h and csrc/fbp_blas.h, name for name;
# nothing else.

cdef extern from "fbp_kernels.h" nogil:
    ctypedef enum fbp_activation:
        FBP_IDENTITY
        FBP_SIGMOID
        FBP_TANH
        FBP_RELU
        FBP_LEAKY_RELU
        FBP_SOFTMAX
        FBP_EXP

    ctypedef enum fbp_loss:
        FBP_SQUARED_ERROR
        FBP_BINARY_CROSS_ENTROPY
        FBP_CROSS_ENTROPY
        FBP_POISSON

    ctypedef struct fbp_sample_workspace:
        Py_ssize_t out, delta, z, size

    ctypedef struct fbp_matrix_workspace:
        Py_ssize_t rows, x, y, out, delta, z, size

    ctypedef struct fbp_net:
        Py_ssize_t n_layers
        const Py_ssize_t *sizes
        const Py_ssize_t *w_offsets
        const Py_ssize_t *b_offsets
        const int *activations
        int loss
        const Py_ssize_t *unit_offsets
        Py_ssize_t n_params
        int matrix_ok
        fbp_sample_workspace sample_ws
        fbp_matrix_workspace matrix_ws
        Py_ssize_t workspace_size

    ctypedef enum fbp_net_status:
        FBP_NET_OK
        FBP_NET_BAD_SIZES
        FBP_NET_BAD_CODES
        FBP_NET_BAD_LAYOUT

    int fbp_net_init(fbp_net *net, Py_ssize_t *unit_offsets)

    ctypedef enum fbp_optimizer:
        FBP_SGD
        FBP_ADAM
        FBP_RPROP

    ctypedef struct fbp_optimizer_options:
        int kind
        double lr
        double weight_decay
        int weights_only_decay
        double momentum
        int nesterov
        double beta1, beta2, eps
        double eta_minus, eta_plus, step_min, step_max

    int fbp_state_blocks(const fbp_optimizer_options *o)
    int fbp_plain_sgd(const fbp_optimizer_options *o)

    ctypedef struct fbp_train_options:
        fbp_optimizer_options optim
        double loss_scale
        Py_ssize_t batch_size
        Py_ssize_t batch_done
        int finish
        int update_biases
        int check_params
        int special_paths

    int fbp_fused_sgd(const fbp_train_options *opt)

    ctypedef double (*fbp_fit_f32_fn)(
        const fbp_net *net, const fbp_train_options *opt, float *params,
        const float *X, const float *Y, const float *sample_weight,
        const Py_ssize_t *order, Py_ssize_t n_samples, float *workspace,
        float *grad, float *state, Py_ssize_t *n_updates, Py_ssize_t *n_done)
    ctypedef double (*fbp_fit_f64_fn)(
        const fbp_net *net, const fbp_train_options *opt, double *params,
        const double *X, const double *Y, const double *sample_weight,
        const Py_ssize_t *order, Py_ssize_t n_samples, double *workspace,
        double *grad, double *state, Py_ssize_t *n_updates, Py_ssize_t *n_done)
    ctypedef void (*fbp_predict_f32_fn)(
        const fbp_net *net, const float *params, const float *X,
        Py_ssize_t n_samples, float *out, float *workspace)
    ctypedef void (*fbp_predict_f64_fn)(
        const fbp_net *net, const double *params, const double *X,
        Py_ssize_t n_samples, double *out, double *workspace)
    ctypedef double (*fbp_loss_f32_fn)(
        const fbp_net *net, const float *params, const float *X,
        const float *Y, Py_ssize_t n_samples, float *workspace)
    ctypedef double (*fbp_loss_f64_fn)(
        const fbp_net *net, const double *params, const double *X,
        const double *Y, Py_ssize_t n_samples, double *workspace)
    ctypedef double (*fbp_gradient_f32_fn)(
        const fbp_net *net, const float *params, const float *x,
        const float *t, float *workspace, float *grad)
    ctypedef double (*fbp_gradient_f64_fn)(
        const fbp_net *net, const double *params, const double *x,
        const double *t, double *workspace, double *grad)

    ctypedef enum fbp_step_status:
        FBP_STEP_OK
        FBP_STEP_DIVERGED
        FBP_STEP_BAD_INPUT

    ctypedef int (*fbp_step_f32_fn)(
        const fbp_net *net, const fbp_train_options *opt, float *params,
        const float *x, const float *t, float *workspace, float *grad, float *state,
        Py_ssize_t *n_updates, float *undo, float *out, double *E)
    ctypedef int (*fbp_step_f64_fn)(
        const fbp_net *net, const fbp_train_options *opt, double *params,
        const double *x, const double *t, double *workspace, double *grad,
        double *state, Py_ssize_t *n_updates, double *undo, double *out, double *E)
    ctypedef double (*fbp_fit_csr_f32_fn)(
        const fbp_net *net, const fbp_train_options *opt, float *params,
        const float *data, const Py_ssize_t *indices, const Py_ssize_t *indptr,
        const float *Y, const float *sample_weight, const Py_ssize_t *order,
        Py_ssize_t n_samples, float *workspace, float *grad, float *state,
        Py_ssize_t *n_updates, Py_ssize_t *n_done)
    ctypedef double (*fbp_fit_csr_f64_fn)(
        const fbp_net *net, const fbp_train_options *opt, double *params,
        const double *data, const Py_ssize_t *indices, const Py_ssize_t *indptr,
        const double *Y, const double *sample_weight, const Py_ssize_t *order,
        Py_ssize_t n_samples, double *workspace, double *grad, double *state,
        Py_ssize_t *n_updates, Py_ssize_t *n_done)
    ctypedef void (*fbp_predict_csr_f32_fn)(
        const fbp_net *net, const float *params, const float *data,
        const Py_ssize_t *indices, const Py_ssize_t *indptr, Py_ssize_t n_samples,
        float *out, float *workspace)
    ctypedef void (*fbp_predict_csr_f64_fn)(
        const fbp_net *net, const double *params, const double *data,
        const Py_ssize_t *indices, const Py_ssize_t *indptr, Py_ssize_t n_samples,
        double *out, double *workspace)
    ctypedef double (*fbp_loss_csr_f32_fn)(
        const fbp_net *net, const float *params, const float *data,
        const Py_ssize_t *indices, const Py_ssize_t *indptr, const float *Y,
        Py_ssize_t n_samples, float *workspace)
    ctypedef double (*fbp_loss_csr_f64_fn)(
        const fbp_net *net, const double *params, const double *data,
        const Py_ssize_t *indices, const Py_ssize_t *indptr, const double *Y,
        Py_ssize_t n_samples, double *workspace)

    ctypedef struct fbp_kernels:
        const char *name
        fbp_fit_f32_fn fit_f32
        fbp_fit_f64_fn fit_f64
        fbp_predict_f32_fn predict_f32
        fbp_predict_f64_fn predict_f64
        fbp_loss_f32_fn loss_f32
        fbp_loss_f64_fn loss_f64
        fbp_gradient_f32_fn gradient_f32
        fbp_gradient_f64_fn gradient_f64
        fbp_step_f32_fn step_f32
        fbp_step_f64_fn step_f64
        fbp_fit_csr_f32_fn fit_csr_f32
        fbp_fit_csr_f64_fn fit_csr_f64
        fbp_predict_csr_f32_fn predict_csr_f32
        fbp_predict_csr_f64_fn predict_csr_f64
        fbp_loss_csr_f32_fn loss_csr_f32
        fbp_loss_csr_f64_fn loss_csr_f64

    enum:
        FBP_PATH_BASELINE
        FBP_PATH_AVX2
        FBP_PATH_AVX512
        FBP_N_PATHS

    const fbp_kernels *fbp_path(int path)

    enum:
        FBP_ROWS_MIN
        FBP_CHUNK_ROWS
        FBP_CHUNK_ELEMS

    int fbp_rows_pay(const fbp_net *net, Py_ssize_t rows)


cdef extern from "fbp_blas.h" nogil:
    ctypedef void (*fbp_sgemm_fn)(
        char *transa, char *transb, int *m, int *n, int *k, float *alpha, float *a,
        int *lda, float *b, int *ldb, float *beta, float *c, int *ldc) noexcept
    ctypedef void (*fbp_dgemm_fn)(
        char *transa, char *transb, int *m, int *n, int *k, double *alpha, double *a,
        int *lda, double *b, int *ldb, double *beta, double *c, int *ldc) noexcept

    void fbp_set_gemm(fbp_sgemm_fn sgemm, fbp_dgemm_fn dgemm)
    int fbp_have_gemm()
    void fbp_gemm_f32(int trans_a, int trans_b, Py_ssize_t m, Py_ssize_t n,
                      Py_ssize_t k, float alpha, const float *A, Py_ssize_t lda,
                      const float *B, Py_ssize_t ldb, float beta, float *C,
                      Py_ssize_t ldc)
    void fbp_gemm_f64(int trans_a, int trans_b, Py_ssize_t m, Py_ssize_t n,
                      Py_ssize_t k, double alpha, const double *A, Py_ssize_t lda,
                      const double *B, Py_ssize_t ldb, double beta, double *C,
                      Py_ssize_t ldc)
