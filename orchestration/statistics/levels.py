"""The consistency levels: ALARM, ALERT, NONE or LOW_VOLUME, and HIGH or LOW (docs/metrics.md).

`classify_proportions` and `classify_ratios` are what `flags.consistency_flags` calls for each
unit; `adjusted_level` softens a level for overdispersion. "Outside the limits" is strict:
`value < lower` or `value > upper`.
"""

from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from orchestration.statistics.limits import (
    ALPHA_95,
    ALPHA_998,
    Z_95,
    Z_998,
    as_floats,
    poisson_ratio_limits,
    proportion_limits,
    proportion_low_volume,
    proportion_z_scores,
    ratio_low_volume,
)

LabelArray = NDArray[np.object_]

ALARM: Final = "ALARM"
ALERT: Final = "ALERT"
NONE: Final = "NONE"
LOW_VOLUME: Final = "LOW_VOLUME"
HIGH: Final = "HIGH"
LOW: Final = "LOW"

_SEVERITY: Final = {NONE: 0, ALERT: 1, ALARM: 2}  # the levels overdispersion can soften


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
    v = as_floats(value)
    lo95, up95 = as_floats(lower_95), as_floats(upper_95)
    lo998, up998 = as_floats(lower_998), as_floats(upper_998)
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
    x, n = as_floats(numerator), as_floats(denominator)
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
    o, e = as_floats(observed), as_floats(expected)
    value = np.where(e > 0, o / np.where(e > 0, e, 1.0), np.nan)
    lo95, up95 = poisson_ratio_limits(e, ALPHA_95)
    lo998, up998 = poisson_ratio_limits(e, ALPHA_998)
    return classify_level(
        value, lo95, up95, lo998, up998, low_volume=ratio_low_volume(e), defined=e > 0
    )


def adjusted_level(level: ArrayLike, z: ArrayLike, phi: ArrayLike | float | None) -> LabelArray:
    """Return the level after allowing for overdispersion, never more severe than `level`.

    When φ > 1 the unit's level is recomputed from |z| / √φ against Z_95 and Z_998 (strictly
    greater), then capped at the original level: the spec's limits (exact Poisson for ratios)
    stay the authority on whether a unit is out of line at all, and overdispersion can only
    explain some of that away. LOW_VOLUME stays LOW_VOLUME; a missing z or φ ≤ 1 (or missing)
    leaves the level as it is. `phi` may be a scalar or one value per unit.
    """
    levels = np.atleast_1d(np.asarray(level, dtype=object))
    zs = np.broadcast_to(as_floats(z), levels.shape)
    phis = np.broadcast_to(as_floats(np.nan if phi is None else phi), levels.shape)
    adjust = (phis > 1) & ~np.isnan(zs) & np.isin(levels, list(_SEVERITY))
    with np.errstate(invalid="ignore"):
        scaled = np.abs(zs) / np.sqrt(np.where(phis > 0, phis, np.nan))
    level_rank = np.select([levels == ALARM, levels == ALERT], [2, 1], 0)
    scaled_rank = np.select([scaled > Z_998, scaled > Z_95], [2, 1], 0)
    capped = np.array([NONE, ALERT, ALARM], dtype=object)[np.minimum(level_rank, scaled_rank)]
    return np.where(adjust, capped, levels).astype(object)
