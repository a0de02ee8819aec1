"""Consistency statistics behind `marts.consistency_flags` (METRICS.md).

Funnel plots for comparing institutional performance (Spiegelhalter 2005) with the conventions
of PHEindicatormethods and FunnelPlotR. Everything here is a small pure function over numpy
arrays so that each can be checked against the published values in REFERENCE_VALUES.md; the two
frame-level functions at the bottom (`consistency_flags`, `funnel_limit_grid`) only arrange those
functions over groups, so the limits the report draws come from the same code that flags.

Conventions:
- "Missing" is `NaN` in float arrays and `None` for scalar results; DuckDB reads a `NaN` in a
  pandas float column as NULL, so the frames can be returned from a dbt Python model as they are.
- "Outside the limits" is strict: `value < lower` or `value > upper`.
"""

from typing import Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
LabelArray = NDArray[np.object_]

# Standard normal quantiles as printed in METRICS.md; scipy.stats.norm.ppf(0.975) and
# norm.ppf(0.999) give 1.959963985 and 3.090232306. The spec's rounded values are used everywhere
# so that two implementations of the spec agree to the last digit.
Z_95: Final = 1.959964
Z_998: Final = 3.090232
ALPHA_95: Final = 0.05
ALPHA_998: Final = 0.002

# Below these volumes a unit is LOW_VOLUME: not classified, and left out of phi and the
# homogeneity test (METRICS.md).
MIN_PROPORTION_DENOMINATOR: Final = 10
MIN_RATIO_EXPECTED: Final = 5

ALARM: Final = "ALARM"
ALERT: Final = "ALERT"
NONE: Final = "NONE"
LOW_VOLUME: Final = "LOW_VOLUME"
HIGH: Final = "HIGH"
LOW: Final = "LOW"

PROPORTION_MEASURES: Final = ("COMPLETION_RATE", "TIMELY_START_RATE")
RATIO_MEASURE: Final = "REFERRAL_RATIO"

GROUP_COLUMNS: Final = ("period_type", "period", "intervention_code", "measure")
INPUT_COLUMNS: Final = (*GROUP_COLUMNS, "ldu_code", "numerator", "denominator")
OUTPUT_COLUMNS: Final = (
    *INPUT_COLUMNS,
    "value",
    "division_value",
    "z_score",
    "lower_95",
    "upper_95",
    "lower_998",
    "upper_998",
    "direction",
    "level",
    "phi",
    "level_adjusted",
    "homogeneity_p_value",
)
GRID_COLUMNS: Final = (
    *GROUP_COLUMNS,
    "division_value",
    "grid_index",
    "denominator",
    "lower_95",
    "upper_95",
    "lower_998",
    "upper_998",
)

_SEVERITY: Final = {NONE: 0, ALERT: 1, ALARM: 2}  # the levels overdispersion can soften
_Z_BY_ALPHA: Final = {ALPHA_95: Z_95, ALPHA_998: Z_998}


def _floats(values: ArrayLike) -> FloatArray:
    """Return `values` as a float64 array (at least 1-d) so every function is vectorised alike."""
    return np.atleast_1d(np.asarray(values, dtype=np.float64))


def _z_for_alpha(alpha: float) -> float:
    """Use the spec's rounded z for its two alphas, the exact normal quantile otherwise."""
    return _Z_BY_ALPHA.get(alpha, float(stats.norm.ppf(1.0 - alpha / 2.0)))


# --- funnel limits ------------------------------------------------------------------------------


def proportion_limits(p_bar: ArrayLike, n: ArrayLike, z: float) -> tuple[FloatArray, FloatArray]:
    """Normal-approximation funnel limits p̄ ± z·√(p̄(1 − p̄)/n), clamped to [0, 1].

    Clamped because a proportion cannot leave [0, 1] and the report draws these limits on the
    proportion's own scale (PHEindicatormethods does the same). Vectorised over `n` (and `p_bar`,
    which broadcasts); NaN where n ≤ 0 or p̄ is missing, since there is no funnel at zero volume.
    """
    p = _floats(p_bar)
    size = _floats(n)
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
    e = _floats(expected)
    has_volume = e > 0
    e_safe = np.where(has_volume, e, 1.0)
    lower = stats.chi2.ppf(alpha / 2.0, 2.0 * e_safe) / (2.0 * e_safe)
    upper = stats.chi2.ppf(1.0 - alpha / 2.0, 2.0 * e_safe + 2.0) / (2.0 * e_safe)
    return np.where(has_volume, lower, np.nan), np.where(has_volume, upper, np.nan)


