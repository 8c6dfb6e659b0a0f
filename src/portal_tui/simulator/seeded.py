"""Deterministic randomness from a seed and a key, without shared RNG state.

Every random choice the simulator makes (a day's numbers, a mailbox's tags,
whether a 5xx fires on the third request for a page) is a pure function of
``(seed, key...)``. Nothing depends on the order in which concurrent requests
arrive, so the same seed gives the same data and the same faults.
"""

from __future__ import annotations

import math
from hashlib import blake2b

_SCALE = 1.0 / 4294967296.0  # 2**32


def digest(seed: int, *parts: object) -> bytes:
    """32 bytes determined only by ``seed`` and ``parts`` (their ``repr``)."""
    return blake2b(repr((seed, *parts)).encode(), digest_size=32).digest()


def units(seed: int, *parts: object) -> tuple[float, ...]:
    """Eight floats in ``[0, 1)`` determined by ``seed`` and ``parts``."""
    raw = digest(seed, *parts)
    return tuple(int.from_bytes(raw[i : i + 4], "big") * _SCALE for i in range(0, 32, 4))


def unit(seed: int, *parts: object) -> float:
    """One float in ``[0, 1)`` determined by ``seed`` and ``parts``."""
    return int.from_bytes(digest(seed, *parts)[:4], "big") * _SCALE


def normal(u1: float, u2: float) -> float:
    """A standard normal deviate from two uniforms (Box-Muller)."""
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def token_text(seed: int, *parts: object, length: int = 40) -> str:
    """A token-looking alphanumeric string (fake, deterministic)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    raw = digest(seed, "token", *parts) + digest(seed, "token2", *parts)
    return "".join(alphabet[b % len(alphabet)] for b in raw[:length])
