"""One typed configuration, loaded from TOML.

Every knob of the pipeline lives here so that a run is fully described by one file plus a seed:
the churn definition, the snapshot cadence, the label horizon, the model's hyper-parameters,
the score mapping, the touch tiers. Unknown keys are errors, not silently ignored, because a
misspelt ``horizon_dayz`` that falls back to a default would quietly change every label.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from healthscore.date_formats import check_time_format
from healthscore.derivations import parse_derivation
from healthscore.errors import ConfigError
from healthscore.i18n import check_locale
from healthscore.money import check_currency, touch_defaults
from healthscore.redaction import redact_config, redact_settings
from healthscore.schema import TABLES


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JoinMapping(_Section):
    """Columns brought over from another table of the export, matched on a key.

    The typical case is usage exported per subscription: ``table = "subscriptions"``,
    ``on = "subscription_id"``, ``take = "account_id"``. Names are the export's own.
    """

    table: str = Field(
        description=(
            "The other table: a contract table name (its configured source is read) or a "
            "file stem / database table name."
        )
    )
    on: str = Field(description="Key column of this table.")
    right_on: str | None = Field(None, description="Key column of the other table; default: `on`.")
    take: tuple[str, ...] = Field(description="Column(s) of the other table to bring over.")
    aggregate: Literal["min", "max"] = Field(
        "min",
        description="When several rows of the other table share a key: the smallest or largest.",
    )

    @field_validator("take", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _takes_something(self) -> JoinMapping:
        if not self.take:
            raise ValueError("join.take must name at least one column")
        return self


def _scalars_to_text(value: Any) -> Any:
    """TOML values to text: ``true`` -> "true", 12 -> "12" (booleans lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _iso_date(value: Any) -> Any:
    """An ISO date (``2025-01-01``) as text; anything else is a config error."""
    if value is None:
        return None

    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date such as 2025-01-01") from None


class TableMapping(_Section):
    """How one of the user's exports maps onto a contract table.

    Applied in this order when the table is read: ``join``, ``drop``, ``columns`` (renames),
    ``formats`` and ``values``, ``derive``, ``keep``, ``expand``. ``join``, ``drop`` and
    ``columns`` use the export's column names; the later steps use the names after renaming.
    See ``docs/own-data.md``.
    """

    source: str | None = Field(
        None, description="File stem or database table holding this table; default: its own name."
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Contract column name -> the user's column name.",
    )
    enabled: bool = Field(True, description="false: treat this optional table as absent.")
    join: tuple[JoinMapping, ...] = Field(
        (), description="Columns taken from other tables by key (one table or a list)."
    )
    drop: tuple[str, ...] = Field(
        (), description="The export's columns to leave out (e.g. ones that leak the outcome)."
    )
    encoding: str | None = Field(
        None,
        description=(
            "Text encoding of the CSV export, e.g. 'latin-1', 'cp1252', 'utf-16'; default: "
            "the one its byte-order mark shows, else UTF-8."
        ),
    )
    formats: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Column -> strptime format of its dates, e.g. '%d/%m/%Y', or 'epoch_s' / "
            "'epoch_ms' for Unix times in seconds / milliseconds."
        ),
    )
    values: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Column -> {your value: contract value}, e.g. {monthly = 'month'}.",
    )
    derive: dict[str, str | tuple[str, ...]] = Field(
        default_factory=dict,
        description=(
            "Contract column -> how to compute it where missing: an arithmetic expression "
            "('mrr * 12'), a date plus a period ('start_date + billing_period', "
            "'start_date + 1 month'), or a list of columns forming a key."
        ),
    )
    keep: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Column -> values: only rows holding one of them are read.",
    )
    expand: str | None = Field(
        None,
        description=(
            "A column counting users per row (daily active users): each row becomes that "
            "many rows with user_id 1..n."
        ),
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            "".encode(value)  # unknown names and bytes-to-bytes codecs raise LookupError
        except LookupError:
            raise ValueError(
                f"unknown encoding {value!r}; use a name such as 'utf-8', 'latin-1', "
                "'cp1252' or 'utf-16'"
            ) from None
        return value

    @field_validator("join", mode="before")
    @classmethod
    def _one_join_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, dict) else value

    @field_validator("keep", mode="before")
    @classmethod
    def _keep_lists(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {
            column: tuple(
                _scalars_to_text(v) for v in (vs if isinstance(vs, list | tuple) else [vs])
            )
            for column, vs in value.items()
        }

    @field_validator("values", mode="before")
    @classmethod
    def _values_text(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {
            column: (
                {str(k): _scalars_to_text(v) for k, v in recode.items()}
                if isinstance(recode, dict)
                else recode
            )
            for column, recode in value.items()
        }


class DataConfig(_Section):
    """Where the data lives and how its names map onto the input contract."""

    tables: dict[str, TableMapping] = Field(default_factory=dict)
    end: str | None = Field(
        None,
        description=(
            "Exclusive end of the observed history (ISO date). Default: inferred as the day "
            "after the latest recorded activity."
        ),
    )
    optional_tables: tuple[str, ...] | None = Field(
        None,
        description=(
            "The optional tables the data has; the others are treated as absent. Default: "
            "every optional table that is found."
        ),
    )
    max_number: float = Field(
        1e12,
        gt=0,
        description=(
            "Largest absolute value a numeric contract column (ARR, seats, employees, "
            "quantity) may hold; larger values are validation errors. Raise it for a "
            "currency with very small units."
        ),
    )

    _end_is_a_date = field_validator("end", mode="before")(_iso_date)

    @model_validator(mode="after")
    def _mappings_make_sense(self) -> DataConfig:
        check_data_config(self)
        return self


def check_data_config(data: DataConfig) -> None:
    """Checks of the ``[data]`` section that need the contract; ``ValueError`` if wrong."""
    for name, mapping in data.tables.items():
        if name not in TABLES:
            raise ValueError(
                f"data.tables.{name}: unknown table; the contract's tables are " + ", ".join(TABLES)
            )
        spec = TABLES[name]
        if spec.required and not mapping.enabled:
            raise ValueError(f"data.tables.{name}.enabled: {name} is required and cannot be off")
        for column, value in mapping.derive.items():
            parse_derivation(name, column, value)
        for column, fmt in mapping.formats.items():
            try:
                check_time_format(fmt)
            except ValueError as exc:
                raise ValueError(f"data.tables.{name}.formats.{column}: {exc}") from None
        if mapping.expand is not None and "user_id" not in {c.name for c in spec.columns}:
            raise ValueError(f"data.tables.{name}.expand: {name} has no user_id to number")
    for name in data.optional_tables or ():
        if name not in TABLES or TABLES[name].required:
            optional = [n for n, s in TABLES.items() if not s.required]
            raise ValueError(
                f"data.optional_tables: {name!r} is not an optional table; they are "
                + ", ".join(optional)
            )


class LabelConfig(_Section):
    """The churn definition and the label window."""

    churn_source: Literal["contracts", "churn_events"] = "contracts"
    grace_days: int = Field(30, ge=0, description="A renewal may start this late and still count.")
    mode: Literal["rolling", "renewal"] = "rolling"
    lead_days: int = Field(0, ge=0)
    horizon_days: int = Field(90, gt=0)
    renewal_offsets_days: tuple[int, ...] = (180, 120, 90, 60)


class SnapshotConfig(_Section):
    """Observation dates: when we pretend to look at the accounts."""

    cadence: Literal["month", "week", "quarter"] = "month"
    start: str | None = None
    end: str | None = None

    _dates = field_validator("start", "end", mode="before")(_iso_date)


class FeatureConfig(_Section):
    """Options of the feature catalogue."""

    core_features: tuple[str, ...] | None = Field(
        None,
        description="Features that count as core usage; default: the 4 most used features.",
    )
    exclude: tuple[str, ...] = Field(
        (),
        description=(
            "Features (or whole families, e.g. 'contract') left out of training and scoring, "
            "e.g. one the leak alarm named and that was not known at the snapshot."
        ),
    )


class SplitConfig(_Section):
    """Out-of-time split: train | purge | valid | purge | test, in observation dates."""

    test_dates: int = Field(3, ge=1, description="Latest labelled observation dates used as test.")
    valid_dates: int = Field(3, ge=1, description="Observation dates before them for validation.")
    purge_days: int | None = Field(
        None, ge=0, description="Gap between periods; default lead_days + horizon_days."
    )
    backtest_cutoffs: int = Field(3, ge=0, description="Rolling backtest folds (0 turns it off).")


class ModelConfig(_Section):
    """LightGBM and calibration settings."""

    num_threads: int = Field(
        1,
        ge=1,
        description=(
            "LightGBM threads when fitting; always explicit. 1 by default: on two cores it fits "
            "as fast as 2 and does not slow down when another process is busy "
            "(docs/performance.md)."
        ),
    )
    predict_threads: int | None = Field(
        None, ge=1, description="LightGBM threads when scoring and explaining; default: all cores."
    )
    n_estimators: int = Field(600, ge=1)
    learning_rate: float = Field(0.03, gt=0)
    num_leaves: int = Field(31, ge=2)
    min_child_samples: int = Field(50, ge=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    reg_lambda: float = Field(1.0, ge=0)
    early_stopping_rounds: int = Field(50, ge=1)
    calibration: Literal["auto", "sigmoid", "beta", "spline", "isotonic"] = Field(
        "auto",
        description=(
            "auto: the smooth map (sigmoid, beta or spline) with the lowest cross-validated "
            "log loss on the validation period; isotonic: the older step-wise map."
        ),
    )


class ScoreConfig(_Section):
    """How a calibrated churn probability becomes a 0-100 health score and a tier."""

    base_score: float = Field(60.0, description="Health score at the base odds.")
    base_churn_probability: float = Field(0.05, gt=0, lt=1)
    points_to_double_odds: float = Field(10.0, gt=0)
    watch_below: float = Field(60.0, description="Scores under this are 'watch'.")
    at_risk_below: float = Field(45.0, description="Scores under this are 'at_risk'.")
    drivers: Literal["watch", "all"] = Field(
        "watch",
        description=(
            "Accounts whose risk drivers (SHAP) the scores table carries: 'watch' (accounts in "
            "watch and at_risk; healthy accounts still get their playbook) or 'all'."
        ),
    )

    @model_validator(mode="after")
    def _tiers_ordered(self) -> ScoreConfig:
        if self.at_risk_below > self.watch_below:
            raise ValueError("score.at_risk_below must not exceed score.watch_below")
        return self


class TouchConfig(_Section):
    """Touch tiers by ARR: who works the account and through which channel.

    Unset thresholds are the defaults of the portfolio's currency (``[output] currency``,
    :data:`healthscore.money.TOUCH_DEFAULTS`): 50,000 and 10,000 without a currency or in
    USD and EUR, 7,500,000 and 1,500,000 in JPY. :meth:`for_currency` fills them in.
    """

    high_touch_min_arr: float | None = Field(
        None, description="ARR from which an account is high touch; default: by currency."
    )
    low_touch_min_arr: float | None = Field(
        None, description="ARR from which an account is low touch; default: by currency."
    )

    @model_validator(mode="after")
    def _bands_ordered(self) -> TouchConfig:
        high, low = self.high_touch_min_arr, self.low_touch_min_arr
        if high is not None and low is not None and low > high:
            raise ValueError("touch.low_touch_min_arr must not exceed touch.high_touch_min_arr")
        return self

    def for_currency(self, currency: str | None) -> TouchConfig:
        """These thresholds with the unset ones taken from ``currency``'s defaults."""
        if self.high_touch_min_arr is not None and self.low_touch_min_arr is not None:
            return self
        high, low = touch_defaults(currency)
        return TouchConfig(
            high_touch_min_arr=self.high_touch_min_arr
            if self.high_touch_min_arr is not None
            else high,
            low_touch_min_arr=self.low_touch_min_arr if self.low_touch_min_arr is not None else low,
        )

    @property
    def thresholds(self) -> tuple[float, float]:
        """``(high_touch_min_arr, low_touch_min_arr)``, unset ones at the currency-less default."""
        filled = self.for_currency(None)
        return float(filled.high_touch_min_arr or 0.0), float(filled.low_touch_min_arr or 0.0)


class CapacityConfig(_Section):
    """How many accounts the CS team can work in one cadence step."""

    csms: int = Field(5, ge=1, description="CSMs on the team (sizes the top-k metrics).")
    accounts_per_csm: int = Field(
        20,
        ge=1,
        description=(
            "Accounts one CSM can work in one cadence step: each CSM's list is capped at it, "
            "the overflow goes to the pooled CS team."
        ),
    )

    @property
    def top_k(self) -> int:
        return self.csms * self.accounts_per_csm


class PlaybookConfig(_Section):
    """Where the playbook catalogue lives and how much of it is held out."""

    catalogue: str | None = Field(None, description="TOML file; default: the shipped catalogue.")
    holdout_share: float = Field(
        0.1, ge=0, lt=1, description="Share of the eligible at-risk accounts held out."
    )
    holdout_exclude_touch_tiers: tuple[Literal["high_touch", "low_touch", "tech_touch"], ...] = (
        Field(("high_touch",), description="Touch tiers never held out.")
    )
    holdout_exclude_renewal_days: int | None = Field(
        60, ge=0, description="Accounts renewing within this many days are never held out."
    )
    holdout_exclude_top: int = Field(
        20, ge=0, description="The top accounts by ARR at risk are never held out."
    )


class KpiConfig(_Section):
    """Settings of the retention KPIs."""

    gross_margin: float = Field(0.7, gt=0, le=1)
    activation_min_active_users: int = Field(3, ge=1)
    activation_days: int = Field(90, ge=1)


class ProjectConfig(_Section):
    """Which data set this is: one model namespace per project."""

    name: str | None = Field(
        None,
        description=(
            "Names models/<name>/, the MLflow experiment and the registered model. Default: "
            "the data folder's name, the DuckDB file's name or the database name."
        ),
    )


class SparkConfig(_Section):
    """The Spark session of the Spark engine (``[engine] name = "spark"``)."""

    master: str | None = Field(
        None,
        description=(
            "spark.master, e.g. 'local[8]', 'yarn', 'spark://host:7077', 'k8s://...'. Default: "
            "the one spark-submit or an existing session gives, else 'local[2]'."
        ),
    )
    app_name: str = Field("healthscore", description="spark.app.name of a session it starts.")
    conf: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Extra Spark settings, e.g. {'spark.executor.memory' = '8g'}; values whose key "
            "names a secret are hidden wherever the config is recorded."
        ),
    )
    sample: float = Field(
        1.0,
        gt=0,
        le=1,
        description=(
            "Share of accounts whose snapshots `train --engine spark` brings to this machine "
            "(all their snapshots; the same accounts on every run). 1: every account."
        ),
    )

    @field_validator("conf", mode="before")
    @classmethod
    def _text_values(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): _scalars_to_text(v) for k, v in value.items()}
        return value