# --- z-scores ----------------------------------------------------------------------------------


def proportion_z_scores(
    numerator: ArrayLike, denominator: ArrayLike, p_bar: ArrayLike
) -> FloatArray:
    """Return (p − p̄) / √(p̄(1 − p̄)/n); NaN where n ≤ 0 or p̄ is 0, 1 or missing.

    When p̄ is 0 or 1 every unit sits on the pooled value with zero variance, so a z-score would
    be 0/0: the spec makes it NULL rather than inventing a value.
    """
    x = _floats(numerator)
    n = _floats(denominator)
    p = _floats(p_bar)
    defined = (n > 0) & (p > 0) & (p < 1)
    n_safe = np.where(defined, n, 1.0)
    p_safe = np.where(defined, p, 0.5)
    z = (x / n_safe - p_safe) / np.sqrt(p_safe * (1.0 - p_safe) / n_safe)
    return np.where(defined, z, np.nan)


def ratio_z_scores(observed: ArrayLike, expected: ArrayLike) -> FloatArray:
    """Return (O − E) / √E, the Poisson z-score used for overdispersion; NaN where E ≤ 0."""
    o = _floats(observed)
    e = _floats(expected)
    defined = e > 0
    e_safe = np.where(defined, e, 1.0)
    return np.where(defined, (o - e_safe) / np.sqrt(e_safe), np.nan)


# --- classification ----------------------------------------------------------------------------


def proportion_low_volume(denominator: ArrayLike) -> BoolArray:
    """Flag proportions whose denominator is under 10 (a missing denominator counts as 0)."""
    return ~(_floats(denominator) >= MIN_PROPORTION_DENOMINATOR)


def ratio_low_volume(expected: ArrayLike) -> BoolArray:
    """Flag ratios whose expected count E is under 5 (a missing E counts as 0)."""
    return ~(_floats(expected) >= MIN_RATIO_EXPECTED)


def classify_level(
    value: ArrayLike,
    lower_95: ArrayLike,
    upper_95: ArrayLike,
    lower_998: ArrayLike,
    upper_998: ArrayLike,
    *,
    low_volume: ArrayLike,
    defined: ArrayLike | None = None,
) -> tuple[LabelArray, LabelArray]:
    """Return (level, direction) for each unit from its value and funnel limits.

    Precedence, first that applies:
    1. `LOW_VOLUME` where `low_volume`. Volume comes first even when the z-score is undefined
       (p̄ of 0 or 1): LOW_VOLUME says "too small to judge", which is true whatever p̄ is, and it
       is what keeps a unit out of phi and the homogeneity test, so a small unit must carry it
       in every group alike rather than flip to NONE when the whole group happens to be 0 % or
       100 %. A zero denominator is always LOW_VOLUME, so rows without a value land here.
    2. `NONE` where not `defined` (p̄ of 0 or 1: no spread, so nothing can be out of line).
    3. `ALARM` where the value is strictly outside the 99.8 % limits.
    4. `ALERT` where strictly outside the 95 % limits only.
    5. `NONE` otherwise (including any unit with a missing value or limit).

    `direction` is HIGH or LOW (above the upper or below the lower limit) for ALERT and ALARM,
    and NONE otherwise.
    """
    v = _floats(value)
    lo95, up95 = _floats(lower_95), _floats(upper_95)
    lo998, up998 = _floats(lower_998), _floats(upper_998)
    small = np.broadcast_to(np.asarray(low_volume, dtype=bool), v.shape)
    ok = np.ones(v.shape, dtype=bool) if defined is None else np.asarray(defined, dtype=bool)
    ok = np.broadcast_to(ok, v.shape)
    judged = ~small & ok
    high_998 = judged & (v > up998)
    low_998 = judged & (v < lo998)
    high_95 = judged & (v > up95)
    low_95 = judged & (v < lo95)
    level = np.select(
        [small, ~ok, high_998 | low_998, high_95 | low_95], [LOW_VOLUME, NONE, ALARM, ALERT], NONE
    ).astype(object)
    direction = np.select([high_95 | high_998, low_95 | low_998], [HIGH, LOW], NONE).astype(object)
    return level, direction


