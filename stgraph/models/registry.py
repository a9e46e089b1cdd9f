"""Model registry: models register by name with a decorator; the CLI and tests loop over it."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from torch import nn

from stgraph._registry import Registry
from stgraph.models.common import DistributionalOutput, OutputHead


@dataclass(frozen=True)
class ModelSpec:
    """Structural facts a model needs about the data (never training hyper-parameters).

    Args:
        in_channels: value features ``F`` of the input.
        out_channels: forecast features ``F_out``.
        lookback: input steps ``L``.
        horizon: forecast steps ``H``.
        num_nodes: ``N`` (for node embeddings / adaptive adjacency).
        num_covariates: covariate channels ``C`` (the first two are time of day, day of week).
        steps_per_day: time-of-day slots.
        head: the output distribution (:class:`~stgraph.models.common.OutputHead`; a
            ``{"kind", "levels"}`` mapping is read as one). A distributional head builds the
            model with ``out_channels * K`` channels inside a
            :class:`~stgraph.models.common.DistributionalOutput`.
    """

    in_channels: int
    out_channels: int
    lookback: int
    horizon: int
    num_nodes: int
    num_covariates: int = 2
    steps_per_day: int = 288
    head: OutputHead = field(default_factory=OutputHead)

    def __post_init__(self) -> None:
        object.__setattr__(self, "head", OutputHead.from_dict(self.head))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Capabilities:
    """What a model does with its inputs; declared as a class attribute ``capabilities``
    (the defaults describe a model that convolves over the given weighted graph).

    Args:
        uses_graph: the output depends on the given edges (``False`` for models that learn
            their own graph only, e.g. AGCRN).
        uses_edge_weights: edge weights change the output (not only which edges exist).
        time_varying_edges: accepts a different graph per window (series with temporal
            edges); ``False`` for models that precompute operators of one static graph.
        adaptive_graph: learns an adjacency from node embeddings (tied to the training nodes).
        grid_only: needs nodes on a lattice (a grid CNN).
        uses_covariates: reads the calendar / exogenous covariates.
        whole_graph: why the model needs all nodes at once (per-node parameters, operations
            over every node), which rules out node-subgraph batching; empty when its output
            at a node depends only on a neighbourhood, so it runs on any induced subgraph.
    """

    uses_graph: bool = True
    uses_edge_weights: bool = True
    time_varying_edges: bool = True
    adaptive_graph: bool = False
    grid_only: bool = False
    uses_covariates: bool = True
    whole_graph: str = ""

    def node_batching_refusal(self) -> str:
        """Why the model cannot train on node subgraphs (``""`` when it can); an adaptive
        graph or a grid model needs all nodes even without saying so in ``whole_graph``."""
        if self.whole_graph:
            return self.whole_graph
        if self.adaptive_graph:
            return "it learns an adjacency over all N training nodes (node embeddings)"
        if self.grid_only:
            return "it convolves over the whole grid with per-cell weights"
        return ""

    @property
    def supports_node_batching(self) -> bool:
        """Whether node-subgraph batching applies (see :meth:`node_batching_refusal`)."""
        return not self.node_batching_refusal()

    def flags(self) -> list[str]:
        """Short labels of the notable capabilities, for listings."""
        labels = {
            "adaptive_graph": "learns its graph",
            "grid_only": "grid only",
        }
        out = [text for key, text in labels.items() if getattr(self, key)]
        if not self.uses_graph:
            out.append("ignores the given graph")
        if not self.time_varying_edges:
            out.append("static graph only")
        return out


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its name, one-line description, builder and capabilities."""

    name: str
    description: str
    build: Callable[..., nn.Module]
    cls: type[nn.Module]

    @property
    def capabilities(self) -> Capabilities:
        """The class's declared :class:`Capabilities` (defaults when it declares none)."""
        caps = getattr(self.cls, "capabilities", Capabilities())
        return caps if isinstance(caps, Capabilities) else Capabilities()


def check_pairing(name: str, *, temporal_edges: bool, lattice: bool) -> None:
    """Refuse data a model cannot use.

    Args:
        name: registered model name.
        temporal_edges: the series has a different graph per time step.
        lattice: the nodes are cells of a regular grid.

    Raises:
        ValueError: naming the model, the capability and what the data has.
    """
    caps = get_model(name).capabilities
    if temporal_edges and not caps.time_varying_edges:
        raise ValueError(
            f"model {name!r} works on one static graph, but the data has time-varying edges"
        )
    if caps.grid_only and not lattice:
        raise ValueError(f"model {name!r} needs nodes on a grid (a lattice graph)")