class EngineConfig(_Section):
    """The query engine that computes features: DuckDB (default) or Spark, and its resources."""

    name: Literal["duckdb", "spark"] = Field(
        "duckdb",
        description=(
            "duckdb: one machine (the default); spark: snapshots, labels and features as "
            "Spark SQL over the same contract (see docs/scale.md)."
        ),
    )
    spark: SparkConfig = SparkConfig()

    memory_limit: str | None = Field(
        None,
        description=(
            "Most memory DuckDB may hold, e.g. '4GB'; beyond it, it spills to temp_directory. "
            "Default: half of the machine's memory (or of the container's limit)."
        ),
    )
    temp_directory: str | None = Field(
        None,
        description=(
            "Folder under which DuckDB spills; each run uses its own sub-folder and removes "
            "it. Default: the system temp directory."
        ),
    )
    threads: int | None = Field(None, ge=1, description="DuckDB threads; default: every core.")

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, value: str | None) -> str | None:

        if value is not None and not re.fullmatch(
            r"\s*\d+(\.\d+)?\s*(B|KB|KIB|MB|MIB|GB|GIB|TB|TIB)\s*", value.upper()
        ):
            raise ValueError("use a size such as '4GB' or '512MB'")
        return value


class TrackingConfig(_Section):
    """MLflow tracking and registry."""

    enabled: bool = True
    uri: str = "sqlite:///mlruns/mlflow.db"
    artifact_root: str = "mlruns/artifacts"
    experiment: str | None = Field(
        None, description="MLflow experiment; default: healthscore-<project>."
    )
    registered_model: str | None = Field(
        None, description="Registered model name; default: healthscore-<project>."
    )

    def for_project(self, project: str) -> TrackingConfig:
        """This config with the experiment and registered model named after ``project``."""
        default = f"healthscore-{project}"
        return self.model_copy(
            update={
                "experiment": self.experiment or default,
                "registered_model": self.registered_model or default,
            }
        )


