"""scikit-learn's own estimator checks on MLPClassifier and MLPRegressor."""
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastbp.estimators import MLPClassifier, MLPRegressor

# Small networks and few epochs keep the ~100 checks to a few seconds; the
# learning rate is raised so that the checks that want a good score on easy
# data get one in those epochs.
ESTIMATORS = [
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, learning_rate_init=0.01),
    MLPRegressor(hidden_layer_sizes=(8,), max_iter=50, learning_rate_init=0.01),
]


# Every check passes: no expected_failed_checks. The few epochs end with a
# ConvergenceWarning, as scikit-learn's own MLPs do.
@pytest.mark.filterwarnings(f"ignore::{ConvergenceWarning.__module__}.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