_MODELS: Registry[ModelEntry] = Registry("model")
M = TypeVar("M", bound=type[nn.Module])


def spec_kwargs(cls: type[nn.Module], spec: ModelSpec) -> dict[str, Any]:
    """The :class:`ModelSpec` fields that ``cls.__init__`` takes, by parameter name (so a
    model declares what it needs simply by naming it, e.g. ``num_nodes``)."""
    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in spec.to_dict().items() if k in params}


def register_model(name: str, description: str) -> Callable[[M], M]:
    """Class decorator registering a model under ``name``. The model is built as
    ``cls(**spec_kwargs(cls, spec), **hparams)`` unless the class defines its own
    ``from_spec(spec, **hparams)``."""

    def deco(cls: M) -> M:
        custom = getattr(cls, "from_spec", None)

        def build(spec: ModelSpec, **hparams: Any) -> nn.Module:
            if custom is not None:
                return custom(spec, **hparams)
            overlap = set(hparams) & set(spec_kwargs(cls, spec))
            if overlap:
                raise ValueError(f"{name}: {sorted(overlap)} come from the data, not hparams")
            return cls(**spec_kwargs(cls, spec), **hparams)

        _MODELS.add(name, ModelEntry(name, description, build, cls))
        return cls

    return deco


def hyperparameters(name: str) -> dict[str, Any]:
    """Hyper-parameters of model ``name`` with their defaults, in constructor order: every
    constructor argument that is not a :class:`ModelSpec` field (those come from the data).

    Example: ``hyperparameters("dcrnn") == {"hidden": 64, "layers": 2, "k": 2}``.
    """
    entry = get_model(name)
    spec_fields = {f.name for f in dataclasses.fields(ModelSpec)}
    params = inspect.signature(entry.cls.__init__).parameters
    return {
        k: (None if p.default is inspect.Parameter.empty else p.default)
        for k, p in params.items()
        if k != "self" and k not in spec_fields and p.kind is not p.VAR_KEYWORD
    }


def _expected_type(default: Any) -> tuple[type, ...] | None:
    """Types a value may take to replace ``default`` (ints are accepted for floats)."""
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, int):
        return (int,)
    if isinstance(default, float):
        return (int, float)
    if isinstance(default, str):
        return (str,)
    return None  # None or other defaults: any value, checked by the constructor


def check_hparams(name: str, hparams: dict[str, Any]) -> None:
    """Refuse unknown hyper-parameter names and values of the wrong type for model ``name``.

    Raises:
        ValueError: naming the key, the value, what was expected and the valid keys with
            their defaults.
    """
    known = hyperparameters(name)
    valid = ", ".join(f"{k}={v!r}" for k, v in known.items()) or "none"
    spec_fields = {f.name for f in dataclasses.fields(ModelSpec)}
    for key, value in hparams.items():
        if key in spec_fields:
            raise ValueError(f"model {name!r}: {key!r} comes from the data, not a hyper-parameter")
        if key not in known:
            raise ValueError(
                f"model {name!r} has no hyper-parameter {key!r}; valid (default): {valid}"
            )
        types = _expected_type(known[key])
        bad_bool = isinstance(value, bool) and types is not None and bool not in types
        if types is not None and (not isinstance(value, types) or bad_bool):
            raise ValueError(
                f"model {name!r}: hyper-parameter {key}={value!r} should be "
                f"{' or '.join(t.__name__ for t in types)} (default {known[key]!r})"
            )


def list_models() -> list[ModelEntry]:
    """All registered models, sorted by name."""
    return _MODELS.entries()


def get_model(name: str) -> ModelEntry:
    """Registry entry by name; ``KeyError`` lists the known names."""
    return _MODELS.get(name)


def build_model(name: str, spec: ModelSpec, **hparams: Any) -> nn.Module:
    """Instantiate a registered model for ``spec`` with optional hyper-parameter overrides;
    with a distributional ``spec.head``, the model of ``F * K`` outputs wrapped in a
    :class:`~stgraph.models.common.DistributionalOutput` (output ``[B, H, N, F, K]``)."""
    head = spec.head
    if not head.probabilistic:
        return get_model(name).build(spec, **hparams)
    wide = dataclasses.replace(spec, out_channels=spec.out_channels * head.width, head=OutputHead())
    return DistributionalOutput(get_model(name).build(wide, **hparams), spec.out_channels, head)
