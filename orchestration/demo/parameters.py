"""The population and programme parameters the demo is drawn from.

Shares are loosely those of probation caseloads in England and Wales; what matters for the tests
is that they are stable and documented, here in one place. The planted anomalies' strengths live
with the plan in `effects`, the recording problems' shares with their planting in
`recording_problems`.
"""

from __future__ import annotations

OFFENCE_SHARE = (0.27, 0.14, 0.05, 0.03, 0.19, 0.14, 0.05, 0.13)
BAND_SHARE = (0.33, 0.37, 0.22, 0.08)
# The case-mix trap LDU: the same per-band referral propensity, a much riskier caseload.
TRAP_BAND_SHARE = (0.05, 0.07, 0.70, 0.18)
ROSH_SHARE = (0.30, 0.50, 0.17, 0.03)
ROSH_SHARE_HARM = (0.05, 0.45, 0.42, 0.08)  # violence, domestic abuse, sexual offences
SENTENCE_SHARE = (0.36, 0.22, 0.32, 0.10)
GENDER_SHARE = (0.86, 0.135, 0.002, 0.003)
ETHNICITY_SHARE = (0.09, 0.08, 0.04, 0.76, 0.015, 0.015)

# Probability that a newly supervised, eligible person is referred, by reoffending band (LOW,
# MEDIUM, HIGH, VERY_HIGH; only the intervention's eligible bands are ever used). It rises with the
# band, which is what makes a crude referral rate depend on case mix.
REFERRAL_PROBABILITY = {
    "TSP": (0.05, 0.08, 0.45, 0.50),
    "BBR": (0.25, 0.30, 0.50, 0.55),
    "RESOLVE": (0.25, 0.30, 0.40, 0.45),
    "KAIZEN": (0.30, 0.30, 0.35, 0.50),
    "HORIZON": (0.30, 0.35, 0.45, 0.55),
    "IHORIZON": (0.40, 0.50, 0.55, 0.60),
    "DID": (0.35, 0.45, 0.50, 0.50),
    "SI_ATB": (0.20, 0.30, 0.45, 0.50),
    "SI_EM": (0.05, 0.08, 0.12, 0.15),
    "SI_DR": (0.08, 0.12, 0.16, 0.20),
}
DEFAULT_REFERRAL_PROBABILITY = (0.10, 0.15, 0.20, 0.25)

NOT_SUITABLE_SHARE = 0.10
INELIGIBLE_NOT_SUITABLE_SHARE = 0.50
WITHDRAWN_BEFORE_START_SHARE = 0.31
COMPLETE_SHARE = {"ACCREDITED_PROGRAMME": 0.74, "STRUCTURED_INTERVENTION": 0.78}
DAYS_PER_SESSION = {"ACCREDITED_PROGRAMME": 3.5, "STRUCTURED_INTERVENTION": 7.0}
# Days from referral to start are log-normal; the median is max_days_to_start / 1.47, which puts
# about 78 % of starts within the intervention's limit.
START_SIGMA = 0.5
START_MEDIAN_DIVISOR = 1.47
INELIGIBLE_SHARE = 0.01
