"""Exceptions fastbp raises besides ValueError and TypeError."""


class DivergenceError(ValueError):
    """Training produced a NaN or infinite loss or parameter.

    A ValueError, so code written for scikit-learn's behaviour catches it.
    The model keeps the last parameters that were all finite.
    """
