"""One seeded random generator for the whole library (scaffolding, not a kata).

Layers draw their initial weights from it, Dropout its masks, DataLoader its shuffles, so
``manual_seed(0)`` makes a whole training run repeatable.

>>> manual_seed(0); a = generator().normal()
>>> manual_seed(0); a == generator().normal()
True
"""

import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Reset the library's generator to ``seed``."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """The library's current NumPy Generator."""
    return _generator
