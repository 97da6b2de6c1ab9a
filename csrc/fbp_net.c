/* Facts about a network's layout that do not depend on the float type. */
#include "fbp_kernels.h"

ptrdiff_t fbp_workspace_size(const fbp_net *net)
{
    /* Must match split() in fbp_core.template.h. */
    ptrdiff_t units = 0;
    for (ptrdiff_t l = 1; l <= net->n_layers; l++) units += net->sizes[l];
    return 2 * units + net->sizes[net->n_layers];
}
