"""genamp: how many true events is a generative network's sample worth?

Amplification factors ``G = n_equiv / n_train`` of generative networks, truth-based on toy
densities (GANplification), with the parametric-fit benchmark; see docs/formulas.md for the formulas.
"""

__version__ = "0.1.0"
