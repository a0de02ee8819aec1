-- What each recording check of marts.data_quality_issues finds (METRICS.md), in words, for the
-- report's pages. Every check is a warning: no record is dropped from any measure.
select * from (
    values
    (1, 'ORPHAN_COMPLETION', 'Completion without a referral',
        'A completion whose referral has not arrived. It counts in no measure.'),
    (2, 'INTERVENTION_MISMATCH', 'Completion for another intervention',
        'A completion recorded against a different intervention than its referral.'),
    (3, 'STALE_STATUS', 'Status not updated',
        'A referral still awaiting start or on programme 28 days or more after its completion ended.'),
    (4, 'START_BEFORE_REFERRAL', 'Start before referral',
        'A start date (from the completion) earlier than the referral date.'),
    (5, 'SESSIONS_OVER_REQUIRED', 'More sessions than required',
        'More sessions attended than the intervention requires.'),
    (6, 'INELIGIBLE_REFERRAL', 'Ineligible referral',
        'A referral whose offence category and likelihood of reoffending are outside the intervention''s eligibility.'),
    (7, 'OUTSIDE_VALIDITY', 'Referral outside validity dates',
        'A referral dated outside the dates the intervention was available.'),
    (8, 'MISSING_REASON', 'Missing reason',
        'A not suitable, deselected or withdrawn referral without a reason.'),
    (9, 'NOT_ON_CASELOAD', 'Not on the LDU''s caseload',
        'A referral for a person in none of the LDU''s caseload snapshots in the month before, of or after the referral.')
) as checks (check_order, check_code, check_name, what_it_finds)
