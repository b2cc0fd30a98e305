"""Power of the exact (conditional) McNemar test, computed exactly, and the sizes it implies:
the minimum detectable effect at a given item count and the items needed for a given effect.

Model: each paired item is discordant with probability psi (the share of items the two
configs score differently), split between "right only under the config" (p10) and "right
only under the baseline" (p01), delta = p10 - p01. The number of discordant pairs D is
Bin(n, psi); given D = m, the config-only count X is Bin(m, p10 / psi), and the test rejects
when its two-sided exact p-value (`stats.mcnemar_exact`) is below alpha. Power is the sum over
m of P(D = m) P(reject | m), with the rejection region of each m from the binomial at 1/2.
The sizing holds psi at its observed value (the effect moves probability between the two
discordant cells), as in Connor's (1987) sample-size formula for McNemar's test.
"""

from __future__ import annotations

import functools
import math

import numpy as np

EXACT_UP_TO = 100_000  # items: above this the normal approximation sizes (the lattice no longer
# matters there, and an exact evaluation at millions of items takes seconds)


def _critical(m: np.ndarray, alpha: float) -> np.ndarray:
    """Per discordant count m, the largest k with 2 P(Bin(m, 1/2) <= k) < alpha (-1: none):
    the test rejects when min(X, m - X) <= k."""
    from scipy.special import bdtr, ndtri

    mf = m.astype(float)  # for the arithmetic; bdtr takes the integer counts
    # normal-approximation start, then integer steps onto the exact boundary
    k = np.floor(mf / 2 + ndtri(alpha / 2) * np.sqrt(mf) / 2 - 0.5).astype(int)
    top = np.maximum(m // 2, 0)
    k = np.clip(k, -1, top)
    for _ in range(50):
        up = (k + 1 <= top) & (2 * bdtr(k + 1, m, 0.5) < alpha)
        down = (k >= 0) & (2 * bdtr(np.maximum(k, 0), m, 0.5) >= alpha)
        if not (up.any() or down.any()):
            break
        k = k + up.astype(int) - down.astype(int)
    return k


def exact_power(n: int, p10: float, p01: float, alpha: float = 0.05) -> float:
    """Power of the two-sided exact McNemar test at level alpha with n paired items, when an
    item is right only under the config with probability p10 and only under the baseline with
    probability p01. The sum over D is truncated where its binomial mass is below 1e-16."""
    from scipy.special import bdtr, bdtrc

    psi = p10 + p01
    if n <= 0 or psi <= 0:
        return 0.0
    psi = min(psi, 1.0)
    m, pmf, k = _discordant(n, psi, alpha)
    share = p10 / psi
    ok = k >= 0
    low_tail = np.where(ok, bdtr(np.maximum(k, 0), m, share), 0.0)
    # P(X >= m - k) = P(X > m - k - 1)
    high_tail = np.where(ok, bdtrc(np.maximum(m - k - 1, 0), m, share), 0.0)
    return float(min(1.0, np.sum(pmf * (low_tail + high_tail))))


@functools.lru_cache(maxsize=256)
def _discordant(n: int, psi: float, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The discordant counts m worth summing over, their binomial masses and the test's
    critical values: the same for every delta at one (n, psi), so `mde`'s bisection and
    `items_needed`'s search compute them once."""
    from scipy.special import gammaln

    sd = math.sqrt(n * psi * (1 - psi))
    lo = max(0, int(n * psi - 9 * sd) - 1)
    hi = min(n, int(n * psi + 9 * sd) + 2)
    m = np.arange(lo, hi + 1)
    if psi < 1:
        logpmf = (
            gammaln(n + 1)
            - gammaln(m + 1)
            - gammaln(n - m + 1)
            + m * math.log(psi)
            + (n - m) * math.log1p(-psi)
        )
        pmf = np.exp(logpmf)
    else:
        pmf = (m == n).astype(float)
    k = _critical(m, alpha)
    for a in (m, pmf, k):
        a.setflags(write=False)  # shared by every caller of the cache
    return m, pmf, k


def _power_at(n: int, psi: float, delta: float, alpha: float) -> float:
    return exact_power(n, (psi + delta) / 2, (psi - delta) / 2, alpha)


def mde(n: int, psi: float, *, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """The smallest delta (a fraction) the exact test detects with the given power at n items
    and discordance psi (None when even delta = psi, every discordant pair one way, falls
    short). Power rises with delta at fixed n and psi, so a bisection finds it."""
    if n <= 0 or psi <= 0 or _power_at(n, psi, psi, alpha) < power:
        return None
    lo, hi = 0.0, psi
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if _power_at(n, psi, mid, alpha) >= power else (mid, hi)
    return hi


def items_needed(
    delta: float, psi: float, *, alpha: float = 0.05, power: float = 0.8
) -> int | None:
    """The first item count at which the exact test's power reaches `power` for `delta` (a
    fraction) at discordance psi; psi below |delta| is raised to |delta| (no fewer items can
    differ than the delta moves). None when delta is 0. When the normal approximation
    (Connor 1987) needs more than EXACT_UP_TO items, its value is returned as is.

    Power is not monotone in n for an exact test (a sawtooth a fraction of a point high): the
    search starts a little below the normal approximation, doubles n until the power is
    reached, then bisects for the first n where it holds."""
    delta = abs(delta)
    if delta <= 0 or delta > 1:
        return None
    psi = min(1.0, max(psi, delta))
    from scipy.special import ndtri

    # start from the normal approximation (Connor 1987), a little below where it lands
    za, zb = ndtri(1 - alpha / 2), ndtri(power)
    guess = (za * math.sqrt(psi) + zb * math.sqrt(max(psi - delta**2, 0.0))) ** 2 / delta**2
    if guess > EXACT_UP_TO:
        return int(math.ceil(guess))
    lo, hi = 0, max(8, int(guess * 0.8))  # lo: an n known to fall short (0: none yet)
    while _power_at(hi, psi, delta, alpha) < power:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _power_at(mid, psi, delta, alpha) >= power else (mid, hi)
    return hi