class OutcomesConfig(_Section):
    """How ``healthscore outcomes`` compares treated and held-out accounts."""

    confidence: float = Field(
        0.95, gt=0.5, lt=1, description="Confidence level of the intervals of the differences."
    )
    power: float = Field(
        0.8,
        gt=0.5,
        lt=1,
        description="Power asked of the sample size that would make a difference readable.",
    )
    bootstrap_resamples: int = Field(
        2000, ge=100, description="Bootstrap resamples for the interval of the ARR retained."
    )


class MonitorConfig(_Section):
    """Thresholds of ``healthscore monitor``: when drift or decay means watch or retrain."""

    bins: int = Field(10, ge=2, le=50, description="Quantile bins of the training population.")
    psi_watch: float = Field(0.1, gt=0, description="Population stability index that is watched.")
    psi_retrain: float = Field(0.25, gt=0, description="PSI that calls for retraining.")
    missing_watch: float = Field(
        0.05, gt=0, le=1, description="Change in the share of missing values that is watched."
    )
    missing_retrain: float = Field(
        0.2, gt=0, le=1, description="Change in the share missing that calls for retraining."
    )
    min_importance: float = Field(
        0.01,
        ge=0,
        lt=1,
        description=(
            "Share of the model's total gain a feature needs for its drift to count in the "
            "verdict; drift of lesser features is listed but does not decide."
        ),
    )
    calibration_watch: float = Field(
        1.25,
        gt=1,
        description="Realised over predicted churn (or its inverse) that is watched.",
    )
    calibration_retrain: float = Field(
        1.5, gt=1, description="Realised over predicted churn (or its inverse) that retrains."
    )
    auc_drop_watch: float = Field(
        0.05, gt=0, description="Fall of ROC AUC below the test period's that is watched."
    )
    auc_drop_retrain: float = Field(
        0.1, gt=0, description="Fall of ROC AUC below the test period's that retrains."
    )
    alpha: float = Field(
        0.01,
        gt=0,
        lt=0.5,
        description="A calibration gap counts only when a binomial test finds it this unlikely.",
    )
    recent_dates: int = Field(
        3, ge=1, description="Latest completed scoring dates whose churn decides the verdict."
    )

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> MonitorConfig:
        pairs = (
            ("psi", self.psi_watch, self.psi_retrain),
            ("missing", self.missing_watch, self.missing_retrain),
            ("calibration", self.calibration_watch, self.calibration_retrain),
            ("auc_drop", self.auc_drop_watch, self.auc_drop_retrain),
        )
        for name, watch, retrain in pairs:
            if watch > retrain:
                raise ValueError(f"monitor.{name}_watch must not exceed monitor.{name}_retrain")
        return self