def classify_proportions(
    numerator: ArrayLike, denominator: ArrayLike, p_bar: ArrayLike
) -> tuple[LabelArray, LabelArray]:
    """Return (level, direction) for proportions against the pooled p̄ (see `classify_level`)."""
    x, n = _floats(numerator), _floats(denominator)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(n > 0, x / np.where(n > 0, n, 1.0), np.nan)
    lo95, up95 = proportion_limits(p_bar, n, Z_95)
    lo998, up998 = proportion_limits(p_bar, n, Z_998)
    z = proportion_z_scores(x, n, p_bar)
    return classify_level(
        value, lo95, up95, lo998, up998, low_volume=proportion_low_volume(n), defined=~np.isnan(z)
    )


def classify_ratios(observed: ArrayLike, expected: ArrayLike) -> tuple[LabelArray, LabelArray]:
    """Return (level, direction) for O/E ratios against exact Poisson limits around 1."""
    o, e = _floats(observed), _floats(expected)
    value = np.where(e > 0, o / np.where(e > 0, e, 1.0), np.nan)
    lo95, up95 = poisson_ratio_limits(e, ALPHA_95)
    lo998, up998 = poisson_ratio_limits(e, ALPHA_998)
    return classify_level(
        value, lo95, up95, lo998, up998, low_volume=ratio_low_volume(e), defined=e > 0
    )


# --- overdispersion ----------------------------------------------------------------------------


def linear_percentiles(values: ArrayLike, percentiles: ArrayLike) -> FloatArray:
    """Percentiles by linear interpolation between order statistics (numpy's default method).

    The same numbers as `numpy.percentile(values, percentiles, method="linear")`, written out
    because numpy's general routine costs about half a millisecond a call, and it is called
    once per group.
    """
    ordered = np.sort(_floats(values))
    positions = _floats(percentiles) / 100.0 * (ordered.size - 1)
    return np.interp(positions, np.arange(ordered.size), ordered)


def winsorise(
    z: ArrayLike, lower_percentile: float = 10.0, upper_percentile: float = 90.0
) -> FloatArray:
    """Pull values beyond the given percentiles (linear interpolation) in to those percentiles.

    Winsorising stops the outliers the funnel is meant to find from inflating phi and so hiding
    themselves (Spiegelhalter 2005). NaN values are dropped first.
    """
    values = _floats(z)
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
    values = _floats(z)
    values = values[~np.isnan(values)]
    if values.size < 2:
        return None
    return float(np.mean(winsorise(values) ** 2))


def adjusted_level(level: ArrayLike, z: ArrayLike, phi: ArrayLike | float | None) -> LabelArray:
    """Return the level after allowing for overdispersion, never more severe than `level`.

    When φ > 1 the unit's level is recomputed from |z| / √φ against Z_95 and Z_998 (strictly
    greater), then capped at the original level: the spec's limits (exact Poisson for ratios)
    stay the authority on whether a unit is out of line at all, and overdispersion can only
    explain some of that away. LOW_VOLUME stays LOW_VOLUME; a missing z or φ ≤ 1 (or missing)
    leaves the level as it is. `phi` may be a scalar or one value per unit.
    """
    levels = np.atleast_1d(np.asarray(level, dtype=object))
    zs = np.broadcast_to(_floats(z), levels.shape)
    phis = np.broadcast_to(_floats(np.nan if phi is None else phi), levels.shape)
    adjust = (phis > 1) & ~np.isnan(zs) & np.isin(levels, list(_SEVERITY))
    with np.errstate(invalid="ignore"):
        scaled = np.abs(zs) / np.sqrt(np.where(phis > 0, phis, np.nan))
    level_rank = np.select([levels == ALARM, levels == ALERT], [2, 1], 0)
    scaled_rank = np.select([scaled > Z_998, scaled > Z_95], [2, 1], 0)
    capped = np.array([NONE, ALERT, ALARM], dtype=object)[np.minimum(level_rank, scaled_rank)]
    return np.where(adjust, capped, levels).astype(object)


# --- homogeneity -------------------------------------------------------------------------------


