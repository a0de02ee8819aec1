"""The numbers behind the consistency flags: funnel limits, z-scores, volume, φ and χ².

Funnel plots for comparing institutional performance (Spiegelhalter 2005) with the conventions
of PHEindicatormethods and FunnelPlotR. Each is a small pure function over numpy arrays, so that
each can be checked against the published values in docs/reference_values.md; `levels` turns
them into labels and `flags` arranges both over the groups of a frame.

Conventions:
- "Missing" is `NaN` in float arrays and `None` for scalar results; DuckDB reads a `NaN` in a
  pandas float column as NULL, so the frames can be returned from a dbt Python model as they are.
- Every function takes scalars or arrays and returns arrays (at least 1-d), so all are
  vectorised alike.
"""

from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# Standard normal quantiles as printed in docs/metrics.md; scipy.stats.norm.ppf(0.975) and
# norm.ppf(0.999) give 1.959963985 and 3.090232306. The spec's rounded values are used everywhere
# so that two implementations of the spec agree to the last digit.
Z_95: Final = 1.959964
Z_998: Final = 3.090232
ALPHA_95: Final = 0.05
ALPHA_998: Final = 0.002

# Below these volumes a unit is LOW_VOLUME: not classified, and left out of phi and the
# homogeneity test (docs/metrics.md).
MIN_PROPORTION_DENOMINATOR: Final = 10
MIN_RATIO_EXPECTED: Final = 5


def as_floats(values: ArrayLike) -> FloatArray:
    """Return `values` as a float64 array (at least 1-d) so every function is vectorised alike."""
    return np.atleast_1d(np.asarray(values, dtype=np.float64))



# --- funnel limits ------------------------------------------------------------------------------


def proportion_limits(p_bar: ArrayLike, n: ArrayLike, z: float) -> tuple[FloatArray, FloatArray]:
    """Normal-approximation funnel limits p̄ ± z·√(p̄(1 − p̄)/n), clamped to [0, 1].

    Clamped because a proportion cannot leave [0, 1] and the report draws these limits on the
    proportion's own scale (PHEindicatormethods does the same). Vectorised over `n` (and `p_bar`,
    which broadcasts); NaN where n ≤ 0 or p̄ is missing, since there is no funnel at zero volume.
    """
    p = as_floats(p_bar)
    size = as_floats(n)
    has_volume = size > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        half_width = z * np.sqrt(p * (1.0 - p) / np.where(has_volume, size, np.nan))
    lower = np.clip(p - half_width, 0.0, 1.0)
    upper = np.clip(p + half_width, 0.0, 1.0)
    return lower, upper


def poisson_ratio_limits(expected: ArrayLike, alpha: float) -> tuple[FloatArray, FloatArray]:
    """Exact Poisson funnel limits around a ratio of 1, continuous in the expected count E.

    lower = χ²(α/2; 2E) / 2E and upper = χ²(1 − α/2; 2E + 2) / 2E (FunnelPlotR's
    `poisson_limits`): the chi-square form of the exact Poisson interval lets E be fractional,
    as an indirectly standardised expectation is. NaN where E ≤ 0.
    """
    e = as_floats(expected)
    has_volume = e > 0
    e_safe = np.where(has_volume, e, 1.0)
    lower = stats.chi2.ppf(alpha / 2.0, 2.0 * e_safe) / (2.0 * e_safe)
    upper = stats.chi2.ppf(1.0 - alpha / 2.0, 2.0 * e_safe + 2.0) / (2.0 * e_safe)
    return np.where(has_volume, lower, np.nan), np.where(has_volume, upper, np.nan)



# --- z-scores -----------------------------------------------------------------------------------


def proportion_z_scores(
    numerator: ArrayLike, denominator: ArrayLike, p_bar: ArrayLike
) -> FloatArray:
    """Return (p − p̄) / √(p̄(1 − p̄)/n); NaN where n ≤ 0 or p̄ is 0, 1 or missing.

    When p̄ is 0 or 1 every unit sits on the pooled value with zero variance, so a z-score would
    be 0/0: the spec makes it NULL rather than inventing a value.
    """
    x = as_floats(numerator)
    n = as_floats(denominator)
    p = as_floats(p_bar)
    defined = (n > 0) & (p > 0) & (p < 1)
    n_safe = np.where(defined, n, 1.0)
    p_safe = np.where(defined, p, 0.5)
    z = (x / n_safe - p_safe) / np.sqrt(p_safe * (1.0 - p_safe) / n_safe)
    return np.where(defined, z, np.nan)


