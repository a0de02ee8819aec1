"""Tests for the consistency statistics against docs/reference_values.md and docs/metrics.md."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from orchestration.statistics import flags as stats
from orchestration.statistics import levels, limits

pytestmark = pytest.mark.unit

REL = 1e-6
P_BAR_REFERENCE = 0.80642448


# --- published reference values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "z", "side", "expected"),
    [
        (190, limits.Z_998, "lower", 0.71784739),
        (190, limits.Z_95, "lower", 0.75024492),
        (190, limits.Z_95, "upper", 0.86260404),
        (190, limits.Z_998, "upper", 0.89500157),
        (110000, limits.Z_998, "lower", 0.80274317),
        (110000, limits.Z_95, "lower", 0.80408963),
        (110000, limits.Z_95, "upper", 0.80875933),
        (110000, limits.Z_998, "upper", 0.81010578),
        (3, limits.Z_998, "lower", 0.10150815),
        (1, limits.Z_95, "lower", 0.03204264),
        (1, limits.Z_95, "upper", 1.0),
    ],
)
def test_proportion_limits_match_phe_indicator_methods(n, z, side, expected):
    lower, upper = limits.proportion_limits(P_BAR_REFERENCE, n, z)
    got = lower[0] if side == "lower" else upper[0]
    assert got == pytest.approx(expected, rel=REL)


@pytest.mark.parametrize(
    ("expected_count", "alpha", "lower", "upper"),
    [
        (15, limits.ALPHA_95, 0.5596924, 1.649348),
        (15, limits.ALPHA_998, 0.3862650, 2.082907),
        (20, limits.ALPHA_95, 0.6108260, 1.544419),
        (20, limits.ALPHA_998, 0.4479107, 1.902094),
        (30, limits.ALPHA_95, 0.6746958, 1.427562),
        (30, limits.ALPHA_998, 0.5289724, 1.702771),
    ],
)
def test_poisson_ratio_limits_match_funnelplotr(expected_count, alpha, lower, upper):
    got_lower, got_upper = limits.poisson_ratio_limits(expected_count, alpha)
    # FunnelPlotR's test values are printed to 7 significant figures.
    assert got_lower[0] == pytest.approx(lower, rel=1e-6)
    assert got_upper[0] == pytest.approx(upper, rel=1e-6)


@pytest.mark.parametrize(
    ("observed", "expected", "level", "direction"),
    [
        (8, 6.23986, "NONE", "NONE"),
        (150, 119.5695, "ALERT", "HIGH"),
        (151, 106.443, "ALARM", "HIGH"),
        (159, 232.933, "ALARM", "LOW"),
        (0, 240.627, "ALARM", "LOW"),
    ],
)
def test_ratio_classification_matches_phe_indicator_methods(observed, expected, level, direction):
    got_level, got_direction = levels.classify_ratios(observed, expected)
    assert (got_level[0], got_direction[0]) == (level, direction)


def test_chi_square_matches_scipy_documentation_example():
    # scipy's table [[10, 10, 20], [20, 20, 20]] transposed: three units of (numerator, rest).
    statistic, dof = limits.proportions_chi_square([10, 10, 20], [30, 30, 40])
    assert statistic == pytest.approx(2.7777778, rel=REL)
    assert dof == 2
    p_value = limits.homogeneity_p_value_proportions([10, 10, 20], [30, 30, 40])
    assert p_value == pytest.approx(0.24935221, rel=REL)


def test_z_constants_are_the_rounded_normal_quantiles():
    assert limits.Z_95 == pytest.approx(scipy_stats.norm.ppf(0.975), abs=5e-7)
    assert limits.Z_998 == pytest.approx(scipy_stats.norm.ppf(0.999), abs=5e-7)


# --- limits and z-scores ---------------------------------------------------------------------


def test_proportion_limits_are_clamped_to_zero_and_one():
    lower, _ = limits.proportion_limits(0.05, 2, limits.Z_95)
    _, upper = limits.proportion_limits(0.95, 2, limits.Z_95)
    assert lower[0] == 0.0
    assert upper[0] == 1.0


def test_limits_are_missing_without_a_denominator():
    lower, upper = limits.proportion_limits(0.5, [0, 10], limits.Z_95)
    assert np.isnan(lower[0]) and np.isnan(upper[0])
    assert not np.isnan(lower[1])
    ratio_lower, ratio_upper = limits.poisson_ratio_limits([0.0, 2.0], limits.ALPHA_95)
    assert np.isnan(ratio_lower[0]) and np.isnan(ratio_upper[0])
    assert not np.isnan(ratio_lower[1])


def test_proportion_limits_vectorised_over_n_narrow_with_volume():
    lower, upper = limits.proportion_limits(0.6, [10, 100, 1000], limits.Z_95)
    assert np.all(np.diff(lower) > 0)
    assert np.all(np.diff(upper) < 0)


def test_z_scores_by_hand():
    # (0.7 - 0.5) / sqrt(0.25 / 100) = 0.2 / 0.05 = 4; (30 - 25) / sqrt(25) = 1.
    assert limits.proportion_z_scores(70, 100, 0.5)[0] == pytest.approx(4.0)
    assert limits.ratio_z_scores(30, 25)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("p_bar", [0.0, 1.0])
def test_pooled_zero_or_one_gives_missing_z_and_level_none(p_bar):
    numerator = np.array([20, 5]) * p_bar
    z = limits.proportion_z_scores(numerator, [20, 5], p_bar)
    assert np.isnan(z).all()
    level, direction = levels.classify_proportions(numerator, [20, 5], p_bar)
    # Volume still wins for the small unit: LOW_VOLUME is about size, not spread.
    assert list(level) == ["NONE", "LOW_VOLUME"]
    assert list(direction) == ["NONE", "NONE"]


def test_pooled_zero_with_a_stray_value_is_still_none():
    # Inconsistent inputs (a positive value against p̄ = 0) must not be flagged: z is undefined.
    level, _ = levels.classify_proportions([5], [20], 0.0)
    assert level[0] == "NONE"


# --- classification --------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "level"), [(9, "LOW_VOLUME"), (10, "ALARM")])
def test_proportion_low_volume_boundary(n, level):
    got, _ = levels.classify_proportions(0, n, 0.9)
    assert got[0] == level


@pytest.mark.parametrize(("expected", "level"), [(4.99, "LOW_VOLUME"), (5.0, "ALARM")])
def test_ratio_low_volume_boundary(expected, level):
    got, _ = levels.classify_ratios(30, expected)
    assert got[0] == level


def test_low_volume_has_no_direction():
    _, direction = levels.classify_proportions(0, 9, 0.9)
    assert direction[0] == "NONE"


@pytest.mark.parametrize(
    ("value", "level", "direction"),
    [
        (0.5, "NONE", "NONE"),  # on the lower 95 % limit: not outside
        (0.4999, "ALERT", "LOW"),
        (0.6, "NONE", "NONE"),  # on the upper 95 % limit
        (0.7, "ALERT", "HIGH"),  # on the upper 99.8 % limit: outside 95 % only
        (0.7001, "ALARM", "HIGH"),
        (0.3999, "ALARM", "LOW"),
    ],
)
def test_outside_the_limits_is_strict(value, level, direction):
    got_level, got_direction = levels.classify_level(value, 0.5, 0.6, 0.4, 0.7, low_volume=False)
    assert (got_level[0], got_direction[0]) == (level, direction)


# --- overdispersion ----------------------------------------------------------------------------


def test_winsorise_hand_computed():
    # Six values: 10th percentile at position 0.5 -> (-3 + -1) / 2 = -2;
    # 90th percentile at position 4.5 -> (2 + 10) / 2 = 6.
    got = limits.winsorise([-3, -1, 0, 1, 2, 10])
    assert list(got) == pytest.approx([-2, -1, 0, 1, 2, 6])


def test_phi_is_mean_of_squared_winsorised_z():
    # (4 + 1 + 0 + 1 + 4 + 36) / 6
    assert limits.overdispersion_phi([-3, -1, 0, 1, 2, 10]) == pytest.approx(46 / 6)


@pytest.mark.parametrize("z", [[], [2.5], [2.5, np.nan]])
def test_phi_missing_with_fewer_than_two_z(z):
    assert limits.overdispersion_phi(z) is None


@pytest.mark.parametrize(
    ("level", "z", "phi", "adjusted"),
    [
        ("ALARM", 4.0, 2.0, "ALERT"),  # 4 / sqrt(2) = 2.83
        ("ALARM", 4.0, 4.0, "ALERT"),  # 4 / 2 = 2.0 > 1.959964
        ("ALARM", 3.0, 4.0, "NONE"),  # 3 / 2 = 1.5
        ("ALARM", 4.0, 0.9, "ALARM"),  # phi <= 1: unchanged
        ("ALARM", 4.0, None, "ALARM"),  # phi missing: unchanged
        ("NONE", 5.0, 1.5, "NONE"),  # would be ALARM, but never more severe than level
        ("ALERT", 5.0, 1.5, "ALERT"),  # would be ALARM, capped at ALERT
        ("LOW_VOLUME", 9.0, 2.0, "LOW_VOLUME"),
        ("NONE", np.nan, 2.0, "NONE"),
    ],
)
def test_adjusted_level(level, z, phi, adjusted):
    assert levels.adjusted_level([level], [z], phi)[0] == adjusted


def test_adjusted_level_never_more_severe_than_level():
    rng = np.random.default_rng(7)
    z = rng.normal(0, 4, 500)
    labels = rng.choice(["NONE", "ALERT", "ALARM", "LOW_VOLUME"], 500)
    phi = rng.uniform(0.5, 3.0, 500)
    adjusted = levels.adjusted_level(labels, z, phi)
    rank = {"NONE": 0, "ALERT": 1, "ALARM": 2}
    for before, after in zip(labels, adjusted, strict=True):
        if before == "LOW_VOLUME":
            assert after == "LOW_VOLUME"
        else:
            assert rank[after] <= rank[before]
    assert (adjusted != labels).any()  # the adjustment did something


# --- homogeneity --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerators", "denominators"),
    [
        ([0, 0, 0], [20, 30, 40]),  # zero "numerator" margin (p̄ = 0)
        ([20, 30, 40], [20, 30, 40]),  # zero "rest" margin (p̄ = 1)
        ([0, 5], [0, 30]),  # a unit with no denominator
        ([5], [30]),  # one unit
    ],
)
def test_proportion_homogeneity_missing(numerators, denominators):
    assert limits.homogeneity_p_value_proportions(numerators, denominators) is None


def test_proportion_homogeneity_agrees_with_scipy():
    numerators, denominators = [12, 30, 7, 19], [40, 61, 33, 50]
    table = np.column_stack([numerators, np.subtract(denominators, numerators)])
    expected = scipy_stats.chi2_contingency(table, correction=False).pvalue
    got = limits.homogeneity_p_value_proportions(numerators, denominators)
    assert got == pytest.approx(expected, rel=1e-9)


def test_ratio_homogeneity_hand_computed():
    # (10 - 15)^2 / 15 + (20 - 15)^2 / 15 = 10 / 3 on 1 df; P(chi2_1 > x) = erfc(sqrt(x / 2)).
    statistic, dof = limits.ratio_chi_square([10, 20], [15, 15])
    assert (statistic, dof) == (pytest.approx(10 / 3), 1)
    expected = math.erfc(math.sqrt(10 / 3 / 2))
    assert limits.homogeneity_p_value_ratio([10, 20], [15, 15]) == pytest.approx(expected)


@pytest.mark.parametrize(("observed", "expected"), [([10], [15]), ([10, 3], [15, 0])])
def test_ratio_homogeneity_missing(observed, expected):
    assert limits.homogeneity_p_value_ratio(observed, expected) is None


# --- the frame ----------------------------------------------------------------------------------


def _row(measure, ldu, numerator, denominator, intervention="TSP"):
    return {
        "period_type": "YEAR",
        "period": "2024-25",
        "intervention_code": intervention,
        "measure": measure,
        "ldu_code": ldu,
        "numerator": numerator,
        "denominator": denominator,
    }


RATIO_UNITS = [(8, 6.23986), (150, 119.5695), (151, 106.443), (159, 232.933), (0, 240.627)]


@pytest.fixture
def measures():
    completion = [(80, 100), (78, 100), (82, 100), (79, 100), (30, 100), (5, 5), (0, 0)]
    rows = [_row("COMPLETION_RATE", f"L{i}", x, n) for i, (x, n) in enumerate(completion)]
    rows += [_row("REFERRAL_RATIO", f"L{i}", o, e) for i, (o, e) in enumerate(RATIO_UNITS)]
    rows += [_row("REFERRAL_RATIO", "L5", 2, 3.0), _row("REFERRAL_RATIO", "L6", 0, 0.0)]
    rows += [_row("TIMELY_START_RATE", f"L{i}", n, n) for i, n in enumerate([20, 30, 5])]
    frame = pd.DataFrame(rows)
    frame["period_start"] = pd.Timestamp("2024-04-01")
    return frame


def test_frame_has_the_published_columns_in_order(measures):
    flags = stats.consistency_flags(measures)
    assert list(flags.columns) == [*stats.OUTPUT_COLUMNS, "period_start"]
    assert len(flags) == len(measures)
    assert list(flags["ldu_code"]) == list(measures["ldu_code"])


def test_frame_flags_the_low_completion_ldu_as_alarm(measures):
    flags = stats.consistency_flags(measures)
    group = flags[flags["measure"] == "COMPLETION_RATE"].set_index("ldu_code")
    p_bar = (80 + 78 + 82 + 79 + 30 + 5) / 505
    assert group["division_value"].tolist() == pytest.approx([p_bar] * 7)
    assert group.loc["L4", "value"] == pytest.approx(0.3)
    assert group.loc["L4", "z_score"] == pytest.approx(
        (0.3 - p_bar) / math.sqrt(p_bar * (1 - p_bar) / 100)
    )
    assert (group.loc["L4", "level"], group.loc["L4", "direction"]) == ("ALARM", "LOW")
    assert group.loc["L4", "level_adjusted"] == "ALARM"
    assert group.loc["L5", "level"] == "LOW_VOLUME"
    # p̄ = 0.70099 is pulled down by L4, so L0 (80 %) and L2 (82 %) sit above the 95 % limit.
    assert set(group.loc[["L1", "L3"], "level"]) == {"NONE"}
    assert set(group.loc[["L0", "L2"], "level"]) == {"ALERT"}
    assert set(group.loc[["L0", "L2"], "direction"]) == {"HIGH"}


def test_frame_phi_and_homogeneity_use_the_non_low_volume_ldus(measures):
    flags = stats.consistency_flags(measures)
    group = flags[flags["measure"] == "COMPLETION_RATE"].set_index("ldu_code")
    judged = group.loc[["L0", "L1", "L2", "L3", "L4"]]
    z = judged["z_score"].to_numpy()
    low, high = np.percentile(z, [10, 90])
    expected_phi = np.mean(np.clip(z, low, high) ** 2)
    assert group["phi"].tolist() == pytest.approx([expected_phi] * 7)
    table = np.column_stack([judged["numerator"], judged["denominator"] - judged["numerator"]])
    expected_p = scipy_stats.chi2_contingency(table, correction=False).pvalue
    assert group["homogeneity_p_value"].tolist() == pytest.approx([expected_p] * 7)
    # With phi > 1 the ALERT at L2 (82 %) is explained by overdispersion.
    assert expected_phi > 1
    assert group.loc["L2", "level"] == "ALERT"
    assert group.loc["L2", "level_adjusted"] == "NONE"


def test_frame_zero_denominator_row(measures):
    flags = stats.consistency_flags(measures)
    row = flags[(flags["measure"] == "COMPLETION_RATE") & (flags["ldu_code"] == "L6")].iloc[0]
    for column in ("value", "z_score", "lower_95", "upper_95", "lower_998", "upper_998"):
        assert np.isnan(row[column]), column
    assert (row["level"], row["direction"], row["level_adjusted"]) == (
        "LOW_VOLUME",
        "NONE",
        "LOW_VOLUME",
    )


def test_frame_ratio_rows(measures):
    flags = stats.consistency_flags(measures)
    group = flags[flags["measure"] == "REFERRAL_RATIO"].reset_index(drop=True)
    assert (group["division_value"] == 1.0).all()
    assert list(group["level"]) == ["NONE", "ALERT", "ALARM", "ALARM", "ALARM"] + ["LOW_VOLUME"] * 2
    assert group.loc[2, "value"] == pytest.approx(151 / 106.443)
    assert group.loc[2, "denominator"] == pytest.approx(106.443)
    assert group.loc[2, "lower_95"] == pytest.approx(
        limits.poisson_ratio_limits(106.443, 0.05)[0][0]
    )
    observed = np.array([o for o, _ in RATIO_UNITS], dtype=float)
    expected = np.array([e for _, e in RATIO_UNITS])
    statistic = np.sum((observed - expected) ** 2 / expected)
    assert group.loc[0, "homogeneity_p_value"] == pytest.approx(scipy_stats.chi2.sf(statistic, 4))
    assert group.loc[6, "z_score"] != group.loc[6, "z_score"]  # NaN: E = 0


def test_frame_pooled_one_has_no_z_phi_or_test(measures):
    flags = stats.consistency_flags(measures)
    group = flags[flags["measure"] == "TIMELY_START_RATE"]
    assert group["z_score"].isna().all()
    assert list(group["level"]) == ["NONE", "NONE", "LOW_VOLUME"]
    assert group["phi"].isna().all()
    assert group["homogeneity_p_value"].isna().all()
    assert group["upper_95"].tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_frame_phi_missing_with_one_non_low_volume_ldu():
    frame = pd.DataFrame([_row("COMPLETION_RATE", "A", 40, 50), _row("COMPLETION_RATE", "B", 1, 5)])
    flags = stats.consistency_flags(frame)
    assert flags["phi"].isna().all()
    assert flags["homogeneity_p_value"].isna().all()
    assert not flags["z_score"].isna().any()


def test_frame_groups_are_separate(measures):
    other = measures.assign(intervention_code="BBR")
    other.loc[other["ldu_code"] == "L4", "numerator"] = other["numerator"].where(
        other["measure"] != "COMPLETION_RATE", 80
    )
    flags = stats.consistency_flags(pd.concat([measures, other], ignore_index=True))
    alarm = flags[(flags["ldu_code"] == "L4") & (flags["measure"] == "COMPLETION_RATE")]
    assert alarm.set_index("intervention_code")["level"].to_dict() == {
        "TSP": "ALARM",
        "BBR": "NONE",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"measure": "STARTS"}, "unknown measures"),
        ({"denominator": np.nan}, "missing or negative denominator"),
        ({"numerator": -1}, "missing or negative numerator"),
    ],
)
def test_frame_rejects_bad_input(measures, change, message):
    with pytest.raises(ValueError, match=message):
        stats.consistency_flags(measures.assign(**change))


def test_frame_rejects_missing_columns(measures):
    with pytest.raises(ValueError, match="lacks columns"):
        stats.consistency_flags(measures.drop(columns=["denominator"]))


def test_frame_is_fast_at_division_scale():
    rng = np.random.default_rng(1)
    keys = pd.MultiIndex.from_product(
        [
            ["YEAR", "QUARTER"],
            [f"P{i}" for i in range(20)],
            [f"I{i}" for i in range(10)],
            ["COMPLETION_RATE", "TIMELY_START_RATE", "REFERRAL_RATIO"],
            [f"L{i}" for i in range(16)],
        ],
        names=["period_type", "period", "intervention_code", "measure", "ldu_code"],
    ).to_frame(index=False)
    denominator = rng.integers(0, 200, len(keys)).astype(float)
    keys["denominator"] = denominator
    keys["numerator"] = rng.binomial(denominator.astype(int), 0.7)
    flags = stats.consistency_flags(keys)
    assert len(flags) == len(keys) == 19200
    assert flags.groupby(["period_type", "period", "intervention_code", "measure"])[
        "division_value"
    ].nunique().max() == 1


# --- funnel grid ---------------------------------------------------------------------------------


def test_funnel_grid_spans_one_to_scaled_largest_denominator(measures):
    flags = stats.consistency_flags(measures)
    grid = stats.funnel_limit_grid(flags, points=60)
    assert list(grid.columns) == list(stats.GRID_COLUMNS)
    completion = grid[grid["measure"] == "COMPLETION_RATE"]
    assert len(completion) == 60
    assert completion["denominator"].iloc[0] == 1.0
    assert completion["denominator"].iloc[-1] == pytest.approx(120.0)
    ratios = np.diff(np.log(completion["denominator"].to_numpy()))
    assert ratios == pytest.approx(np.full(59, ratios[0]))
    assert completion["grid_index"].tolist() == list(range(60))


def test_funnel_grid_uses_the_flagging_limits(measures):
    flags = stats.consistency_flags(measures)
    grid = stats.funnel_limit_grid(flags, points=7)
    completion = grid[grid["measure"] == "COMPLETION_RATE"]
    p_bar = completion["division_value"].iloc[0]
    lower, upper = limits.proportion_limits(p_bar, completion["denominator"], limits.Z_998)
    assert completion["lower_998"].tolist() == pytest.approx(lower.tolist())
    assert completion["upper_998"].tolist() == pytest.approx(upper.tolist())
    ratio = grid[grid["measure"] == "REFERRAL_RATIO"]
    lower, upper = limits.poisson_ratio_limits(ratio["denominator"], limits.ALPHA_95)
    assert ratio["lower_95"].tolist() == pytest.approx(lower.tolist())
    assert ratio["upper_95"].tolist() == pytest.approx(upper.tolist())
    assert (ratio["division_value"] == 1.0).all()
    # The grid limit at an LDU's own denominator is that LDU's flagged limit.
    flagged = flags[(flags["measure"] == "REFERRAL_RATIO") & (flags["ldu_code"] == "L4")]
    own = stats.funnel_limit_grid(flagged, points=2, start=240.627 / 1.2 * 0.5, scale=1.0)
    assert own["upper_998"].iloc[-1] == pytest.approx(flagged["upper_998"].iloc[0])


def test_funnel_grid_skips_groups_without_volume():
    frame = pd.DataFrame([_row("COMPLETION_RATE", "A", 0, 0), _row("COMPLETION_RATE", "B", 0, 0)])
    grid = stats.funnel_limit_grid(stats.consistency_flags(frame))
    assert grid.empty
    assert list(grid.columns) == list(stats.GRID_COLUMNS)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16])
def test_linear_percentiles_match_numpy_default(size):
    values = np.random.default_rng(size).normal(0, 3, size)
    expected = np.percentile(values, [10, 90])
    assert limits.linear_percentiles(values, [10, 90]).tolist() == pytest.approx(expected.tolist())
