"""The config schemas: every group option in `conf/` starts from one of these dataclasses, so
a value of the wrong type or an unknown key fails while Hydra composes, before any check of
ours runs (ranges: `sweep.config`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf


@dataclass
class ThermometerData:
    pass


@dataclass
class CsvData:
    path: str = MISSING
    x: str = "t_u"
    y: str = "t_c"


@dataclass
class NoNormalization:
    pass


@dataclass
class ScaleNormalization:
    factor: float = 0.1


@dataclass
class GD:
    lr: float = 1e-2


@dataclass
class SGD:
    lr: float = 1e-2
    momentum: float = 0.0


@dataclass
class Adam:
    lr: float = 1e-1
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8


@dataclass
class Train:
    epochs: int = 5000
    init_params: list[float] = field(default_factory=lambda: [1.0, 0.0])
    seed: int = 0
    val_fraction: float = 0.0


@dataclass
class Tracking:
    uri: str = "sqlite:///mlflow.db"
    experiment: str = "sweep"
    retry_seconds: float = 120.0  # a server silent this long: the sweep's logging is spooled
    spool_dir: str = ".sweep/spool"
    registered_model: str = ""  # the best trial's model, registered under this name


@dataclass
class Pruner:
    kind: str = "none"
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    min_resource: int = 100
    reduction_factor: int = 3


@dataclass
class Sweep:
    space: dict[str, Any] = field(default_factory=dict)
    sampler: str = "tpe"
    pruner: Pruner = field(default_factory=Pruner)
    n_trials: int | None = None
    batch_size: int = 64
    report_every: int = 500
    storage: str = "${oc.env:SWEEP_STORAGE,sqlite:///optuna.db}"
    study_name: str = "${name}"
    seed: int = 0
    heartbeat_interval: int = 5
    grace_period: int = 20
    max_retries: int = 3
    metric: str = "loss"  # the objective: the final training loss, or val_loss


@dataclass
class Root:
    name: str = "sweep"
    data: Any = MISSING
    normalization: Any = MISSING
    optimizer: Any = MISSING
    train: Train = MISSING
    tracking: Tracking = MISSING
    sweep: Sweep = MISSING


SCHEMAS: dict[str, dict[str, type]] = {
    "data": {"thermometer": ThermometerData, "csv": CsvData},
    "normalization": {
        "none": NoNormalization,
        "scale": ScaleNormalization,
        "standard": NoNormalization,
        "minmax": NoNormalization,
    },
    "optimizer": {"gd": GD, "sgd": SGD, "adam": Adam},
}


def register() -> None:
    """Put the schemas where the YAML files' defaults lists look for them."""
    cs = ConfigStore.instance()
    cs.store(name="schema", node=Root)
    for group, options in SCHEMAS.items():
        for option, node in options.items():
            cs.store(group=f"schema/{group}", name=option, node=node)
    for group, node in (("train", Train), ("tracking", Tracking)):
        cs.store(group="schema", name=group, node=node)
    # A sweep's space takes any dotted key (checked by space.parse, with a better message
    # than "key not in struct"), also when added on the command line: `sweep.space={...}`.
    sweep = OmegaConf.structured(Sweep)
    OmegaConf.set_struct(sweep.space, False)
    cs.store(group="schema", name="sweep", node=sweep)