def ratio_z_scores(observed: ArrayLike, expected: ArrayLike) -> FloatArray:
    """Return (O − E) / √E, the Poisson z-score used for overdispersion; NaN where E ≤ 0."""
    o = as_floats(observed)
    e = as_floats(expected)
    defined = e > 0
    e_safe = np.where(defined, e, 1.0)
    return np.where(defined, (o - e_safe) / np.sqrt(e_safe), np.nan)



# --- volume -------------------------------------------------------------------------------------


def proportion_low_volume(denominator: ArrayLike) -> BoolArray:
    """Flag proportions whose denominator is under 10 (a missing denominator counts as 0)."""
    return ~(as_floats(denominator) >= MIN_PROPORTION_DENOMINATOR)


def ratio_low_volume(expected: ArrayLike) -> BoolArray:
    """Flag ratios whose expected count E is under 5 (a missing E counts as 0)."""
    return ~(as_floats(expected) >= MIN_RATIO_EXPECTED)



# --- overdispersion -----------------------------------------------------------------------------


def linear_percentiles(values: ArrayLike, percentiles: ArrayLike) -> FloatArray:
    """Percentiles by linear interpolation between order statistics (numpy's default method).

    The same numbers as `numpy.percentile(values, percentiles, method="linear")`, written out
    because numpy's general routine costs about half a millisecond a call, and it is called
    once per group.
    """
    ordered = np.sort(as_floats(values))
    positions = as_floats(percentiles) / 100.0 * (ordered.size - 1)
    return np.interp(positions, np.arange(ordered.size), ordered)


def winsorise(
    z: ArrayLike, lower_percentile: float = 10.0, upper_percentile: float = 90.0
) -> FloatArray:
    """Pull values beyond the given percentiles (linear interpolation) in to those percentiles.

    Winsorising stops the outliers the funnel is meant to find from inflating phi and so hiding
    themselves (Spiegelhalter 2005). NaN values are dropped first.
    """
    values = as_floats(z)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return values
    low, high = linear_percentiles(values, [lower_percentile, upper_percentile])
    return np.clip(values, low, high)


def overdispersion_phi(z: ArrayLike) -> float | None:
    """Return φ, the mean of squared winsorised z-scores; None with fewer than two z-scores.

    Pass the z-scores of the non-LOW_VOLUME units only. Missing z-scores (p̄ of 0 or 1) are
    ignored: they carry no information about spread.
    """
    values = as_floats(z)
    values = values[~np.isnan(values)]
    if values.size < 2:
        return None
    return float(np.mean(winsorise(values) ** 2))



# --- homogeneity --------------------------------------------------------------------------------


def proportions_chi_square(
    numerators: ArrayLike, denominators: ArrayLike
) -> tuple[float, int] | None:
    """Pearson χ² and degrees of freedom for the table units × {numerator, denominator − numerator}.

    No continuity correction (it only ever applies to 2 × 2 tables, and the spec excludes it).
    None with fewer than two units or a zero margin (a unit with no denominator, or a column
    that is all zeros, i.e. p̄ of 0 or 1), where expected counts of zero make χ² undefined.
    """
    x = as_floats(numerators)
    n = as_floats(denominators)
    if x.size < 2:
        return None
    table = np.column_stack([x, n - x])
    rows, columns, total = table.sum(axis=1), table.sum(axis=0), table.sum()
    if np.any(rows <= 0) or np.any(columns <= 0):
        return None
    expected = np.outer(rows, columns) / total
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, x.size - 1


def homogeneity_p_value_proportions(numerators: ArrayLike, denominators: ArrayLike) -> float | None:
    """Return the p-value of the Pearson χ² test that all units share one proportion."""
    return _chi_square_p_value(proportions_chi_square(numerators, denominators))


def ratio_chi_square(observed: ArrayLike, expected: ArrayLike) -> tuple[float, int] | None:
    """Return Σ(O − E)²/E on k − 1 degrees of freedom; None with k < 2 or any E ≤ 0."""
    o = as_floats(observed)
    e = as_floats(expected)
    if o.size < 2 or np.any(~(e > 0)):
        return None
    return float(np.sum((o - e) ** 2 / e)), o.size - 1


def homogeneity_p_value_ratio(observed: ArrayLike, expected: ArrayLike) -> float | None:
    """Return the p-value of the χ² test that every unit's O/E ratio is 1."""
    return _chi_square_p_value(ratio_chi_square(observed, expected))


def _chi_square_p_value(result: tuple[float, int] | None) -> float | None:
    """The upper-tail p-value of a (statistic, degrees of freedom) pair; None stays None."""
    if result is None:
        return None
    statistic, dof = result
    return float(stats.chi2.sf(statistic, dof))
