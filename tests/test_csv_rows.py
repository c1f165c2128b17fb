"""CSV written a column at a time is byte for byte what ``DataFrame.to_csv`` writes.

Random frames mix every kind of column the outputs hold (doubles from tiny to huge, negative
zero, missing and infinite ones; narrower floats; integers; booleans; dates with NaT; nullable
integers and booleans; text with commas, quotes, line ends, formula starts, empty strings,
missing cells and Japanese) and are written by :func:`healthscore.storage.write_frame` and by
plain ``to_csv`` with the same options; the files must be equal, and the rows must have taken
the column-at-a-time path. Kinds that path does not know must still write identically.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthscore.config import OutputConfig
from healthscore.csv_rows import CSV_OPTIONS, format_rows, write_rows
from healthscore.i18n import Language
from healthscore.people_csv import column_labels
from healthscore.people_csv import for_people as for_people_text
from healthscore.storage import neutralise_formulas, write_frame

TEXT = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.just(""),
    st.sampled_from(["=1+2", "-3", "a,b", 'say "hi"', "two\nlines", "cr\rlf\r\n", "解約リスク"]),
    st.text(alphabet=st.sampled_from(list("ab ,\"\r\n=+-@\t'日本語é")), max_size=12),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=8),
)
NAMES = st.text(alphabet=st.sampled_from(list('ab ,"\r\n=+-@日')), max_size=6)
DOUBLES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-05, 1e-4, 1e16, 1e15, 9999999999999998.0, 3.0, 0.1, 5e-324]),
    st.integers(-(10**6), 10**6).map(lambda n: n / 10),
)
DATES = st.one_of(
    st.none(),
    st.datetimes(min_value=pd.Timestamp("1700-01-01"), max_value=pd.Timestamp("2260-01-01")),
)


@st.composite
def columns(draw, rows: int) -> pd.Series:
    """One column of ``rows`` cells, of a kind drawn at random."""
    kind = draw(
        st.sampled_from(
            ["double", "float32", "int", "uint8", "bool", "date", "Int64"]
            + ["boolean", "str", "string", "python-str", "object"]
        )
    )
    if kind == "double":
        return pd.Series(draw(st.lists(DOUBLES, min_size=rows, max_size=rows)), dtype="float64")
    if kind == "float32":
        cells = draw(st.lists(st.floats(width=32), min_size=rows, max_size=rows))
        return pd.Series(cells, dtype="float32")
    if kind == "int":
        cells = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=rows, max_size=rows))
        return pd.Series(cells, dtype="int64")
    if kind == "uint8":
        cells = draw(st.lists(st.integers(0, 255), min_size=rows, max_size=rows))
        return pd.Series(cells, dtype="uint8")
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=rows, max_size=rows)), dtype=bool)
    if kind == "date":
        cells = draw(st.lists(DATES, min_size=rows, max_size=rows))
        unit = draw(st.sampled_from(["ns", "us", "s"]))
        return pd.Series(pd.to_datetime(cells)).astype(f"datetime64[{unit}]")
    if kind in ("Int64", "boolean"):
        values = st.integers(-(2**40), 2**40) if kind == "Int64" else st.booleans()
        cells = draw(st.lists(st.one_of(st.none(), values), min_size=rows, max_size=rows))
        return pd.Series(cells, dtype=kind)
    cells = draw(st.lists(TEXT, min_size=rows, max_size=rows))
    text_kinds = {"python-str": pd.StringDtype("python", na_value=np.nan), "object": object}
    return pd.Series(cells, dtype=text_kinds.get(kind, kind))


@st.composite
def frames(draw) -> pd.DataFrame:
    rows = draw(st.integers(0, 12))
    width = draw(st.integers(2, 6))
    names = draw(st.lists(NAMES, min_size=width, max_size=width, unique=True))
    data = {name: draw(columns(rows)).reset_index(drop=True) for name in names}
    return pd.DataFrame(data)


def written_by_pandas(frame: pd.DataFrame, path, *, encoding="utf-8", labels=None) -> bytes:
    """The file the CSV writer wrote when every frame went through ``to_csv``."""
    with path.open("w", encoding=encoding, newline="") as out:
        if labels is not None:
            pd.DataFrame([labels], columns=frame.columns).to_csv(out, **CSV_OPTIONS)
            frame.to_csv(out, header=False, **CSV_OPTIONS)
        else:
            frame.to_csv(out, **CSV_OPTIONS)
    return path.read_bytes()


@settings(max_examples=300, deadline=None)
@given(frame=frames(), for_people=st.booleans())
def test_random_frames_are_written_as_to_csv_writes_them(tmp_path_factory, frame, for_people):
    folder = tmp_path_factory.mktemp("csv")
    ours = write_frame(frame, folder / "ours.csv", for_people=for_people).read_bytes()
    table = neutralise_formulas(frame) if for_people else frame
    assert format_rows(table) is not None, table.dtypes
    assert ours == written_by_pandas(table, folder / "pandas.csv")


def test_doubles_are_written_in_their_shortest_text():
    frame = pd.DataFrame({"x": [1e-05, 1e16, 3.0, -0.0, np.nan, np.inf, -np.inf], "n": range(7)})
    assert format_rows(frame) == (
        "1e-05,0\r\n1e+16,1\r\n3.0,2\r\n-0.0,3\r\n,4\r\ninf,5\r\n-inf,6\r\n"
    )


def test_doubles_of_every_magnitude_are_written_as_repr_writes_them():
    """Random digits at every scale (whole, rounded, full precision), printed with the seed."""
    seed = 11
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    n = 60_000
    mantissas = rng.integers(1, 2**53, size=n) * rng.choice([-1.0, 1.0], size=n)
    values = np.concatenate(
        [
            np.ldexp(mantissas, rng.integers(-120, 120, size=n)),
            np.round(rng.normal(size=n) * 10.0 ** rng.integers(-5, 18, size=n), 2),
            rng.integers(-(10**15), 10**15, size=n) / 10.0 ** rng.integers(0, 17, size=n),
            [0.0, -0.0, 1e-4, 9.999999999999999e-5, 1e16, 9999999999999998.0, 5e-324, np.nan],
        ]
    )
    frame = pd.DataFrame({"x": values, "n": 0})
    expected = "".join(f"{v!r},0\r\n" if v == v else ",0\r\n" for v in values.tolist())
    assert format_rows(frame) == expected


@pytest.mark.parametrize("dtype", ["str", "string"])
def test_text_of_rows_joined_from_several_frames_is_written_as_to_csv_writes_it(tmp_path, dtype):
    """Arrow keeps the text of joined rows (or of a CSV read in chunks) in several chunks."""
    parts = [pd.Series(["A1", "a,b", None], dtype=dtype), pd.Series(['q"', "=1+2"], dtype=dtype)]
    frame = pd.DataFrame({"account_id": pd.concat(parts, ignore_index=True), "n": range(5)})
    assert format_rows(frame) is not None
    for for_people in (False, True):
        ours = write_frame(frame, tmp_path / "ours.csv", for_people=for_people).read_bytes()
        table = neutralise_formulas(frame) if for_people else frame
        assert ours == written_by_pandas(table, tmp_path / "pandas.csv")


def test_text_is_quoted_only_where_it_must_be():
    frame = pd.DataFrame({"t": ["plain", "a,b", 'q"', "l\nf", "", None], "d": [True] * 6})
    assert format_rows(frame) == (
        'plain,True\r\n"a,b",True\r\n"q""",True\r\n"l\nf",True\r\n,True\r\n,True\r\n'
    )


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(["a", None, "b"], dtype="category"),
        pd.Series(pd.to_datetime(["2026-01-01", None, "2026-03-01"]).tz_localize("UTC")),
        pd.Series(pd.to_timedelta([1, 2, None], unit="D")),
        pd.Series(["a", 1, pd.Timestamp("2026-01-01")], dtype=object),
        pd.Series(np.array(["0900-01-01", "NaT", "2026-03-01"], dtype="datetime64[s]")),
        pd.Series([0.1, None, 1e16], dtype="Float64"),
    ],
    ids=["category", "tz-aware", "timedelta", "mixed-objects", "three-digit-year", "Float64"],
)
def test_other_kinds_are_left_to_to_csv_and_written_alike(tmp_path, column):
    frame = pd.DataFrame({"account_id": ["A1", "=A2", "A3"], "other": column})
    assert format_rows(frame) is None
    ours = write_frame(frame, tmp_path / "ours.csv", for_people=False).read_bytes()
    assert ours == written_by_pandas(frame, tmp_path / "pandas.csv")


