"""Settings for the whole suite."""

from hypothesis import settings

# Hypothesis's default 200 ms deadline per example is a timed assertion: on a busy 2-core
# machine the masking and redaction properties missed it with nothing wrong. Speed is
# measured by benchmarks/ (benchmarks/patterns.py for these), never asserted here.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")