def proportions_chi_square(
    numerators: ArrayLike, denominators: ArrayLike
) -> tuple[float, int] | None:
    """Pearson χ² and degrees of freedom for the table units × {numerator, denominator − numerator}.

    No continuity correction (it only ever applies to 2 × 2 tables, and the spec excludes it).
    None with fewer than two units or a zero margin (a unit with no denominator, or a column
    that is all zeros, i.e. p̄ of 0 or 1), where expected counts of zero make χ² undefined.
    """
    x = _floats(numerators)
    n = _floats(denominators)
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
    result = proportions_chi_square(numerators, denominators)
    if result is None:
        return None
    statistic, dof = result
    return float(stats.chi2.sf(statistic, dof))


def ratio_chi_square(observed: ArrayLike, expected: ArrayLike) -> tuple[float, int] | None:
    """Return Σ(O − E)²/E on k − 1 degrees of freedom; None with k < 2 or any E ≤ 0."""
    o = _floats(observed)
    e = _floats(expected)
    if o.size < 2 or np.any(~(e > 0)):
        return None
    return float(np.sum((o - e) ** 2 / e)), o.size - 1


def homogeneity_p_value_ratio(observed: ArrayLike, expected: ArrayLike) -> float | None:
    """Return the p-value of the χ² test that every unit's O/E ratio is 1."""
    result = ratio_chi_square(observed, expected)
    if result is None:
        return None
    statistic, dof = result
    return float(stats.chi2.sf(statistic, dof))


# --- display confidence intervals ---------------------------------------------------------------


def exact_poisson_count_limits(observed: ArrayLike, alpha: float) -> tuple[FloatArray, FloatArray]:
    """Exact (Garwood) limits of a Poisson count: χ²(α/2; 2O)/2 and χ²(1 − α/2; 2O + 2)/2."""
    o = _floats(observed)
    lower = np.where(o > 0, stats.chi2.ppf(alpha / 2.0, 2.0 * np.where(o > 0, o, 1.0)) / 2.0, 0.0)
    upper = stats.chi2.ppf(1.0 - alpha / 2.0, 2.0 * o + 2.0) / 2.0
    return lower, upper


def byar_count_limits(observed: ArrayLike, z: float) -> tuple[FloatArray, FloatArray]:
    """Byar's approximation to the exact Poisson limits of a count O (needs O > 0).

    lower = O(1 − 1/(9O) − z/(3√O))³, upper = (O + 1)(1 − 1/(9(O + 1)) + z/(3√(O + 1)))³.
    """
    o = _floats(observed)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = o * (1.0 - 1.0 / (9.0 * o) - z / (3.0 * np.sqrt(o))) ** 3
    o1 = o + 1.0
    upper = o1 * (1.0 - 1.0 / (9.0 * o1) + z / (3.0 * np.sqrt(o1))) ** 3
    return lower, upper


def ratio_display_limits(
    observed: ArrayLike, expected: ArrayLike, alpha: float = ALPHA_95
) -> tuple[FloatArray, FloatArray]:
    """Confidence interval of O/E for display: exact Poisson when O < 10, Byar when O ≥ 10.

    PHEindicatormethods' convention: Byar is accurate enough from 10 upward and cheap; the
    exact interval is used below. Divided by E; NaN where E ≤ 0.
    """
    o = _floats(observed)
    e = _floats(expected)
    exact_lower, exact_upper = exact_poisson_count_limits(o, alpha)
    byar_lower, byar_upper = byar_count_limits(np.where(o >= 10, o, 10.0), _z_for_alpha(alpha))
    use_byar = o >= 10
    e_safe = np.where(e > 0, e, np.nan)
    lower = np.where(use_byar, byar_lower, exact_lower) / e_safe
    upper = np.where(use_byar, byar_upper, exact_upper) / e_safe
    return lower, upper


# --- frames ------------------------------------------------------------------------------------


