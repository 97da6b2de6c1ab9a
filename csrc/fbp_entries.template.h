/* The entries of the kernel table (fbp_kernels.h), for the float type and
 * instruction set of the including file (fbp_core.template.h): each picks
 * the matrix loop where fbp_rows_pay says it pays, else the per-sample
 * loop. fit needs grad for the matrix loop (batches of more than one sample
 * always have one).
 */

double FBP_ENTRY(fbp_fit)(const fbp_net *net, const fbp_train_options *opt, T *params,
                          const T *X, const T *Y, const T *sample_weight,
                          const ptrdiff_t *order, ptrdiff_t n_samples, T *workspace,
                          T *grad, T *state, ptrdiff_t *n_updates, ptrdiff_t *n_done)
{
    if (grad && fbp_rows_pay(net, opt->batch_size))
        return FBP_LOCAL(fit_matrix)(net, opt, params, X, Y, sample_weight, order, n_samples,
                                     workspace, grad, state, n_updates, n_done);
    return FBP_LOCAL(fit_per_sample)(net, opt, params, X, Y, sample_weight, order, n_samples,
                                     workspace, grad, state, n_updates, n_done);
}

void FBP_ENTRY(fbp_predict)(const fbp_net *net, const T *params, const T *X,
                            ptrdiff_t n_samples, T *out, T *workspace)
{
    if (fbp_rows_pay(net, n_samples))
        FBP_LOCAL(predict_matrix)(net, params, X, n_samples, out, workspace);
    else
        FBP_LOCAL(predict_per_sample)(net, params, X, n_samples, out, workspace);
}

double FBP_ENTRY(fbp_loss)(const fbp_net *net, const T *params, const T *X, const T *Y,
                           ptrdiff_t n_samples, T *workspace)
{
    if (fbp_rows_pay(net, n_samples))
        return FBP_LOCAL(loss_matrix)(net, params, X, Y, n_samples, workspace);
    return FBP_LOCAL(loss_per_sample)(net, params, X, Y, n_samples, workspace);
}

/* One sample's gradient, by the per-sample loop's phases. */
double FBP_ENTRY(fbp_gradient)(const fbp_net *net, const T *params, const T *x,
                               const T *t, T *workspace, T *grad)
{
    FBP_LOCAL(work) w = FBP_LOCAL(split)(net, workspace);
    double E;
    /* With grad given, backward only reads params. */
    FBP_LOCAL(sample_step)(net, 0, 0, (T *)params, x, t, 1, w, grad, NULL, 0, 0, &E);
    return E;
}
