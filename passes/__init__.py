"""mlc.passes: the pass infrastructure and the built-in graph optimisations.

Importing this package registers every built-in pass (the modules listed below).
"""

from .base import Pass, PassError, all_passes, get_pass, make_pass, register_pass  # noqa: F401
from .manager import Instrument, PassManager, run_pipeline  # noqa: F401
from .pipeline import PIPELINES, parse_pipeline, pipeline_string  # noqa: F401

from . import dce, cse, simplify, fold_constants, fold_bn, canonicalize, fuse  # noqa: E402,F401
