"""Named random streams and the small sampling helpers built on them.

Every section of the generator draws from its own stream, seeded by (seed, crc32(name)), so changing
or reordering one section never perturbs the numbers another section draws.
"""

from __future__ import annotations

import zlib

import numpy as np


def rng(seed: int, name: str) -> np.random.Generator:
    """An independent, named random stream (changing one section never perturbs another)."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def alloc(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total in proportion to weights (cumulative rounding, exact sum)."""
    cum = np.round(np.cumsum(weights) / np.sum(weights) * total).astype(np.int64)
    return np.diff(np.concatenate([[0], cum]))


def pick(rng: np.random.Generator, codes, probs, n: int) -> np.ndarray:
    """n indices into codes drawn with the given (unnormalised) probabilities."""
    p = np.asarray(probs, dtype=float)
    return rng.choice(len(codes), size=n, p=p / p.sum())
