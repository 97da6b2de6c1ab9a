"""Fixtures shared by the test modules."""
import pytest

import fastbp


@pytest.fixture(params=fastbp.kernel_paths(), ids=fastbp.kernel_paths())
def kernel_path(request):
    """Run the test on one compiled kernel build (every build this CPU runs,
    in turn), then restore the build that was in use."""
    previous = fastbp.kernel_path()
    fastbp.set_kernel_path(request.param)
    try:
        yield request.param
    finally:
        fastbp.set_kernel_path(previous)
