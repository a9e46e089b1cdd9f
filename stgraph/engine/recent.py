"""Recent observations from a CSV file, checked against a trained forecaster, for
``stgraph forecast RUN_DIR --input recent.csv``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stgraph.data.frames import from_long_dataframe
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.engine.forecaster import Forecaster


def read_recent_csv(path: str | Path, forecaster: Forecaster) -> SpatioTemporalData:
    """Read recent observations for ``forecaster`` from a CSV file.

    Two layouts are accepted: the tidy layout that ``forecast`` writes (columns ``time, node,
    feature, value``) and a long layout with one column per feature (``time, node,
    <feature>...``). Empty cells are missing values; at least the lookback's worth of steps is
    needed.

    Args:
        path: the CSV file.
        forecaster: the trained forecaster whose nodes, features and step the file must have.

    Raises:
        ValueError: unreadable file, missing columns, unknown or missing nodes, or another
            step than the run's (each named, with the file).
    """
    p = Path(path)
    try:
        df = pd.read_csv(p)
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ValueError(f"{p}: not a readable CSV file ({e})") from None
    features = list(forecaster.signature["features"])
    nodes = list(forecaster.signature["nodes"])
    if {"time", "node", "feature", "value"} <= set(df.columns):
        unknown = sorted(set(df["feature"].astype(str)) - set(features))
        if unknown:
            raise ValueError(f"{p}: unknown feature(s) {unknown}; the run has {features}")
        dup = df.duplicated(["time", "node", "feature"])
        if dup.any():
            row = int(dup.to_numpy().nonzero()[0][0])
            raise ValueError(f"{p}: row {row} repeats a (time, node, feature) triple")
        df = df.assign(feature=df["feature"].astype(str)).pivot(
            index=["time", "node"], columns="feature", values="value"
        )
        df = df.reindex(columns=features).reset_index()
    missing = [c for c in ("time", "node", *features) if c not in df.columns]
    if missing:
        raise ValueError(
            f"{p}: missing column(s) {missing}; expected time, node, feature, value or time, "
            f"node, {', '.join(features)}"
        )
    absent = sorted(set(nodes) - set(df["node"].astype(str)))
    if absent:
        raise ValueError(
            f"{p}: no rows for {len(absent)} of the run's nodes, e.g. {absent[:5]} (write "
            "empty values for nodes with no recent observation)"
        )
    unknown_nodes = sorted(set(df["node"].astype(str)) - set(nodes))
    if unknown_nodes:
        raise ValueError(
            f"{p}: {len(unknown_nodes)} node(s) the run does not know, e.g. {unknown_nodes[:5]}"
        )
    data = from_long_dataframe(
        df,
        time="time",
        node="node",
        values=features,
        graph=forecaster.graph,
        name=str(p),
    )
    forecaster.check_data(data)
    return data
