"""The contract's vocabulary as the generator indexes it, and the generator's day numbers.

Every draw in the generator is an array of positions into these tuples, so their order matters.
They come from the contract's one definition (orchestration/ingestion/contract.py), apart from the
status reasons, which the contract leaves open. Days are whole numbers counted from 1970-01-01;
NEVER stands for an event that does not happen.
"""

from __future__ import annotations

import numpy as np

from orchestration.ingestion import contract

# The contract's vocabulary, from its one definition (orchestration/ingestion/contract.py).
OFFENCES = contract.OFFENCE_CATEGORIES
BANDS = contract.BANDS
SENTENCES = contract.SENTENCE_TYPES
GENDERS = contract.GENDERS
ETHNICITIES = contract.ETHNICITY_GROUPS
STATUSES = contract.REFERRAL_STATUSES
OUTCOMES = contract.OUTCOMES
# Reason 0 is "no reason" (an empty field).
REASONS = (
    "",
    "NS_RISK",
    "NS_LEARNING_NEEDS",
    "NS_MENTAL_HEALTH",
    "NS_DENIAL",
    "W_SENTENCE_ENDED",
    "W_MOTIVATION",
    "W_HEALTH",
    "W_CIRCUMSTANCES",
    "W_BREACH",
    "W_RECALL",
    "W_TRANSFERRED",
    "W_DECEASED",
    "W_OTHER",
    "D_MISSED_SESSIONS",
    "D_ALCOHOL_OR_DRUGS",
    "D_BEHAVIOUR",
)

CASELOAD_COLUMNS = contract.CASELOAD.column_names
REFERRAL_COLUMNS = contract.REFERRALS.column_names
COMPLETION_COLUMNS = contract.COMPLETIONS.column_names
EXTRACT_COLUMNS = {
    "caseload": CASELOAD_COLUMNS,
    "referrals": REFERRAL_COLUMNS,
    "completions": COMPLETION_COLUMNS,
}
EXTRACTS = contract.EXTRACT_ORDER

# Reason codes the warehouse gives a quarantined row, in the contract's order of precedence.
REASON_CODES = contract.REASON_ORDER

# Each status, outcome and reason's position, by name.
STATUS = {name: i for i, name in enumerate(STATUSES)}
OUTCOME = {name: i for i, name in enumerate(OUTCOMES)}
REASON = {name: i for i, name in enumerate(REASONS)}
TERMINAL_STATUSES = np.array(
    [STATUS[s] for s in ("NOT_SUITABLE", "PROGRAMME_COMPLETE", "DESELECTED", "WITHDRAWN")]
)
REASONED_STATUSES = np.array([STATUS[s] for s in ("NOT_SUITABLE", "DESELECTED", "WITHDRAWN")])

# Days are counted from DAY0.
DAY0 = np.datetime64("1970-01-01", "D")
NEVER = 10**7  # a day number beyond any window: "this event does not happen"
N_EVENTS = 6  # referral, assessment, awaiting start, start or withdrawal, ending, restated ending
