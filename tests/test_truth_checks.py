"""Playbooks against true causes: counted per account, from its last flagged snapshot."""

import io

import pandas as pd

from healthscore.truth_checks import playbook_cause_agreement

SCORES = """account_id,as_of,risk_tier,playbook_id
A,2025-01-01,at_risk,usage_reengagement
A,2025-02-01,at_risk,adoption_campaign
B,2025-02-01,at_risk,support_escalation
C,2025-02-01,watch,exec_sponsor
D,2025-02-01,at_risk,renewal_review
E,2025-02-01,at_risk,onboarding_rescue
F,2025-01-01,at_risk,exec_sponsor
"""
TRUTH = """account_id,churned_at,cause
A,2025-03-15,poor_adoption
B,2025-04-20,support_friction
C,2025-03-01,detractor
D,2025-03-01,random
E,2025-03-01,usage_decay
F,2025-06-01,detractor
G,,
"""


def test_agreement_by_hand():
    scores = pd.read_csv(io.StringIO(SCORES), parse_dates=["as_of"])
    truth = pd.read_csv(io.StringIO(TRUTH), parse_dates=["churned_at"])
    result = playbook_cause_agreement(scores, truth, horizon_days=90)
    # A: last flagged snapshot 2025-02-01 -> adoption_campaign, cause poor_adoption: match.
    # B: churns 78 days after 2025-02-01, support: match. C: only 'watch', not counted.
    # D: random, left out. E: usage_decay but onboarding_rescue: miss.
    # F: churns 151 days after its flag, outside the 90-day window: not counted.
    assert result.n_accounts == 3
    assert abs(result.match_rate - 2 / 3) < 1e-12
    assert result.confusion.loc["usage_decay", "onboarding_rescue"] == 1
    assert result.per_cause.loc["poor_adoption", "match_rate"] == 1.0
    with_watch = playbook_cause_agreement(
        scores, truth, horizon_days=90, flagged=("at_risk", "watch")
    )
    assert with_watch.n_accounts == 4 and abs(with_watch.match_rate - 3 / 4) < 1e-12
