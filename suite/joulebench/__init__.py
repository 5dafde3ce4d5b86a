"""joulebench: a reference benchmark for AI energy estimators."""

# The package version and the suite version move together: a suite version
# names the pinned workloads, the scoring rules and the record format at once.
__version__ = "0.1.0"
SUITE_VERSION = "joulebench-" + __version__
