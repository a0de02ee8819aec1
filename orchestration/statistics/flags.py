"""`marts.consistency_flags` and its funnel grid, from the statistics of `limits` and `levels`.

The two frame-level functions the dbt Python models call: `consistency_flags` flags every LDU of
every (period, intervention, measure) group, and `funnel_limit_grid` tabulates the same groups'
limits for the report to draw. Both only arrange the pure functions of `limits` and `levels`
over groups, so the limits the report draws come from the same code that flags.
"""

from typing import Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from orchestration.statistics.levels import adjusted_level, classify_proportions, classify_ratios
from orchestration.statistics.limits import (
    ALPHA_95,
    ALPHA_998,
    Z_95,
    Z_998,
    homogeneity_p_value_proportions,
    homogeneity_p_value_ratio,
    overdispersion_phi,
    poisson_ratio_limits,
    proportion_limits,
    proportion_low_volume,
    proportion_z_scores,
    ratio_low_volume,
    ratio_z_scores,
)

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

    Output: the columns of docs/metrics.md in its order (OUTPUT_COLUMNS), one row per input row and
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
    level = np.empty(len(frame), dtype=object)
    direction = np.empty(len(frame), dtype=object)
    prop = ~is_ratio
    level[prop], direction[prop] = classify_proportions(
        numerator[prop], denominator[prop], p_bar[prop]
    )
    level[is_ratio], direction[is_ratio] = classify_ratios(
        numerator[is_ratio], denominator[is_ratio]
    )

    phi = np.full(len(frame), np.nan)
    p_value = np.full(len(frame), np.nan)
    for rows in _split_by_group(group_id):
        if rows.size == 0:
            continue
        judged = rows[~low_volume[rows]]
        homogeneity = (
            homogeneity_p_value_ratio if is_ratio[rows[0]] else homogeneity_p_value_proportions
        )
        group_p_value = homogeneity(numerator[judged], denominator[judged])
        group_phi = overdispersion_phi(z_score[judged])
        phi[rows] = np.nan if group_phi is None else group_phi
        p_value[rows] = np.nan if group_p_value is None else group_p_value

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
    apart (docs/decisions.md). `flags` is the output of `consistency_flags` (it needs the group
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
