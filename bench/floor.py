"""The floor: plain DuckDB, no framework. Load the extracts with read_csv, compute
ldu_intervention_measures for every MONTH, QUARTER and YEAR in plain SQL, as a hand-written
script would.

Usage: python bench/floor.py EXTRACTS_DIR SEEDS_DIR OUT.duckdb

It applies the contract's row rules only as far as they change the figures (valid codes, dates,
forms, first row per key in a file), so that its result can be checked cell by cell against
marts.ldu_intervention_measures; it writes its rows to table floor_measures in OUT.
"""

from __future__ import annotations

import sys
import time

import duckdb

SQL = r"""
create or replace table ldus as select * from read_csv('{seeds}/ldus.csv', header = true);
create or replace table interventions as
    select * from read_csv('{seeds}/interventions.csv', header = true);
create or replace table eligibility as
    select * from read_csv('{seeds}/intervention_eligibility.csv', header = true);

create or replace table caseload as
with src as (
    select *, regexp_extract(filename, '(\d{{4}}-\d{{2}}-\d{{2}})', 1)::date as as_at
    from read_csv('{extracts}/caseload_*.csv*', header = true, all_varchar = true,
                  union_by_name = true, filename = true, ignore_errors = true)
),
typed as (
    select upper(trim(crn)) as crn, upper(trim(ldu_code)) as ldu_code,
        try_cast(snapshot_date as date) as snapshot_date, as_at,
        upper(trim(reoffending_band)) as band, upper(trim(offence_category)) as offence,
        upper(trim(gender)) as gender, upper(trim(sentence_type)) as sentence_type,
        upper(trim(ethnicity_group)) as ethnicity, upper(trim(rosh_level)) as rosh,
        try_cast(date_of_birth as date) as dob, filename
    from src
)
select * from typed
where regexp_full_match(crn, '[A-Z][0-9]{{6}}') and snapshot_date = as_at
    and ldu_code in (select ldu_code from ldus)
    and band in ('LOW', 'MEDIUM', 'HIGH', 'VERY_HIGH') and rosh in ('LOW', 'MEDIUM', 'HIGH', 'VERY_HIGH')
    and gender in ('MALE', 'FEMALE', 'OTHER', 'NOT_KNOWN')
    and ethnicity in ('ASIAN', 'BLACK', 'MIXED', 'WHITE', 'OTHER', 'NOT_STATED')
    and sentence_type in ('COMMUNITY_ORDER', 'SUSPENDED_SENTENCE_ORDER', 'LICENCE',
                          'POST_SENTENCE_SUPERVISION')
    and offence in ('VIOLENCE', 'DOMESTIC_ABUSE', 'SEXUAL_CONTACT', 'SEXUAL_ONLINE',
                    'ACQUISITIVE', 'DRUGS', 'DRINK_DRIVING', 'OTHER')
    and dob is not null and dob <= snapshot_date
qualify row_number() over (partition by filename, crn order by snapshot_date) = 1;

create or replace table referrals as
with src as (
    select *, regexp_extract(filename, '(\d{{4}}-\d{{2}}-\d{{2}})', 1)::date as as_at
    from read_csv('{extracts}/referrals_*.csv*', header = true, all_varchar = true,
                  union_by_name = true, filename = true, ignore_errors = true)
),
typed as (
    select upper(trim(referral_id)) as referral_id, upper(trim(crn)) as crn,
        upper(trim(ldu_code)) as ldu_code, upper(trim(intervention_code)) as intervention_code,
        try_cast(referral_date as date) as referral_date, try_cast(start_date as date) as start_date,
        nullif(trim(start_date), '') as start_text,
        try_strptime(last_updated_at, '%Y-%m-%dT%H:%M:%S') as last_updated_at,
        upper(trim(reoffending_band)) as band, upper(trim(offence_category)) as offence,
        upper(trim(status)) as status, upper(trim(rosh_level)) as rosh, as_at, filename
    from src
),
valid as (
    select * from typed
    where regexp_full_match(referral_id, 'RF[0-9]{{8}}') and regexp_full_match(crn, '[A-Z][0-9]{{6}}')
        and ldu_code in (select ldu_code from ldus)
        and intervention_code in (select intervention_code from interventions)
        and referral_date is not null and referral_date <= as_at
        and last_updated_at is not null and last_updated_at < as_at + interval 1 day
        and (start_text is null or (start_date is not null and start_date >= referral_date
                                    and start_date <= as_at))
        and band in ('LOW', 'MEDIUM', 'HIGH', 'VERY_HIGH') and rosh in ('LOW', 'MEDIUM', 'HIGH', 'VERY_HIGH')
        and offence in ('VIOLENCE', 'DOMESTIC_ABUSE', 'SEXUAL_CONTACT', 'SEXUAL_ONLINE',
                        'ACQUISITIVE', 'DRUGS', 'DRINK_DRIVING', 'OTHER')
        and status in ('AWAITING_ASSESSMENT', 'ASSESSED_SUITABLE', 'NOT_SUITABLE',
                       'AWAITING_START', 'ON_PROGRAMME', 'PROGRAMME_COMPLETE', 'DESELECTED',
                       'WITHDRAWN')
    qualify row_number() over (partition by filename, referral_id order by 1) = 1
)
select * from valid
qualify row_number() over (partition by referral_id
    order by last_updated_at desc, as_at desc, filename desc) = 1;

create or replace table completions as
with src as (
    select *, regexp_extract(filename, '(\d{{4}}-\d{{2}}-\d{{2}})', 1)::date as as_at
    from read_csv('{extracts}/completions_*.csv*', header = true, all_varchar = true,
                  union_by_name = true, filename = true, ignore_errors = true)
),
typed as (
    select upper(trim(referral_id)) as referral_id, upper(trim(crn)) as crn,
        upper(trim(intervention_code)) as intervention_code,
        try_cast(start_date as date) as start_date, try_cast(end_date as date) as end_date,
        upper(trim(outcome)) as outcome,
        case when regexp_full_match(trim(sessions_attended), '[0-9]{{1,9}}')
            then try_cast(sessions_attended as integer) end as sessions_attended,
        case when regexp_full_match(trim(sessions_required), '[0-9]{{1,9}}')
            then try_cast(sessions_required as integer) end as sessions_required,
        try_strptime(recorded_at, '%Y-%m-%dT%H:%M:%S') as recorded_at, as_at, filename
    from src
),
valid as (
    select * from typed
    where regexp_full_match(referral_id, 'RF[0-9]{{8}}') and regexp_full_match(crn, '[A-Z][0-9]{{6}}')
        and intervention_code in (select intervention_code from interventions)
        and start_date is not null and end_date is not null and end_date >= start_date
        and end_date <= as_at and recorded_at is not null
        and recorded_at < as_at + interval 1 day
        and sessions_attended >= 0 and sessions_required >= 1
        and outcome in ('COMPLETED', 'DESELECTED', 'WITHDRAWN', 'BREACHED', 'RECALLED',
                        'SENTENCE_EXPIRED', 'TRANSFERRED', 'DECEASED', 'OTHER')
    qualify row_number() over (partition by filename, referral_id order by 1) = 1
)
select * from valid
qualify row_number() over (partition by referral_id
    order by recorded_at desc, as_at desc, filename desc) = 1;

create or replace table periods as
with bounds as (
    select min(snapshot_date) as first_day, max(snapshot_date) as last_day from caseload
),
months as (
    select date_trunc('month', d)::date as m
    from bounds, generate_series(date_trunc('month', first_day), last_day, interval 1 month) t(d)
),
fiscal as (
    select m, year(m) - case when month(m) < 4 then 1 else 0 end as y,
        (month(m) + 8) % 12 // 3 + 1 as q
    from months
)
select distinct 'MONTH' as period_type, strftime(m, '%Y-%m') as period, m as period_start,
    last_day(m) as period_end
from fiscal
union all
select distinct 'QUARTER', y::varchar || '-' || right((y + 1)::varchar, 2) || ' Q' || q::varchar,
    date_trunc('quarter', m)::date, (date_trunc('quarter', m) + interval 3 month - interval 1 day)::date
from fiscal
union all
select distinct 'YEAR', y::varchar || '-' || right((y + 1)::varchar, 2),
    make_date(y::integer, 4, 1), make_date(y::integer + 1, 3, 31)
from fiscal;

create or replace table floor_measures as
with eligible as (
    select y.period_type, y.period, c.ldu_code, e.intervention_code,
        count(distinct c.crn) as eligible_caseload
    from caseload c
    join eligibility e on c.offence = e.offence_category and c.band = e.reoffending_band
    join interventions i on i.intervention_code = e.intervention_code
    join periods y on c.snapshot_date between y.period_start and y.period_end
    where i.eligible_gender = 'ANY' or c.gender = i.eligible_gender
    group by all
),
started as (
    select r.ldu_code, r.intervention_code, r.referral_date,
        coalesce(r.start_date, c.start_date) as programme_start,
        coalesce(r.start_date, c.start_date) - r.referral_date as days_to_start,
        i.max_days_to_start
    from referrals r
    left join completions c using (referral_id)
    join interventions i on i.intervention_code = r.intervention_code
),
referred as (
    select y.period_type, y.period, ldu_code, intervention_code, count(*) as referrals
    from started join periods y on referral_date between y.period_start and y.period_end
    group by all
),
starts as (
    select y.period_type, y.period, ldu_code, intervention_code, count(*) as starts,
        count(*) filter (where days_to_start between 0 and max_days_to_start) as timely_starts,
        quantile_cont(days_to_start, 0.5) filter (where days_to_start >= 0)
            as median_days_to_start
    from started join periods y on programme_start between y.period_start and y.period_end
    group by all
),
ended as (
    select y.period_type, y.period, r.ldu_code, r.intervention_code,
        count(*) filter (where c.outcome = 'COMPLETED') as completions,
        count(*) filter (where c.outcome not in ('COMPLETED', 'TRANSFERRED', 'DECEASED'))
            as non_completions
    from completions c join referrals r using (referral_id)
    join periods y on c.end_date between y.period_start and y.period_end
    group by all
)
select s.period_type, s.period, l.ldu_code, i.intervention_code,
    coalesce(e.eligible_caseload, 0) as eligible_caseload,
    coalesce(f.referrals, 0) as referrals,
    coalesce(st.starts, 0) as starts,
    coalesce(en.completions, 0) as completions,
    coalesce(en.non_completions, 0) as non_completions,
    coalesce(st.timely_starts, 0) as timely_starts,
    st.median_days_to_start
from periods s cross join ldus l cross join interventions i
left join eligible e on e.period_type = s.period_type
    and e.period = s.period and e.ldu_code = l.ldu_code
    and e.intervention_code = i.intervention_code
left join referred f on f.period_type = s.period_type
    and f.period = s.period and f.ldu_code = l.ldu_code
    and f.intervention_code = i.intervention_code
left join starts st on st.period_type = s.period_type
    and st.period = s.period and st.ldu_code = l.ldu_code
    and st.intervention_code = i.intervention_code
left join ended en on en.period_type = s.period_type
    and en.period = s.period and en.ldu_code = l.ldu_code
    and en.intervention_code = i.intervention_code;
"""


def main(extracts: str, seeds: str, out: str) -> None:
    started = time.perf_counter()
    con = duckdb.connect(out)
    con.execute(SQL.format(extracts=extracts, seeds=seeds))
    rows = con.execute("select count(*) from floor_measures").fetchone()[0]
    con.close()
    print(f"floor: {rows} MONTH, QUARTER and YEAR rows in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    main(*sys.argv[1:])
