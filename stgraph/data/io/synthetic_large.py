"""A LargeST-sized synthetic traffic network, generated straight to disk one day at a time.

Same generator family as ``synthetic-traffic`` (:mod:`stgraph.data.io.synthetic`): daily and
weekly demand cycles with a random level per day and region, congestion that spills over to
neighbouring sensors, incident pulses, AR(1) noise and sensor outages (zeros + mask). The
network is state-sized instead of a street grid: sensors lie along random highway corridors
and the graph is their k-nearest-neighbour graph with Gaussian weights. The series is
written through :class:`~stgraph.data.ondisk_write.SeriesWriter` one day at a time, so
memory stays at a few ``[steps per day, N]`` buffers whatever the number of days; the graph
is saved alongside (``graph.json``). Open the result with :func:`stgraph.data.open_series`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from stgraph.data.io.synthetic import _demand, congestion_step, sensor_profiles, to_lonlat
from stgraph.data.ondisk import SeriesMeta
from stgraph.data.ondisk_write import SeriesWriter
from stgraph.graph.builders.points import knn_graph


@dataclass(frozen=True)
class LargeSyntheticConfig:
    """Generator settings.

    Args:
        nodes: number of sensors ``N``.
        days: length in days.
        freq_minutes: sampling step.
        k: neighbours per sensor in the kNN graph.
        extent_km: side of the square region.
        sensors_per_corridor: sensors along each highway corridor.
        incidents_per_day: mean incidents per day per 1,000 sensors.
        missing_stretches_per_sensor: mean outages per sensor per 30 days.
        day_to_day: spread of the random daily demand level (1 +- this, per day and region).
        seed: random seed (the dataset is a pure function of the config).
    """

    nodes: int = 10_000
    days: int = 365
    freq_minutes: int = 5
    k: int = 8
    extent_km: float = 600.0
    sensors_per_corridor: int = 100
    incidents_per_day: float = 12.0
    missing_stretches_per_sensor: float = 1.0
    day_to_day: float = 0.35
    seed: int = 0
    start: str = "2024-01-01"  # a Monday
    origin_lonlat: tuple[float, float] = (-122.0, 34.0)


def _sensors(cfg: LargeSyntheticConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sensor positions in metres along random straight corridors, and each one's corridor.

    Shapes:
        output: xy [N, 2], corridor [N]
    """
    per = cfg.sensors_per_corridor
    m = -(-cfg.nodes // per)
    size = cfg.extent_km * 1000.0
    start = rng.uniform(0, size, (m, 2))
    angle = rng.uniform(0, 2 * np.pi, m)
    length = rng.uniform(0.1, 0.4, m) * size
    frac = (np.arange(per) + rng.uniform(0.2, 0.8, (m, per))) / per  # [m, per]
    d = np.stack([np.cos(angle), np.sin(angle)], 1) * length[:, None]
    xy = start[:, None, :] + frac[..., None] * d[:, None, :]
    xy = xy.reshape(-1, 2)[: cfg.nodes] + rng.normal(0, 50.0, (cfg.nodes, 2))
    return xy, np.repeat(np.arange(m), per)[: cfg.nodes]


class _Outages:
    """Sensor outages and incident pulses that may run past the end of a day."""

    def __init__(self, n: int, steps: int) -> None:
        self.missing = np.zeros((2 * steps, n), dtype=bool)
        self.pulses = np.zeros((2 * steps, n))
        self.steps = steps

    def day(self) -> tuple[np.ndarray, np.ndarray]:
        """This day's outage mask and pulses; the rest carries over to the next day."""
        s = self.steps
        out = self.missing[:s].copy(), self.pulses[:s].copy()
        for buf in (self.missing, self.pulses):
            buf[:s] = buf[s:]
            buf[s:] = 0
        return out


def generate_large_synthetic(
    out: str | Path, cfg: LargeSyntheticConfig | None = None, *, overwrite: bool = False
) -> Path:
    r"""Generate the network and write its series directory to ``out``, one day at a time.

    Dynamics per step ``t`` and sensor ``i`` (congestion ``c`` in [0, 0.95]) as in
    :func:`~stgraph.data.io.synthetic.generate_synthetic_traffic`, with the spill-over taken
    from the kNN neighbours (row-normalised weights :math:`P`):

    .. math::
        c_{t+1} = \mathrm{clip}\big(0.85\,c_t + 0.15\,\ell_{d(t), r(i)}(s_i^{am} m_t + s_i^{pm}
                  e_t) + 0.25\,(P c_t - c_t)^+ + q_t\big), \quad
        v_t = v^{free}_i (1 - 0.7\,c_t) + \varepsilon_t

    Args:
        out: the series directory to create.
        cfg: generator settings (default: 10,000 sensors, 365 days at 5 minutes).
        overwrite: replace an existing series directory.

    Returns:
        ``out``.

    Shapes:
        values, mask on disk: [T, N, 1] with T = days * 1440 / freq_minutes (float32 speeds
        in mph; 10,000 sensors x one year = 4.2 GB of values)
    """
    cfg = cfg or LargeSyntheticConfig()
    rng = np.random.default_rng(cfg.seed)
    n = cfg.nodes
    xy, corridor = _sensors(cfg, rng)
    lon, lat = to_lonlat(xy, cfg.origin_lonlat)
    ids = [f"L{i:05d}" for i in range(n)]
    graph = knn_graph(np.c_[lon, lat], cfg.k, weight="gaussian", ids=ids, name="synthetic-large")
    w = graph.to_scipy()
    share = sp.diags(1.0 / np.maximum(np.asarray(w.sum(1)).ravel(), 1e-9)) @ w.T.tocsr()
    spd = 1440 // cfg.freq_minutes
    centre = xy.mean(0)
    region = (xy[:, 0] > centre[0]).astype(int) * 2 + (xy[:, 1] > centre[1]).astype(int)
    heading_in = rng.random(n) < 0.5
    s_am, s_pm, free = sensor_profiles(rng, heading_in)
    nodes = pd.DataFrame(
        {"lon": lon, "lat": lat, "corridor": corridor, "free_flow_mph": free},
        index=pd.Index(ids, name="node_id"),
    )
    start = pd.Timestamp(cfg.start)
    meta = SeriesMeta(
        tuple(ids),
        ("speed",),
        start.isoformat(),
        f"{cfg.freq_minutes}min",
        name="synthetic-large",
        units=("mph",),
    )
    c, noise = np.zeros(n), np.zeros(n)
    carry = _Outages(n, spd)
    with SeriesWriter(
        out, meta, cfg.days * spd, graph=graph, node_table=nodes, overwrite=overwrite
    ) as writer:
        for day in range(cfg.days):
            ts = pd.date_range(start + pd.Timedelta(days=day), periods=spd, freq=meta.freq)
            morning, evening = _demand(ts)
            level = 1.0 + cfg.day_to_day * rng.uniform(-1.0, 1.0, 4)[region]
            _draw_events(cfg, rng, carry, n, spd)
            missing, pulses = carry.day()
            speed = np.empty((spd, n), dtype=np.float32)
            for t in range(spd):
                drive = (s_am * morning[t] + s_pm * evening[t]) * level
                c, noise, speed[t] = congestion_step(c, noise, drive, share, pulses[t], free, rng)
            observed = ~missing & (rng.random((spd, n)) > 0.002)
            writer.append(speed[..., None], observed[..., None])
    return Path(out)


def _draw_events(
    cfg: LargeSyntheticConfig, rng: np.random.Generator, carry: _Outages, n: int, spd: int
) -> None:
    """Incidents and outages starting on this day (they may end on the next one)."""
    for _ in range(rng.poisson(cfg.incidents_per_day * n / 1000)):
        t0, i = int(rng.integers(0, spd)), int(rng.integers(0, n))
        dur = int(rng.integers(30, 120)) // cfg.freq_minutes
        carry.pulses[t0 : t0 + dur, i] += rng.uniform(0.05, 0.12)
    for _ in range(rng.poisson(cfg.missing_stretches_per_sensor * n / 30)):
        t0, i = int(rng.integers(0, spd)), int(rng.integers(0, n))
        carry.missing[t0 : t0 + int(rng.integers(12, 72)), i] = True
