"""The one exception type a user sees.

Every problem caused by the user's input or by a failing computation (a fit that does not
converge, a training that diverges) is raised as :class:`GenampError` with a message that says
what is wrong and what to do; the command line prints that message as a single line, never a
traceback.
"""

from __future__ import annotations


class GenampError(ValueError):
    """A problem with the input or the computation, explained in one line."""


class FitFailed(GenampError):
    """A parametric fit or a training did not converge; raised per repetition, recorded by name."""
