#!/usr/bin/env python3
"""Spend dashboard figures computed with pandas: the independent reference
for src/dashboard (tests/fixtures/dashboard/sample_reference.json) and the
peer of bench/dashboard.sh.

Reads the files `creative-filter dashboard --sample ROWS --write-sample DIR`
writes (the spend file as Russian Excel exports it: `;`, decimal commas,
no-break spaces between thousands, months as numbers or Russian names), sums
the rows of one creative and month, joins the users' labels (which win) and
the predictions, and sums spend in whole kopecks.

    python dashboard_pandas.py reference DIR OUT.json   # the test fixture
    python dashboard_pandas.py bench DIR                # timings, JSON on stdout
"""
import json
import sys
import time
from pathlib import Path

import pandas as pd

MONTHS = {name: i + 1 for i, name in enumerate(
    ["январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август",
     "сентябрь", "октябрь", "ноябрь", "декабрь"])}
SPEND = "sample_dashboard_data.csv"


def parse(path):
    """The spend file → one row per usable input row, cost in kopecks."""
    df = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
    cost = df["Estimated cost RUB"].str.replace("\u00a0", "", regex=False).str.replace(",", ".", regex=False)
    cost = pd.to_numeric(cost, errors="coerce")
    month = pd.to_numeric(df["Month"], errors="coerce").fillna(df["Month"].str.lower().map(MONTHS))
    good = cost.notna() & month.notna()
    out = pd.DataFrame({
        "id": df["Advertisement ID"], "advertiser": df["Advertiser"], "brand": df["Brand"],
        "media": df["Media Type"], "year": df["Year"].astype(int), "month": month.fillna(0).astype(int),
        "kop": (cost.fillna(0) * 100).round().astype("int64"),
    })[good]
    return out, int((~good).sum()), len(df)


def labels(directory):
    """ID → (segment, source); the users' labels win over predictions."""
    read = lambda name: pd.read_csv(directory / name, dtype={"Advertisement ID": str, "Segment_num": int})
    known, predicted = read("sample_train_segments.csv"), read("sample_predictions.csv")
    known["source"], predicted["source"] = "known", "predicted"
    both = pd.concat([known, predicted]).drop_duplicates("Advertisement ID", keep="first")
    return both.rename(columns={"Advertisement ID": "id", "Segment_num": "segment"})


def aggregate(rows, lab):
    """Sums the rows of one creative and month, then joins the segments."""
    lines = rows.groupby(["id", "year", "month"], sort=False).agg(
        kop=("kop", "sum"), advertiser=("advertiser", "first"), brand=("brand", "first"), media=("media", "first"),
    ).reset_index()
    lines = lines.merge(lab, on="id", how="left")
    lines["source"] = lines["source"].fillna("unclassified")
    lines["key"] = lines["segment"].map(lambda s: "none" if pd.isna(s) else str(int(s)))
    return lines


def figures(lines):
    by_source = lines.pivot_table(index="key", columns="source", values="kop", aggfunc="sum", fill_value=0)
    period = lines["year"].astype(str) + "-" + lines["month"].map("{:02d}".format)
    by_period = lines.assign(period=period).groupby(["key", "period"])["kop"].sum()
    advertisers = lines.groupby("advertiser")["kop"].sum().sort_values(ascending=False, kind="stable")
    return {
        "total": int(lines["kop"].sum()),
        "creatives": int(lines["id"].nunique()),
        "segments": {k: {s: int(by_source.loc[k].get(s, 0)) for s in ["known", "predicted", "unclassified"]}
                     for k in by_source.index},
        "by_period": {k: {p: int(v) for p, v in by_period.loc[k].items()} for k in by_source.index},
        "top_advertisers": [[name, int(v)] for name, v in advertisers.head(10).items()],
        "media_types": {m: int(v) for m, v in lines.groupby("media")["kop"].sum().items()},
    }


def main():
    mode, directory = sys.argv[1], Path(sys.argv[2])
    if mode == "reference":
        rows, bad, n = parse(directory / SPEND)
        lines = aggregate(rows, labels(directory))
        out = {
            "pandas": pd.__version__, "rows": n, "bad_rows": bad, "lines": len(lines),
            "all": figures(lines),
            "tv_2025": figures(lines[(lines["year"] == 2025) & (lines["media"] == "ТВ")]),
        }
        Path(sys.argv[3]).write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
        print(f"wrote {sys.argv[3]}")
    elif mode == "bench":
        lab = labels(directory)
        t0 = time.perf_counter()
        rows, bad, n = parse(directory / SPEND)
        t1 = time.perf_counter()
        lines = aggregate(rows, lab)
        total = int(lines["kop"].sum())
        by_segment = lines.groupby(["key", "year", "month"])["kop"].sum()
        t2 = time.perf_counter()
        print(json.dumps({"rows": n, "bad_rows": bad, "lines": len(lines), "segment_months": len(by_segment),
                          "total_kopecks": total, "parse_s": t1 - t0, "aggregate_s": t2 - t1,
                          "rows_per_s": n / (t2 - t0), "pandas": pd.__version__}))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
