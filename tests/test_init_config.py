"""``healthscore init``: guessing a starter config from the names in someone's exports."""

from __future__ import annotations

import tomllib
from pathlib import Path

from healthscore.cli import main
from healthscore.config import load_config
from healthscore.init_config import guess_config, name_score, write_starter_config
from healthscore.validation import validate_data

DATASETS = Path(__file__).resolve().parents[1] / "datasets"


def test_export_names_point_at_contract_tables():
    assert name_score("Customers", "accounts") > 0
    assert name_score("stripe_subscriptions", "contracts") > 0
    assert name_score("ravenstack_feature_usage", "feature_usage") > name_score(
        "ravenstack_feature_usage", "accounts"
    )
    assert name_score("nps_survey_2024", "nps_responses") > 0
    assert name_score("invoices", "accounts") == 0


def test_the_usual_gaps_are_filled_with_joins_and_derivations():
    exports = {
        "company": ["company_id", "signup_date", "vertical", "churn_flag"],
        "subscriptions": ["subscription_id", "company_id", "start_date", "mrr", "billing_cycle"],
        "usage": ["subscription_id", "usage_date", "feature_name", "usage_count"],
        "daily_active_users": ["company_id", "date", "active_users"],
        "tickets": ["id", "company_id", "created_at", "priority"],
        "prices": ["plan", "price"],
    }
    values = {
        ("subscriptions", "billing_cycle"): ["Annual", "monthly", "weekly"],
        ("tickets", "priority"): ["High", "Medium", "low"],
    }
    guess = guess_config(exports, values_of=lambda t, c: values.get((t, c), []))
    sources = {t: g.source for t, g in guess.tables.items()}
    assert sources == {
        "accounts": "company",
        "contracts": "subscriptions",
        "logins": "daily_active_users",
        "feature_usage": "usage",
        "support_tickets": "tickets",
    }
    accounts, contracts = guess.tables["accounts"], guess.tables["contracts"]
    assert accounts.columns == {
        "account_id": "company_id",
        "created_at": "signup_date",
        "industry": "vertical",
    }
    assert accounts.drop == ["churn_flag"]
    assert contracts.derive == {"arr": "mrr * 12", "end_date": "start_date + billing_period"}
    assert contracts.values == {"billing_period": {"Annual": "year", "monthly": "month"}}
    assert contracts.columns["contract_id"] == "subscription_id"
    usage = guess.tables["feature_usage"]
    assert usage.join == {"table": "subscriptions", "on": "subscription_id", "take": "company_id"}
    assert usage.columns["account_id"] == "company_id"
    assert usage.columns["quantity"] == "usage_count"
    assert guess.tables["logins"].expand == "active_users"
    assert guess.tables["support_tickets"].values == {"priority": {"Medium": "normal"}}
    assert guess.unused == ["prices"]
    assert all(not g.missing for g in guess.tables.values())


def test_what_cannot_be_guessed_is_left_as_a_question():
    guess = guess_config({"accounts": ["account_id"], "contracts": ["account_id", "amount"]})
    assert guess.tables["accounts"].missing == ["created_at"]
    text = guess.to_toml()
    assert '# created_at = "?"  # required, not found' in text
    assert "optional_tables = []" in text
    tomllib.loads(text)


def test_init_on_ravenstack_writes_a_config_that_reads_the_data(tmp_path, capsys):
    out = tmp_path / "ravenstack.toml"
    data = str(DATASETS / "ravenstack")
    assert main(["init", "--data", data, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "contracts        <- ravenstack_subscriptions" in printed
    assert f"healthscore validate --data {data} --config {out}" in printed
    config = load_config(out)
    assert config.labels.churn_source == "churn_events"
    mapping = config.data.tables
    assert mapping["feature_usage"].join[0].table == "ravenstack_subscriptions"
    assert mapping["accounts"].columns["created_at"] == "signup_date"
    report = validate_data(data, config)
    # The only error is in the data itself: subscriptions that end the day they start.
    assert [(p.table, p.column) for p in report.errors] == [("contracts", "end_date")]
    assert list(tmp_path.iterdir()) == [out]  # written atomically: no temporary file left


def test_init_on_fightchurn_validates_without_errors(tmp_path):
    out = tmp_path / "fightchurn.toml"
    guess = write_starter_config(DATASETS / "fightchurn_crm6", out)
    assert guess.tables["feature_usage"].join["table"] == "event_type"
    assert guess.tables["logins"].expand == "active_users"
    report = validate_data(DATASETS / "fightchurn_crm6", load_config(out))
    assert report.ok, report.describe()


def test_init_refuses_to_overwrite_unless_forced(tmp_path, capsys):
    out = tmp_path / "healthscore.toml"
    out.write_text("# mine\n")
    data = str(DATASETS / "ravenstack")
    assert main(["init", "--data", data, "--out", str(out)]) == 1
    assert "already exists; pass --force" in capsys.readouterr().err
    assert out.read_text() == "# mine\n"
    assert main(["init", "--data", data, "--out", str(out), "--force"]) == 0
    assert "[data.tables.accounts]" in out.read_text()


def test_init_on_an_empty_folder_says_so(tmp_path, capsys):
    assert main(["init", "--data", str(tmp_path), "--out", str(tmp_path / "c.toml")]) == 1
    assert "no tables found" in capsys.readouterr().err
