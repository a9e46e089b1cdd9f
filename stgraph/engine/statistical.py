"""Statistical baselines: ARIMA per series (Box & Jenkins) and a ridge VAR over all series
(Lütkepohl), evaluated through the same windows and masked metrics as the other baselines.

Both are fitted once on the training split (at most its last ``max_train`` steps; missing
entries linearly interpolated over time for fitting, a series never observed in training
takes its node's training mean) and then forecast every window from its own ``L`` lookback
steps with the fitted parameters held fixed: the recursions run vectorised over windows and
series in torch, never refitting and never calling statsmodels per window. Missing lookback
entries are filled with the last observed value of the window (leading gaps with its first
observed value, a fully missing window with the node's training mean).

Both are non-seasonal. With ``deseasonalize=True`` they model the residual after the
training-split climatology of :class:`~stgraph.engine.baselines.HistoricalAverage` (the
protocol's calendar slots) and add that climatology back to the forecast.

ARIMA needs statsmodels (``pip install 'stgraph-toolkit[stats]'``); the VAR is fitted by
ridge least squares here and needs nothing extra.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor

from stgraph.data.protocol import Protocol
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.windows import Batch
from stgraph.engine.baselines import Baseline, HistoricalAverage

STATS_HINT = "pip install 'stgraph-toolkit[stats]'  (or: pip install 'statsmodels>=0.14')"


def _statsmodels_arima() -> Any:
    """statsmodels' ARIMA class, or an ImportError that names the ``stats`` extra."""
    try:
        from statsmodels.tsa.arima.model import ARIMA as SMARIMA
    except ImportError as err:
        raise ImportError(f"the 'arima' baseline needs statsmodels: {STATS_HINT}") from err
    return SMARIMA