class OutputConfig(_Section):
    """How results are written for people: language, currency, CSV encoding."""

    locale: str = Field(
        "en",
        description=(
            "Language of the report, the driver sentences, the playbooks and the console: "
            "'en' or 'ja'. File formats and column names stay English."
        ),
    )
    currency: str | None = Field(
        None,
        description=(
            "ISO 4217 code of the ARR amounts, e.g. 'USD' or 'JPY': amounts are written in it "
            "(yen without decimals, 万 and 億 in Japanese), and the touch-tier thresholds "
            "default to its amounts. Default: none, amounts without a symbol."
        ),
    )
    encoding: Literal["utf-8", "utf-8-sig"] = Field(
        "utf-8",
        description=(
            "Encoding of the CSV files written for people. 'utf-8-sig' starts them with a "
            "byte-order mark, so that Excel (notably on a Japanese Windows) opens them as "
            "UTF-8 instead of the system code page."
        ),
    )
    header_labels: bool = Field(
        False,
        description=(
            "Add a second header row to the scores and KPI CSV files with each column's "
            "name in the output language; the first row keeps the English column names."
        ),
    )

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        return check_locale(value)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str | None) -> str | None:
        return check_currency(value.upper()) if value is not None else None


class Config(_Section):
    """The whole configuration. Every section has documented defaults."""

    seed: int = 42
    project: ProjectConfig = ProjectConfig()
    data: DataConfig = DataConfig()
    labels: LabelConfig = LabelConfig()
    snapshots: SnapshotConfig = SnapshotConfig()
    features: FeatureConfig = FeatureConfig()
    split: SplitConfig = SplitConfig()
    model: ModelConfig = ModelConfig()
    score: ScoreConfig = ScoreConfig()
    touch: TouchConfig = TouchConfig()
    capacity: CapacityConfig = CapacityConfig()
    playbooks: PlaybookConfig = PlaybookConfig()
    kpis: KpiConfig = KpiConfig()
    tracking: TrackingConfig = TrackingConfig()
    outcomes: OutcomesConfig = OutcomesConfig()
    monitor: MonitorConfig = MonitorConfig()
    engine: EngineConfig = EngineConfig()
    output: OutputConfig = OutputConfig()

    @model_validator(mode="after")
    def _touch_in_currency(self) -> Config:
        self.touch.for_currency(self.output.currency)  # a currency without defaults needs them
        return self

    def with_overrides(self, **sections: dict[str, Any]) -> Config:
        """A copy with some keys of some sections replaced, validated like a file."""
        raw = self.model_dump()
        for section, values in sections.items():
            raw.setdefault(section, {}).update(values)
        return config_from_dict(raw)


