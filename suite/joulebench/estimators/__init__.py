"""Energy estimators: one file per estimator, one interface (base.py), one registry.

The runner calls `open_live(estimator_id, workdir)` once per measured window,
`start()` right before the window's first meter read and `stop()` right after
its last; the LiveEstimate list `stop()` returns goes into the run record.
Static estimators are created with `create_static(estimator_id)` at scoring time.
"""

from joulebench.estimators.base import (
    J_PER_KWH,
    EstimatorFailedError,
    EstimatorUnavailableError,
    LiveEstimator,
    StaticEstimator,
    joules_from_kwh,
    pinned_package_status,
)
from joulebench.estimators.registry import (
    BUILTINS,
    ENTRY_POINT_GROUP,
    EstimatorInfo,
    create_static,
    get_class,
    known_ids,
    list_estimators,
    open_live,
)

__all__ = [
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "J_PER_KWH",
    "EstimatorFailedError",
    "EstimatorInfo",
    "EstimatorUnavailableError",
    "LiveEstimator",
    "StaticEstimator",
    "create_static",
    "get_class",
    "joules_from_kwh",
    "pinned_package_status",
    "known_ids",
    "list_estimators",
    "open_live",
]