def interpolate_series(values: np.ndarray, mask: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Linear interpolation over time of each column's missing entries (constant beyond the
    first/last observation); a column never observed is ``fallback``.

    Shapes:
        values, mask: [T, K]; fallback: [K] -> [T, K] float64
    """
    out = np.array(values, dtype=np.float64)
    steps = np.arange(len(out))
    for k in range(out.shape[1]):
        seen = mask[:, k]
        if not seen.any():
            out[:, k] = fallback[k]
        elif not seen.all():
            out[:, k] = np.interp(steps, steps[seen], out[seen, k])
    return out


def fill_windows(x: Tensor, mask: Tensor, fallback: Tensor) -> Tensor:
    """Fill each window's missing steps with its last observed value (leading gaps with its
    first observed value); a window/series with nothing observed gets ``fallback``.

    Shapes:
        x, mask: [B, L, K]; fallback: [K] -> [B, L, K]
    """
    steps = torch.arange(x.shape[1], device=x.device).view(1, -1, 1)
    last = torch.where(mask, steps, -1).cummax(1).values  # last observed step so far
    first = torch.where(mask, steps, x.shape[1]).flip(1).cummin(1).values.flip(1)
    src = torch.where(last >= 0, last, first).clamp(0, x.shape[1] - 1)
    filled = x.gather(1, src)
    return torch.where(mask.any(1, keepdim=True), filled, fallback.to(x).view(1, 1, -1))


class StatisticalBaseline(Baseline):
    """Shared plumbing of the statistical baselines: the training matrix, window filling,
    optional climatology removal, and reshaping. Subclasses implement ``_fit_series`` and
    ``_forecast`` on flattened series ``K = N * F``.

    Args:
        max_train: fit on at most the last ``max_train`` training steps (bounds fit time).
        deseasonalize: model the residual after the training climatology
            (:class:`~stgraph.engine.baselines.HistoricalAverage`) and add it back.

    Shapes:
        predict: batch -> [B, H, N, F] in data units
    """

    def __init__(self, max_train: int = 2000, deseasonalize: bool = False) -> None:
        if max_train < 2:
            raise ValueError(f"{self.name}: max_train must be >= 2, got {max_train}")
        self.max_train = int(max_train)
        self.deseasonalize = deseasonalize

    def fit(self, data: SpatioTemporalData, protocol: Protocol) -> StatisticalBaseline:
        """Fit on time steps ``[max(0, train_end - max_train), train_end)`` only."""
        super().fit(data, protocol)
        assert protocol.bounds is not None
        end = protocol.bounds.train_end
        begin = max(0, end - self.max_train)
        if end - begin < 3:
            raise ValueError(f"{self.name}: {end - begin} training steps are too few to fit")
        self.lookback = protocol.lookback
        self.shape = tuple(data.values.shape[1:])  # (N, F)
        flat = self.node_mean.double().reshape(-1).numpy()
        v = data.values[begin:end].double().reshape(end - begin, -1).numpy()
        m = data.mask[begin:end].reshape(end - begin, -1).numpy()
        series = interpolate_series(v, m, flat)
        self.clim: HistoricalAverage | None = None
        if self.deseasonalize:
            self.clim = HistoricalAverage().fit(data, protocol)
            series = series - self._climatology(torch.arange(begin, end)).numpy()
        self._fit_series(series, np.asarray(m.any(0)))
        return self

    def _climatology(self, t: Tensor) -> Tensor:
        """Training climatology at series steps ``t`` (any shape ``S``) -> ``[*S, K]``."""
        assert self.clim is not None
        table = self.clim.table.double()
        return table[self.clim.slots[t]].reshape(*t.shape, -1)

    def predict(self, batch: Batch) -> Tensor:
        b, lookback, horizon = batch.x.shape[0], batch.x.shape[1], batch.y.shape[1]
        x = batch.x.detach().cpu().double().reshape(b, lookback, -1)
        mask = batch.x_mask.cpu().reshape(b, lookback, -1)
        z = fill_windows(x, mask, self.node_mean.double().reshape(-1))
        if self.clim is not None:
            targets = self._targets(batch)
            z = z - self._climatology(targets[:, :1] - lookback + torch.arange(lookback))
        out = self._forecast(z, horizon)  # [B, H, K]
        if self.clim is not None:
            out = out + self._climatology(targets)
        return out.reshape(b, horizon, *self.shape).to(batch.x)

    def _fit_series(self, series: np.ndarray, observed: np.ndarray) -> None:
        """Fit on the filled training matrix ``series`` [T, K]; ``observed`` [K] says which
        series had any observed training value."""
        raise NotImplementedError

    def _forecast(self, z: Tensor, horizon: int) -> Tensor:
        """Forecast ``horizon`` steps from filled windows ``z`` [B, L, K] -> [B, H, K]."""
        raise NotImplementedError


class ARIMA(StatisticalBaseline):
    r"""ARIMA(p, d, q) per node and feature (Box & Jenkins, *Time Series Analysis*, 1970):

    $\phi(B)(1 - B)^d (y_t - \mu) = \theta(B)\varepsilon_t$, with $\mu$ a mean for
    ``d = 0`` and no constant for ``d >= 1`` (statsmodels' default trends).

    Each series is fitted by statsmodels (``method``, default ``innovations_mle``: the
    same likelihood as the state-space fit at a fraction of its time; on failure the
    state-space fit, then a random walk / the mean) with stationarity and invertibility
    enforced. A window is forecast with these parameters fixed: difference its ``L``
    steps ``d`` times, run the ARMA innovations recursion from a zero start
    (conditional on the first ``p`` differenced steps), forecast, and undifference. For
    lookbacks long against the MA memory this equals statsmodels' state-space forecast
    (the start-up differs slightly); with ``q = 0`` it is the same forecast exactly.

    Args:
        order: ``(p, d, q)``, the same for all series (no per-series search); default
            ``(2, 1, 0)``: an AR(2) on the differences (traffic, air quality and weather
            series are close to a unit root at these horizons). No MA term by default:
            with short lookbacks (L = 12) the MA start-up is unreliable, and fits with
            ``d = 1`` often put the MA root near -1 (over-differencing), where it never
            dies out; on 24 los-loop nodes (2, 1, 0) gave test MAE 3.89 against 3.93 for
            (1, 1, 0), 4.06 for (2, 0, 0), 4.21 for (2, 0, 1), and 4.05 for last value.
        max_train, deseasonalize: see :class:`StatisticalBaseline`.
        method: statsmodels estimation method.

    Shapes:
        phi: [K, p], theta: [K, q], mu: [K] (K = N * F, node-major)
    """

    name = "arima"

    def __init__(
        self,
        order: tuple[int, int, int] = (2, 1, 0),
        max_train: int = 2000,
        deseasonalize: bool = False,
        method: str = "innovations_mle",
    ) -> None:
        super().__init__(max_train, deseasonalize)
        if len(order) != 3 or min(order) < 0:
            raise ValueError(f"arima: order must be (p, d, q) >= 0, got {order}")
        self.order = tuple(int(o) for o in order)
        self.method = method

    def fit(self, data: SpatioTemporalData, protocol: Protocol) -> ARIMA:
        p, d, _ = self.order
        if protocol.lookback < p + d + 1:
            raise ValueError(
                f"arima: lookback {protocol.lookback} is too short for order {self.order} "
                f"(needs >= p + d + 1 = {p + d + 1})"
            )
        self._sm = _statsmodels_arima()
        super().fit(data, protocol)
        return self

    def _fit_one(self, y: np.ndarray) -> np.ndarray | None:
        """statsmodels parameters ``[const?, ar..., ma..., sigma2]`` of one series."""
        trend = "c" if self.order[1] == 0 else "n"
        for method in dict.fromkeys((self.method, "statespace")):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = self._sm(y, order=self.order, trend=trend)
                    params = np.asarray(model.fit(method=method).params, dtype=np.float64)
                if np.isfinite(params).all():
                    return params
            except (ValueError, np.linalg.LinAlgError):
                continue
        return None

    def _fit_series(self, series: np.ndarray, observed: np.ndarray) -> None:
        p, d, q = self.order
        k = series.shape[1]
        self.phi, self.theta = np.zeros((k, p)), np.zeros((k, q))
        self.mu = series.mean(0) if d == 0 else np.zeros(k)
        self.failed = 0  # observed series whose fit failed (random walk / mean instead)
        for i in np.flatnonzero(observed & (series.std(0) > 0)):
            params = self._fit_one(series[:, i])
            if params is None:
                self.failed += 1
                continue
            c = int(d == 0)
            self.mu[i] = params[0] if c else 0.0
            self.phi[i], self.theta[i] = params[c : c + p], params[c + p : c + p + q]

    def _forecast(self, z: Tensor, horizon: int) -> Tensor:
        p, d, q = self.order
        levels = []  # last value of each differencing level, to undifference
        w = z
        for _ in range(d):
            levels.append(w[:, -1])
            w = w.diff(dim=1)
        mu = torch.from_numpy(self.mu)
        phi, theta = torch.from_numpy(self.phi), torch.from_numpy(self.theta)
        n_obs = w.shape[1]
        w = torch.cat([w - mu, w.new_zeros(w.shape[0], horizon, w.shape[2])], 1)
        e = torch.zeros_like(w)  # innovations; zero before step p and over the horizon
        for t in range(p, n_obs + horizon):
            pred = sum((phi[:, i] * w[:, t - 1 - i] for i in range(p)), w.new_zeros(()))
            pred = pred + sum((theta[:, j] * e[:, t - 1 - j] for j in range(min(q, t))), 0.0)
            if t < n_obs:
                e[:, t] = w[:, t] - pred
            else:
                w[:, t] = pred
        out = w[:, n_obs:] + mu
        for last in reversed(levels):
            out = last.unsqueeze(1) + out.cumsum(1)
        return out


class VAR(StatisticalBaseline):
    r"""VAR(p) over all nodes and features jointly (Lütkepohl, *New Introduction to
    Multiple Time Series Analysis*, 2005): $y_t = c + \sum_{i=1}^p A_i y_{t-i} + \varepsilon_t$.

    Fitted by ridge least squares on the per-series standardised training matrix (the
    penalty on the ``A_i``, not on ``c``), shrinking towards ``prior``: ``"random_walk"``
    ($A_1 = I$, the rest 0: a Minnesota-style prior, Litterman 1986, the right default for
    persistent series such as traffic speeds) or ``"zero"`` (all ``A_i = 0``: towards the
    training mean). With ``K = N * F`` series a VAR(p) has ``K^2 p`` coefficients, often
    more than the training steps (los-loop: K = 207, 1411 steps), so it is always
    regularised: ``ridge=None`` picks the penalty from
    ``{1e-4, ..., 10} x`` the mean eigenvalue of the Gram matrix by one-step error on the
    last 20% of the training steps (fitted on the first 80%), then refits on all of them.
    Above ``max_regressors = K p`` it refuses (the ``Kp x Kp`` solve gets too large).
    Windows are forecast recursively from their last ``p`` steps.

    Args:
        p: lag order; default 1: each lag adds ``K^2`` coefficients, and on los-loop p = 2
            forecasts worse than p = 1 (test MAE 4.18 vs 4.12).
        ridge: penalty relative to the mean Gram eigenvalue; ``None`` = chosen as above.
        prior: what the ridge shrinks towards, ``"random_walk"`` or ``"zero"``.
        max_regressors: largest ``K p`` accepted.
        max_train, deseasonalize: see :class:`StatisticalBaseline`.

    Shapes:
        coefs: [p, K, K] (``A_i`` in data units), intercept: [K]
    """

    name = "var"
    RIDGE_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)

    def __init__(
        self,
        p: int = 1,
        ridge: float | None = None,
        prior: str = "random_walk",
        max_regressors: int = 4096,
        max_train: int = 2000,
        deseasonalize: bool = False,
    ) -> None:
        super().__init__(max_train, deseasonalize)
        if p < 1:
            raise ValueError(f"var: p must be >= 1, got {p}")
        if prior not in ("random_walk", "zero"):
            raise ValueError(f"var: prior must be 'random_walk' or 'zero', got {prior!r}")
        self.p, self.ridge, self.max_regressors = int(p), ridge, int(max_regressors)
        self.prior = prior

    def fit(self, data: SpatioTemporalData, protocol: Protocol) -> VAR:
        k = data.num_nodes * data.values.shape[-1]
        if k * self.p > self.max_regressors:
            raise ValueError(
                f"var: {k} series x p={self.p} = {k * self.p} regressors per equation exceed "
                f"max_regressors={self.max_regressors}; lower p or raise max_regressors"
            )
        if protocol.lookback < self.p:
            raise ValueError(f"var: lookback {protocol.lookback} < p = {self.p}")
        super().fit(data, protocol)
        return self

    def _lagged(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Regressors ``[z_{t-1}, ..., z_{t-p}]`` [T - p, K p] and targets ``z_t`` [T - p, K]."""
        n = len(z) - self.p
        lags = [z[self.p - i : self.p - i + n] for i in range(1, self.p + 1)]
        return np.concatenate(lags, 1), z[self.p :]

    @staticmethod
    def _solve(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
        """Ridge coefficients [K p, K] and intercept [K] (centred, intercept unpenalised)."""
        xm, ym = x.mean(0), y.mean(0)
        xc = x - xm
        gram = xc.T @ xc + lam * np.eye(x.shape[1])
        coef = np.linalg.solve(gram, xc.T @ (y - ym))
        return coef, ym - xm @ coef

    def _choose_ridge(self, x: np.ndarray, y: np.ndarray) -> float:
        """Penalty with the lowest one-step MSE on the last 20% of the rows."""
        cut = int(0.8 * len(x))
        if self.ridge is not None or cut < 2 or len(x) - cut < 1:
            return self.ridge if self.ridge is not None else 1.0
        x1, y1 = x[:cut] - x[:cut].mean(0), y[:cut] - y[:cut].mean(0)
        s, v = np.linalg.eigh(x1.T @ x1)
        scale = max(float(s.mean()), 1e-12)
        proj, rhs = (x[cut:] - x[:cut].mean(0)) @ v, v.T @ (x1.T @ y1)
        errors = [
            float((((proj / (s + a * scale)) @ rhs) - (y[cut:] - y[:cut].mean(0))).var(0).mean())
            for a in self.RIDGE_GRID
        ]
        return self.RIDGE_GRID[int(np.argmin(errors))]

    def _fit_series(self, series: np.ndarray, observed: np.ndarray) -> None:
        if len(series) <= self.p + 1:
            raise ValueError(f"var: {len(series)} training steps are too few for p={self.p}")
        self.center, self.scale = series.mean(0), series.std(0)
        self.scale[self.scale == 0] = 1.0
        x, y = self._lagged((series - self.center) / self.scale)
        k = y.shape[1]
        if self.prior == "random_walk":  # fit the deviation from A_1 = I
            y = y - x[:, :k]
        self.alpha = self._choose_ridge(x, y)
        gram_scale = max(float(((x - x.mean(0)) ** 2).sum()) / x.shape[1], 1e-12)
        self._coef, self._intercept = self._solve(x, y, self.alpha * gram_scale)
        if self.prior == "random_walk":
            self._coef[:k] += np.eye(k)

    @property
    def coefs(self) -> np.ndarray:
        """``A_i`` of $y_t = c + \\sum_i A_i y_{t-i}$ in data units, ``[p, K, K]``."""
        k = len(self.scale)
        b = self._coef.reshape(self.p, k, k).transpose(0, 2, 1)  # standardised, column form
        return self.scale[None, :, None] * b / self.scale[None, None, :]

    @property
    def intercept(self) -> np.ndarray:
        """``c`` in data units, ``[K]``."""
        return self.center + self.scale * self._intercept - self.coefs.sum(0) @ self.center

    def _forecast(self, z: Tensor, horizon: int) -> Tensor:
        center, scale = torch.from_numpy(self.center), torch.from_numpy(self.scale)
        coef, c = torch.from_numpy(self._coef), torch.from_numpy(self._intercept)
        hist = list(((z[:, -self.p :] - center) / scale).unbind(1))  # oldest .. newest
        out = []
        for _ in range(horizon):
            lags = torch.cat(hist[::-1][: self.p], 1)  # [B, K p]: z_{t-1}, ..., z_{t-p}
            hist.append(c + lags @ coef)
            out.append(hist[-1])
        return torch.stack(out, 1) * scale + center


STATISTICAL: dict[str, type[StatisticalBaseline]] = {b.name: b for b in (ARIMA, VAR)}