def test_one_column_is_left_to_to_csv(tmp_path):
    frame = pd.DataFrame({"note": ["", "x", None]})
    assert format_rows(frame) is None
    ours = write_frame(frame, tmp_path / "ours.csv", for_people=False).read_bytes()
    assert ours == written_by_pandas(frame, tmp_path / "pandas.csv") == b'note\r\n""\r\nx\r\n""\r\n'


def test_rows_are_written_in_slices_each_its_own_way(tmp_path):
    """A slice holding a number among text goes through ``to_csv``; the others do not."""
    notes = ["a", "b,c", None, 'd"', 7, "e\nf", "g"]
    frame = pd.DataFrame({"note": pd.Series(notes, dtype=object), "n": np.arange(7) / 3})
    assert format_rows(frame.iloc[:3]) is not None and format_rows(frame.iloc[3:6]) is None
    out = io.StringIO()
    write_rows(frame, out, rows_at_once=3)
    assert out.getvalue() == frame.to_csv(header=False, **CSV_OPTIONS)
    # The same into a file, the formatted slices as bytes under the text (after its BOM).
    with (tmp_path / "ours.csv").open("w", encoding="utf-8-sig", newline="") as file:
        frame.iloc[:0].to_csv(file, **CSV_OPTIONS)
        write_rows(frame, file, write_utf8=file.buffer.write, rows_at_once=3)
    expected = written_by_pandas(frame, tmp_path / "pandas.csv", encoding="utf-8-sig")
    assert (tmp_path / "ours.csv").read_bytes() == expected


def test_score_frame_is_written_as_to_csv_writes_it(trained, tmp_path):
    """The scores of the session's model, in Japanese with labels and a byte-order mark."""
    from healthscore.pipeline import score

    scores = score(trained.data, "2025-12-01", trained.config, model=trained.outcome.latest)
    output = OutputConfig(locale="ja", encoding="utf-8-sig", header_labels=True)
    lang = Language(output.locale, output.currency)
    table = neutralise_formulas(for_people_text(scores, lang))
    assert format_rows(table) is not None, table.dtypes
    for name, config in (("english", None), ("japanese", output)):
        ours = write_frame(scores, tmp_path / f"{name}.csv", output=config).read_bytes()
        if config is None:
            expected = written_by_pandas(neutralise_formulas(scores), tmp_path / "pandas.csv")
        else:
            labels = column_labels(table.columns, lang)
            expected = written_by_pandas(
                table, tmp_path / "pandas.csv", encoding="utf-8-sig", labels=labels
            )
        assert ours == expected, name
