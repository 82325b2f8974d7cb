"""What the truth is: an analytic density (:mod:`genamp.densities`, the toys) or a pool of
true events (:class:`genamp.truths.pool.Pool`). Both give the estimators
:class:`genamp.estimators.truth.CellProbabilities` for a partition into volumes."""

from genamp.truths.pool import Pool

__all__ = ["Pool"]