def config_from_dict(raw: dict[str, Any], *, origin: str = "config") -> Config:
    """Validate a plain dictionary as a :class:`Config`, with errors a person can act on."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            if err["type"] == "extra_forbidden":
                problems.append(f"  {where}: unknown key (check its spelling and section)")
            else:
                problems.append(f"  {where}: {err['msg'].removeprefix('Value error, ')}")
        raise ConfigError(f"{origin} is invalid:\n" + "\n".join(problems)) from None


def load_config(path: str | Path | None = None) -> Config:
    """Load a TOML config file; ``None`` gives the defaults.

    Examples
    --------
    >>> load_config().labels.horizon_days
    90
    """
    if path is None:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return config_from_dict(raw, origin=f"config file {path}")


def recordable(config: Config) -> dict[str, Any]:
    """The config as plain data that may be written anywhere: every URL's secrets hidden."""
    raw = redact_config(config.model_dump(mode="json"))
    raw["engine"]["spark"]["conf"] = redact_settings(raw["engine"]["spark"]["conf"])
    return raw


def flatten_config(config: Config) -> dict[str, str]:
    """The config as flat ``section.key -> value`` strings for experiment tracking, with
    every URL's secrets hidden."""
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            flat[prefix] = str(value)

    walk("", recordable(config))
    return flat
