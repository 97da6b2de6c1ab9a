/* Facts about a network's layout and its optimizer that do not depend on the
 * float type. */
#include "fbp_kernels.h"

ptrdiff_t fbp_workspace_size(const fbp_net *net)
{
    /* Must match split() in fbp_core.template.h. */
    ptrdiff_t units = 0;
    for (ptrdiff_t l = 1; l <= net->n_layers; l++) units += net->sizes[l];
    return 2 * units + net->sizes[net->n_layers];
}

int fbp_state_blocks(const fbp_optimizer_options *o)
{
    switch (o->kind) {
    case FBP_ADAM:
    case FBP_RPROP:
        return 2;
    default:
        return o->momentum != 0 ? 1 : 0;
    }
}
