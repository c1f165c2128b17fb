"""The config: defaults, TOML loading, and errors a person can act on."""

from pathlib import Path

import pytest

from healthscore.config import Config, flatten_config, load_config
from healthscore.dataset import purge_days
from healthscore.errors import ConfigError


def test_defaults_without_a_file():
    config = load_config(None)
    assert config.labels.horizon_days == 90
    assert config.model.num_threads == 1
    assert purge_days(config) == config.labels.lead_days + config.labels.horizon_days


def test_toml_overrides_are_applied(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text("seed = 7\n[labels]\nhorizon_days = 60\nlead_days = 14\n")
    config = load_config(path)
    assert (config.seed, config.labels.horizon_days, purge_days(config)) == (7, 60, 74)


def test_unknown_key_is_an_error_naming_it(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text("[labels]\nhorizon_dayz = 60\n")
    with pytest.raises(ConfigError, match=r"labels\.horizon_dayz: unknown key"):
        load_config(path)


def test_bad_value_is_an_error_naming_it(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text("[labels]\nhorizon_days = -5\n")
    with pytest.raises(ConfigError, match=r"labels\.horizon_days"):
        load_config(path)


def test_invalid_toml_and_missing_file(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[labels\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_tier_thresholds_must_be_ordered():
    with pytest.raises(ConfigError, match="at_risk_below"):
        Config().with_overrides(score={"at_risk_below": 80.0, "watch_below": 70.0})


def test_flatten_config_has_dotted_keys():
    flat = flatten_config(Config())
    assert flat["labels.horizon_days"] == "90"
    assert flat["model.num_threads"] == "1"
