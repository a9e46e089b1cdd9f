"""Run settings: :class:`TrainConfig` and :class:`RunConfig`, the one typed object that
describes a run (dataset, model + hyper-parameters, protocol, training, seed).

A run is configured once — from library arguments, CLI flags or a TOML/JSON file with the
fields of ``config.json`` — validated completely before anything is written, saved as the run
directory's ``config.json`` and read back by ``--resume``, ``evaluate`` and ``forecast``.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from stgraph._atomic import atomic_write_text
from stgraph.data.io.cards import card_protocol
from stgraph.data.protocol import Protocol
from stgraph.engine.nodebatch import NODE_PARTITIONS, node_batching_error
from stgraph.engine.probconfig import head_loss
from stgraph.models import check_hparams, get_model
from stgraph.models.common import OutputHead

SCHEDULES = ("cosine", "step", "constant")
FIT_ON = ("train", "train+val")
LOSS_NAMES = ("mae", "mse", "rmse", "pinball", "gaussian_nll")
MONITORS = ("mae", "rmse")
# Protocol fields that are not settings: identity (from the run), fitted state, fixed text.
_PROTOCOL_NOT_SETTINGS = ("dataset", "seed", "bounds", "scaler_state", "missing_rule", "metrics")
# TrainConfig fields that are not part of the run's identity.
_TRAIN_RUNTIME = ("seed", "progress")


class ConfigError(ValueError):
    """A run setting is invalid; the message names the setting and what was expected."""


@dataclass(frozen=True)
class TrainConfig:
    r"""Training hyper-parameters (the model never sees these).

    Args:
        epochs: maximum number of epochs (>= 1).
        batch_size: windows per step (>= 1).
        lr: peak AdamW learning rate (finite, >= 0).
        weight_decay: AdamW weight decay (finite, >= 0).
        schedule: ``"cosine"`` (to 1 % of ``lr`` at the last epoch), ``"step"`` (x0.1 at
            50 % and 75 % of the epochs) or ``"constant"``.
        warmup_epochs: linear warm-up epochs (>= 0).
        grad_clip: max global gradient norm (finite; ``0`` = off).
        patience: early stopping after this many epochs without a better validation
            ``monitor``.
        monitor: the validation metric (masked, original units) that picks the kept epoch and
            drives early stopping: ``"mae"`` or ``"rmse"`` (pair it with an MSE loss when the
            target is RMSE).
        ema: decay of an exponential moving average of the weights
            (:class:`~stgraph.engine.ema.WeightAverage`) that validation, the kept epoch and
            the saved model use; ``0`` = off, else in ``(0, 1)``, e.g. ``0.999``.
        loss: ``"mae"``, ``"mse"``, ``"rmse"`` (masked, on scaled values), or the loss of a
            distributional head (see :func:`~stgraph.engine.probconfig.head_loss`).
        max_batches: cap on training batches per epoch (``None`` = all, else >= 1).
        time_budget: CPU seconds of training + validation (this process, all its threads:
            the same work whatever else the machine runs; ``None`` = no limit). It is checked
            after every training batch: the epoch that spends it stops there, is validated,
            and no new epoch starts, so a run overshoots by at most one batch and one
            validation pass, even when one epoch alone costs more than the budget. The
            learning-rate schedule runs over the budget, and the best validation epoch is
            kept as always.
        teacher_forcing_decay: :math:`\tau` of scheduled sampling (Bengio et al., NeurIPS
            2015), the curriculum DCRNN trains with: at training step :math:`i` a decoder
            is fed the true previous target with probability
            :math:`\epsilon_i = \tau / (\tau + \exp(i / \tau))`, else its own prediction
            (DCRNN used :math:`\tau = 2000`). ``0`` = off; only for models whose ``forward``
            takes ``targets``.
        node_batch: nodes per training step, each with its halo (``None`` = full graph).
        node_partition: ``"partition"`` (spectral parts, small halos) or ``"random"``.
        halo_hops: halo hops (``None`` = the model's ``receptive_field``, else 2).
        eval_full_graph: with ``node_batch``, evaluate on the full graph, not part by part.
        fit_on: the windows trained on: ``"train"``, or ``"train+val"`` to refit on the
            training and validation splits together for exactly ``epochs`` epochs (usually
            the count a first ``"train"`` run picked); validation is then in-sample, so it is
            only logged: no early stopping, and the last epoch is kept. The scaler stays the
            protocol's (fitted on the training split).
        seed: seed of weights, shuffling, dropout and the node partition.
        progress: show a tqdm bar.
    """

    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: int = 1
    grad_clip: float = 5.0
    patience: int = 8
    monitor: str = "mae"
    ema: float = 0.0
    loss: str = "mae"
    max_batches: int | None = None
    time_budget: float | None = None
    teacher_forcing_decay: float = 0.0
    node_batch: int | None = None
    node_partition: str = "partition"
    halo_hops: int | None = None
    eval_full_graph: bool = False
    fit_on: str = "train"
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field's type and range.

        Raises:
            ConfigError: naming the field, its value and what was expected.
        """
        ints = {"epochs": 1, "batch_size": 1, "warmup_epochs": 0, "patience": 1, "seed": 0}
        for name, low in ints.items():
            _check_int(f"train.{name}", getattr(self, name), low)
        for name, low in (("max_batches", 1), ("node_batch", 1), ("halo_hops", 0)):
            if getattr(self, name) is not None:
                _check_int(f"train.{name}", getattr(self, name), low)
        if self.time_budget is not None and (
            isinstance(self.time_budget, bool)
            or not isinstance(self.time_budget, int | float)
            or not math.isfinite(self.time_budget)
            or self.time_budget <= 0
        ):
            raise ConfigError(
                f"train.time_budget must be a positive number of seconds, got {self.time_budget!r}"
            )
        for name in ("lr", "weight_decay", "grad_clip", "teacher_forcing_decay", "ema"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"train.{name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"train.{name} must be finite and >= 0, got {value!r}")
        if self.ema >= 1:
            raise ConfigError(f"train.ema must be 0 (off) or in (0, 1), got {self.ema!r}")
        choices = {
            "schedule": SCHEDULES,
            "loss": LOSS_NAMES,
            "monitor": MONITORS,
            "node_partition": NODE_PARTITIONS,
            "fit_on": FIT_ON,
        }
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise ConfigError(f"train.{name} {getattr(self, name)!r} is not one of {valid}")

    def teacher_forcing(self, step: int) -> float:
        r"""Probability :math:`\epsilon_i = \tau / (\tau + \exp(i / \tau))` of feeding the
        true target at (0-based) training step ``step``; ``0`` when scheduled sampling is off.
        """
        tau = self.teacher_forcing_decay
        if tau <= 0:
            return 0.0
        z = step / tau
        return tau / (tau + math.exp(z)) if z < 700 else 0.0

    def lr_factor(self, epoch: int, spent: float | None = None) -> float:
        """Multiplier of ``lr`` during (0-based) ``epoch``.

        Args:
            epoch: the epoch about to run.
            spent: with a ``time_budget``, the fraction of it used before this epoch; the
                schedule then runs over the budget instead of over ``epochs``.
        """
        if epoch < self.warmup_epochs:
            return (epoch + 1) / (self.warmup_epochs + 1)
        if self.schedule == "constant":
            return 1.0
        if spent is None:
            span = max(self.epochs - self.warmup_epochs - 1, 1)
            p = min((epoch - self.warmup_epochs) / span, 1.0)
            reached = [epoch >= m * self.epochs for m in (0.5, 0.75)]
        else:
            p = min(max(spent, 0.0), 1.0)
            reached = [p >= m for m in (0.5, 0.75)]
        if self.schedule == "step":
            return 0.1 ** sum(reached)
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * p))