def _validate(measures: pd.DataFrame) -> None:
    """Fail early, naming the column or row, on input the statistics cannot be trusted with."""
    missing = [column for column in INPUT_COLUMNS if column not in measures.columns]
    if missing:
        raise ValueError(
            f"consistency_flags input lacks columns {missing}; it needs {list(INPUT_COLUMNS)}, "
            "with numerator = O and denominator = E for REFERRAL_RATIO."
        )
    known = {*PROPORTION_MEASURES, RATIO_MEASURE}
    unknown = sorted({str(m) for m in measures["measure"].unique()} - known)
    if unknown:
        raise ValueError(
            f"consistency_flags got unknown measures {unknown}; expected {sorted(known)}."
        )
    for column in ("numerator", "denominator"):
        values = pd.to_numeric(measures[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~(values >= 0))
        if bad.size:
            row = measures.iloc[bad[0]][list(INPUT_COLUMNS)].to_dict()
            raise ValueError(
                f"consistency_flags: {bad.size} row(s) have a missing or negative {column}, "
                f"first {row}; the marts give zeros, not NULLs, so check the upstream model."
            )


def _group_ids(frame: pd.DataFrame) -> NDArray[np.int64]:
    """Number the (period_type, period, intervention_code, measure) groups as they appear."""
    return frame.groupby(list(GROUP_COLUMNS), sort=False, dropna=False).ngroup().to_numpy(np.int64)


def _split_by_group(group_id: NDArray[np.int64]) -> list[NDArray[np.int64]]:
    """Return the row positions of each group, in group-number order."""
    order = np.argsort(group_id, kind="stable")
    boundaries = np.flatnonzero(np.diff(group_id[order])) + 1
    return np.split(order, boundaries)


def consistency_flags(measures: pd.DataFrame) -> pd.DataFrame:
    """Build `marts.consistency_flags` from one row per period, intervention, measure and LDU.

    Input columns: period_type, period, intervention_code, measure, ldu_code, numerator and
    denominator. For COMPLETION_RATE and TIMELY_START_RATE these are the counts; for
    REFERRAL_RATIO numerator is the observed O and denominator the expected E, exactly as the
    published table carries them, so one input shape serves all three measures. Counts must be
    present and non-negative (zeros, not NULLs). Any other input columns (e.g. period_start) are
    passed through after the published ones.

    Output: the columns of METRICS.md in its order (OUTPUT_COLUMNS), one row per input row and
    in input order; numbers as float64 with NaN for NULL, labels as strings. p̄ is pooled over
    every LDU of the group, LOW_VOLUME ones included; φ and the homogeneity test use the
    non-LOW_VOLUME LDUs only. The row arithmetic is vectorised; φ and the χ² test loop over
    groups (about a thousand), calling the same pure functions that the tests check.
    """
    _validate(measures)
    frame = measures.reset_index(drop=True)
    numerator = pd.to_numeric(frame["numerator"]).to_numpy(dtype=np.float64)
    denominator = pd.to_numeric(frame["denominator"]).to_numpy(dtype=np.float64)
    is_ratio = (frame["measure"] == RATIO_MEASURE).to_numpy(dtype=bool)
    group_id = _group_ids(frame)

    group_count = int(group_id.max()) + 1 if group_id.size else 0
    sum_numerator = np.bincount(group_id, weights=numerator, minlength=group_count)
    sum_denominator = np.bincount(group_id, weights=denominator, minlength=group_count)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = np.where(sum_denominator > 0, sum_numerator / sum_denominator, np.nan)
        value = np.where(denominator > 0, numerator / denominator, np.nan)
    p_bar = pooled[group_id]
    division_value = np.where(is_ratio, 1.0, p_bar)

    prop_lo95, prop_up95 = proportion_limits(p_bar, denominator, Z_95)
    prop_lo998, prop_up998 = proportion_limits(p_bar, denominator, Z_998)
    ratio_lo95, ratio_up95 = poisson_ratio_limits(denominator, ALPHA_95)
    ratio_lo998, ratio_up998 = poisson_ratio_limits(denominator, ALPHA_998)
    lower_95 = np.where(is_ratio, ratio_lo95, prop_lo95)
    upper_95 = np.where(is_ratio, ratio_up95, prop_up95)
    lower_998 = np.where(is_ratio, ratio_lo998, prop_lo998)
    upper_998 = np.where(is_ratio, ratio_up998, prop_up998)
    z_score = np.where(
        is_ratio,
        ratio_z_scores(numerator, denominator),
        proportion_z_scores(numerator, denominator, p_bar),
    )
    low_volume = np.where(
        is_ratio, ratio_low_volume(denominator), proportion_low_volume(denominator)
    )
    level, direction = classify_level(
        value,
        lower_95,
        upper_95,
        lower_998,
        upper_998,
        low_volume=low_volume,
        defined=~np.isnan(z_score),
    )

    phi = np.full(len(frame), np.nan)
    chi_square = np.full(len(frame), np.nan)
    dof = np.full(len(frame), np.nan)
    for rows in _split_by_group(group_id):
        if rows.size == 0:
            continue
        judged = rows[~low_volume[rows]]
        test = (ratio_chi_square if is_ratio[rows[0]] else proportions_chi_square)(
            numerator[judged], denominator[judged]
        )
        group_phi = overdispersion_phi(z_score[judged])
        phi[rows] = np.nan if group_phi is None else group_phi
        if test is not None:
            chi_square[rows], dof[rows] = test
    # One vectorised call instead of one per group: the same p-value as homogeneity_p_value_*.
    has_test = ~np.isnan(dof)
    p_value = np.full(len(frame), np.nan)
    p_value[has_test] = stats.chi2.sf(chi_square[has_test], dof[has_test])

    published = pd.DataFrame(
        {
            **{column: frame[column] for column in (*GROUP_COLUMNS, "ldu_code")},
            "numerator": numerator,
            "denominator": denominator,
            "value": value,
            "division_value": division_value,
            "z_score": z_score,
            "lower_95": lower_95,
            "upper_95": upper_95,
            "lower_998": lower_998,
            "upper_998": upper_998,
            "direction": direction.astype(str),
            "level": level.astype(str),
            "phi": phi,
            "level_adjusted": adjusted_level(level, z_score, phi).astype(str),
            "homogeneity_p_value": p_value,
        }
    )
    extra = [column for column in frame.columns if column not in OUTPUT_COLUMNS]
    return pd.concat([published, frame[extra]], axis=1) if extra else published


def funnel_limit_grid(
    flags: pd.DataFrame,
    points: int = 60,
    start: float = 1.0,
    scale: float = 1.2,
) -> pd.DataFrame:
    """Tabulate each group's funnel limits over a grid of denominators, for the report to draw.

    Computed here, by the functions that flag, so the drawn funnel and the flags cannot drift
    apart (DESIGN_NOTES). `flags` is the output of `consistency_flags` (it needs the group
    columns, `denominator` and `division_value`). Each group gets `points` denominators spaced
    evenly on a log scale from `start` to `scale` × its largest denominator, both included.
    Groups whose largest denominator × `scale` is not above `start`, or whose p̄ is missing
    (no denominators at all), get no rows: there is no funnel to draw.

    Output columns (GRID_COLUMNS): the group columns, division_value, grid_index (0 to
    points − 1), denominator, lower_95, upper_95, lower_998, upper_998, on the scale of `value`.
    """
    keys = list(GROUP_COLUMNS)
    summary = (
        flags.groupby(keys, sort=False, dropna=False)
        .agg(division_value=("division_value", "first"), largest=("denominator", "max"))
        .reset_index()
    )
    top = summary["largest"].to_numpy(dtype=np.float64) * scale
    drawable = (top > start) & ~np.isnan(summary["division_value"].to_numpy(dtype=np.float64))
    summary = summary.loc[drawable].reset_index(drop=True)
    top = top[drawable]

    fractions = np.linspace(0.0, 1.0, points)
    log_start = np.log(start)
    grid = np.exp(log_start + np.outer(np.log(top) - log_start, fractions))  # groups × points
    grid[:, 0], grid[:, -1] = start, top  # exact endpoints, free of exp/log rounding

    repeated = summary.loc[summary.index.repeat(points), [*keys, "division_value"]]
    repeated = repeated.reset_index(drop=True)
    denominators = grid.ravel()
    p_bar = repeated["division_value"].to_numpy(dtype=np.float64)
    is_ratio = (repeated["measure"] == RATIO_MEASURE).to_numpy(dtype=bool)
    limits = {}
    for suffix, z, alpha in (("95", Z_95, ALPHA_95), ("998", Z_998, ALPHA_998)):
        prop_lower, prop_upper = proportion_limits(p_bar, denominators, z)
        ratio_lower, ratio_upper = poisson_ratio_limits(denominators, alpha)
        limits[f"lower_{suffix}"] = np.where(is_ratio, ratio_lower, prop_lower)
        limits[f"upper_{suffix}"] = np.where(is_ratio, ratio_upper, prop_upper)
    repeated["grid_index"] = np.tile(np.arange(points), len(summary))
    repeated["denominator"] = denominators
    for column in ("lower_95", "upper_95", "lower_998", "upper_998"):
        repeated[column] = limits[column]
    return repeated[list(GRID_COLUMNS)]
