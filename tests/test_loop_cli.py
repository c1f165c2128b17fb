"""``outcomes``, ``monitor`` and ``generate --with-actions`` as a user runs them."""

from __future__ import annotations

import pytest

from healthscore.cli import main

SEED = 5


@pytest.mark.parametrize("command", ["outcomes", "monitor"])
def test_the_new_commands_have_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert "--data" in capsys.readouterr().out


@pytest.mark.parametrize(("command", "option"), [("monitor", "--as-of"), ("outcomes", "--since")])
def test_a_date_that_is_not_iso_is_one_line(command, option, tmp_path, capsys):
    args = [command, "--data", str(tmp_path), option, "yesterday"]
    if command == "outcomes":
        args += ["--scores", str(tmp_path)]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{option} 'yesterday'" in err


def test_an_action_date_too_late_for_a_window_is_one_clear_error(tmp_path, capsys):
    code = main(
        ["generate", "--out", str(tmp_path / "w"), "--accounts", "50", "--with-actions",
         "--end", "2025-01-01", "--act-at", "2024-12-01"]
    )  # fmt: skip
    assert code == 1
    assert "choose an earlier --act-at" in capsys.readouterr().err


@pytest.mark.slow
def test_generate_with_actions_then_measure(tmp_path, capsys):
    print(f"seed={SEED}")
    data = tmp_path / "loop"
    config = tmp_path / "light.toml"
    config.write_text(
        "[model]\nn_estimators = 120\nlearning_rate = 0.08\nnum_threads = 1\n"
        "[split]\nbacktest_cutoffs = 0\n[playbooks]\nholdout_share = 0.5\n"
    )
    code = main(
        ["generate", "--out", str(data), "--accounts", "500", "--seed", str(SEED),
         "--start", "2024-01-01", "--with-actions", "--config", str(config)]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "playbook_actions" in printed and "healthscore outcomes --data" in printed
    assert (data / "_truth" / "treatment.parquet").is_file()
    assert list((data / "_scores").glob("scores_2025-07-01.csv"))
    code = main(
        ["outcomes", "--data", str(data), "--scores", str(data / "_scores"), "-c", str(config)]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "Treated against held out" in printed