def takes_targets(cls: type[nn.Module]) -> bool:
    """Whether a model class's ``forward`` accepts ``targets`` (scheduled sampling)."""
    return "targets" in inspect.signature(cls.forward).parameters


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ConfigError(f"{name} must be >= {low}, got {value}")


def config_dict(cfg: TrainConfig) -> dict[str, Any]:
    """JSON form of a :class:`TrainConfig` (every field)."""
    return dataclasses.asdict(cfg)


def protocol_settings() -> tuple[str, ...]:
    """Names of the :class:`~stgraph.data.protocol.Protocol` fields a run may set."""
    return tuple(
        f.name for f in dataclasses.fields(Protocol) if f.name not in _PROTOCOL_NOT_SETTINGS
    )


def _train_settings() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name not in _TRAIN_RUNTIME)


def _known(section: str, given: Mapping[str, Any], valid: tuple[str, ...], source: str) -> None:
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ConfigError(
            f"{source}: unknown {section} setting(s) {unknown}; valid: {', '.join(valid)}"
        )


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run, typed, frozen and validated.

    Build it with :meth:`create` (library / CLI) or :meth:`from_dict` / :meth:`from_file`
    (``config.json`` or a ``run.toml`` with the same fields); :meth:`to_dict` is what
    ``config.json`` holds. Two runs with equal configs train identically.

    Args:
        dataset: dataset name (registered, or the name of data passed in memory).
        model: registered model name.
        hparams: model hyper-parameters (checked against the model's constructor).
        protocol: the unfitted :class:`~stgraph.data.protocol.Protocol` (card defaults with
            the run's overrides).
        train: training hyper-parameters.
        seed: seed of the protocol, weights, shuffling and dropout.
        head: the output distribution (:class:`~stgraph.models.common.OutputHead`, or
            its ``{"kind", "levels"}`` mapping): it sets the model's output width.
    """

    dataset: str
    model: str
    hparams: dict[str, Any] = field(default_factory=dict)
    protocol: Protocol | None = None
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    head: OutputHead = field(default_factory=OutputHead)

    def __post_init__(self) -> None:
        for name in ("dataset", "model"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{name} must be a non-empty name, got {value!r}")
        _check_int("seed", self.seed, 0)
        try:
            get_model(self.model)
        except KeyError as e:
            raise ConfigError(e.args[0]) from None
        try:
            check_hparams(self.model, dict(self.hparams))
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if self.train.teacher_forcing_decay > 0 and not takes_targets(get_model(self.model).cls):
            raise ConfigError(
                f"train.teacher_forcing_decay: model {self.model!r} has no decoder to feed "
                "targets to (its forward takes no `targets`); leave it at 0"
            )
        if self.train.node_batch is not None:
            refusal = node_batching_error(self.model, get_model(self.model).cls)
            if refusal:
                raise ConfigError(refusal)
        proto = self.protocol or Protocol(self.dataset)
        proto = dataclasses.replace(proto, dataset=self.dataset, seed=self.seed)
        object.__setattr__(self, "protocol", proto)
        object.__setattr__(self, "hparams", dict(self.hparams))
        train = self.train
        if train.seed != self.seed:
            train = dataclasses.replace(train, seed=self.seed)
        try:
            object.__setattr__(self, "head", OutputHead.from_dict(self.head))
            train = dataclasses.replace(train, loss=head_loss(self.head, train))
        except ValueError as e:
            raise ConfigError(str(e)) from None
        object.__setattr__(self, "train", train)

    @property
    def proto(self) -> Protocol:
        """The (unfitted) protocol, never ``None`` after construction."""
        assert self.protocol is not None
        return self.protocol

    # ------------------------------------------------------------------ building
    @classmethod
    def create(
        cls,
        dataset: str,
        model: str,
        *,
        hparams: Mapping[str, Any] | None = None,
        protocol: Mapping[str, Any] | None = None,
        train: TrainConfig | Mapping[str, Any] | None = None,
        seed: int | None = None,
        head: OutputHead | Mapping[str, Any] | None = None,
    ) -> RunConfig:
        """Config from the dataset card's default protocol and the given overrides
        (``None`` values in ``protocol`` / ``train`` mappings are ignored).

        Args:
            dataset: dataset name.
            model: model name.
            hparams: model hyper-parameters.
            protocol: protocol settings, e.g. ``{"lookback": 24, "scaler": "minmax"}``.
            train: a :class:`TrainConfig`, or overrides of its defaults.
            seed: run seed (default: ``train.seed`` of a given TrainConfig, else 0).
            head: the output distribution (default: a point forecast).
        """
        kw: dict[str, Any] = dict(card_protocol(dataset))
        given = {k: v for k, v in (protocol or {}).items() if v is not None}
        _known("protocol", given, protocol_settings(), "protocol")
        kw.update(given)
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()}
        try:
            proto = Protocol(dataset=dataset, **kw)
        except TypeError as e:
            raise ConfigError(f"protocol: {e}") from None
        if isinstance(train, TrainConfig):
            tc = train
        else:
            overrides = {k: v for k, v in (train or {}).items() if v is not None}
            valid = tuple(f.name for f in dataclasses.fields(TrainConfig))
            _known("train", overrides, valid, "train")
            tc = TrainConfig(**overrides)
        run_seed = tc.seed if seed is None else seed
        return cls(dataset, model, dict(hparams or {}), proto, tc, run_seed, head)  # type: ignore[arg-type]

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with fields replaced (validated again)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ (de)serialising
    def to_dict(self) -> dict[str, Any]:
        """JSON/TOML form: ``dataset, model, seed, hparams, protocol, train`` (+ ``head`` when
        distributional): the fields ``config.json`` holds and ``--config`` reads."""
        pd = self.proto.to_dict()
        td = config_dict(self.train)
        head = {"head": self.head.to_dict()} if self.head.probabilistic else {}
        return {
            "dataset": self.dataset,
            "model": self.model,
            "seed": self.seed,
            "hparams": dict(self.hparams),
            "protocol": {k: pd[k] for k in protocol_settings()},
            "train": {k: td[k] for k in _train_settings()},
            **head,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "config") -> RunConfig:
        """Inverse of :meth:`to_dict`. Sections may be partial (defaults fill the rest:
        the dataset card's protocol, :class:`TrainConfig`'s defaults).

        Raises:
            ConfigError: unknown or missing keys and invalid values, naming ``source``.
        """
        top = ("dataset", "model", "seed", "hparams", "protocol", "train", "head")
        _known("top-level", d, top, source)
        missing = [k for k in ("dataset", "model") if k not in d]
        if missing:
            raise ConfigError(f"{source}: missing {missing}")
        sections = {}
        for key in ("hparams", "protocol", "train"):
            value = d.get(key) or {}
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: {key} must be a table of settings, got {value!r}")
            sections[key] = dict(value)
        _known("protocol", sections["protocol"], protocol_settings(), source)
        _known("train", sections["train"], _train_settings(), source)
        try:
            return cls.create(
                d["dataset"],
                d["model"],
                hparams=sections["hparams"],
                protocol=sections["protocol"],
                train=sections["train"],
                seed=d.get("seed", 0),
                head=d.get("head"),
            )
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> RunConfig:
        """Read a ``.toml`` or ``.json`` file with the fields of :meth:`to_dict`."""
        from stgraph.engine.settings import read_settings  # it raises this module's errors

        return cls.from_dict(read_settings(path), source=str(path))

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON (atomically)."""
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")

    def differences(self, other: RunConfig) -> list[str]:
        """Human-readable ``"section.key: mine (other: theirs)"`` for every differing
        setting (``[]`` when the two configs describe the same run)."""
        a, b = _flatten(self.to_dict()), _flatten(other.to_dict())
        keys = sorted(set(a) | set(b))
        return [
            f"{k}: {a.get(k)!r} (saved run: {b.get(k)!r})" for k in keys if a.get(k) != b.get(k)
        ]


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = list(v) if isinstance(v, tuple) else v
    return out
