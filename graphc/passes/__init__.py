"""Graph passes: the pass manager and one module per pass (docs/passes.md).

Importing the package registers every pass: autodiff, hoist-transposes, fold, cse, dce, simplify,
split-elementwise, fuse, plan-memory, widen-half, and fold-batch-norm (graphc.export's inference pipeline only).
"""
from .manager import DEFAULT_PIPELINE, PASSES, PassContext, PassError, PassRow, PipelineReport, parse_pipeline, \
    register_pass, run_pipeline
from . import autodiff, cse, dce, fold, fold_batch_norm, fuse, hoist, memory, simplify, split_elementwise, \
    widen_half  # noqa: F401  (registration)

__all__ = ["DEFAULT_PIPELINE", "PASSES", "PassContext", "PassError", "PassRow", "PipelineReport", "parse_pipeline",
           "register_pass", "run_pipeline"]
