/* Time FANN's per-sample backprop (fann_train) for one network shape.
 *
 * Usage: fann_harness LAYERS N_SAMPLES EPOCHS    e.g.  fann_harness 784,128,10 2000 3
 * Prints one line: the median over epochs of ns per sample.
 *
 * One source, two builds: FANN fixes its number type at compile time, so
 *   gcc -O2 fann_harness.c -lfloatfann  -lm -o fann_harness_float
 *   gcc -O2 -DFANN_DOUBLE fann_harness.c -ldoublefann -lm -o fann_harness_double
 * The problem matches fastbp/bench/peers.py: logistic hidden and output units,
 * E = 1/2 sum (t - o)^2, learning rate 0.1, no momentum, biases trained.
 */
/* clock_gettime is POSIX, hidden by -std=c99 unless asked for. */
#define _POSIX_C_SOURCE 199309L
#ifdef FANN_DOUBLE
#include <doublefann.h>
#define TYPE_NAME "double"
#else
#include <floatfann.h>
#define TYPE_NAME "float"
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LAYERS 16

/* xorshift64*: the data must not depend on the libc's rand(). */
static double uniform01(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ULL) >> 11) * 0x1.0p-53;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    unsigned int layers[MAX_LAYERS], n_layers = 0;
    char *tok;
    if (argc != 4) {
        fprintf(stderr, "usage: %s LAYERS N_SAMPLES EPOCHS  (e.g. 784,128,10 2000 3)\n", argv[0]);
        return 2;
    }
    for (tok = strtok(argv[1], ","); tok && n_layers < MAX_LAYERS; tok = strtok(NULL, ","))
        layers[n_layers++] = (unsigned int)atoi(tok);
    long n_samples = atol(argv[2]), n_epochs = atol(argv[3]);
    if (n_layers < 2 || tok || n_samples < 1 || n_epochs < 1) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    unsigned int n_in = layers[0], n_out = layers[n_layers - 1];

    struct fann *ann = fann_create_standard_array(n_layers, layers);
    if (!ann)
        return 1;
    /* FANN's sigmoid is 1/(1+exp(-2*s*x)): steepness 0.5 makes it the logistic. */
    fann_set_activation_function_hidden(ann, FANN_SIGMOID);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    fann_set_activation_steepness_hidden(ann, 0.5);
    fann_set_activation_steepness_output(ann, 0.5);
    fann_set_training_algorithm(ann, FANN_TRAIN_INCREMENTAL);
    fann_set_learning_rate(ann, 0.1f);
    fann_set_learning_momentum(ann, 0.0f);
    /* The default, FANN_ERRORFUNC_TANH, stretches large errors; LINEAR is plain squared error. */
    fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
    /* fann_create_* seeds rand() from the clock; reseed so the weights repeat. */
    srand(1);
    fann_randomize_weights(ann, -0.1, 0.1);

    fann_type *X = malloc(sizeof(fann_type) * n_samples * n_in);
    fann_type *Y = malloc(sizeof(fann_type) * n_samples * n_out);
    double *epoch_ns = malloc(sizeof(double) * n_epochs);
    if (!X || !Y || !epoch_ns)
        return 1;
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (long k = 0; k < n_samples * n_in; k++)
        X[k] = (fann_type)uniform01(&seed);
    for (long k = 0; k < n_samples * n_out; k++)
        Y[k] = (fann_type)uniform01(&seed);

    for (long e = 0; e < n_epochs; e++) {
        double t0 = now_ns();
        for (long k = 0; k < n_samples; k++)
            fann_train(ann, X + k * n_in, Y + k * n_out);
        epoch_ns[e] = (now_ns() - t0) / n_samples;
    }
    /* Median, not best: the machines we run on are shared and noisy. */
    qsort(epoch_ns, n_epochs, sizeof(double), cmp_double);
    double median = n_epochs % 2 ? epoch_ns[n_epochs / 2]
                                 : 0.5 * (epoch_ns[n_epochs / 2 - 1] + epoch_ns[n_epochs / 2]);
    printf("%.1f ns/sample (median of %ld epochs, FANN %s)\n", median, n_epochs, TYPE_NAME);

    free(epoch_ns);
    free(Y);
    free(X);
    fann_destroy(ann);
    return 0;
}
