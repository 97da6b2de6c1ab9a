"""A hyper-parameter search on a Dask cluster: joblib's "dask" backend ships
the estimators to worker processes (pickled) and back, unchanged."""
import numpy as np
import pytest

# The "dask" extra: without it, the module skips.
pytest.importorskip("distributed")
pytest.importorskip("sklearn")

import joblib  # noqa: E402
from distributed import Client, LocalCluster, get_task_stream  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from fastbp.estimators import MLPClassifier  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on loopback, no dashboard."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


# A fixed number of epochs: every fit ends at max_iter, as asked.
@pytest.mark.filterwarnings(f"ignore::{ConvergenceWarning.__module__}.ConvergenceWarning")
def test_grid_search_on_dask_matches_local(client):
    X, y = make_classification(n_samples=120, n_features=6, n_informative=4,
                               n_redundant=0, n_classes=3, random_state=0)
    search = GridSearchCV(MLPClassifier(max_iter=15, tol=0.0, n_iter_no_change=15,
                                        random_state=0),
                          {"hidden_layer_sizes": [(4,), (8,)], "alpha": [1e-4, 1e-2]},
                          cv=3, n_jobs=-1)
    local = clone(search).set_params(n_jobs=1).fit(X, y)
    with get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        remote = clone(search).fit(X, y)
    # The 4 x 3 fits and scores ran on the two worker processes.
    workers = {task["worker"] for task in tasks.data}
    assert len(workers) == 2 and workers <= set(client.scheduler_info()["workers"])
    np.testing.assert_array_equal(remote.cv_results_["mean_test_score"],
                                  local.cv_results_["mean_test_score"])
    assert remote.best_params_ == local.best_params_
    np.testing.assert_array_equal(remote.best_estimator_.predict_proba(X),
                                  local.best_estimator_.predict_proba(X))
