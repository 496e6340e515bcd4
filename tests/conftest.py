"""Shared test set-up: Hypothesis profiles.

``dev`` (the default) explores new examples on every run; ``ci``
(``HYPOTHESIS_PROFILE=ci``) is derandomized so that a CI run is reproducible.
Neither has a deadline: the first example of a test pays for cattrs generating
its hooks, which would make timing flaky. Tests set their own ``max_examples``.
"""

import os

from hypothesis import settings

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
