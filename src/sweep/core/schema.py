"""The config schemas: every group option in `conf/` starts from one of these dataclasses, so
a value of the wrong type or an unknown key fails while Hydra composes, before any check of
ours runs (ranges: `sweep.core.config`). The composed config then becomes these objects once
(`OmegaConf.to_object`, at the top) and travels down typed: an option's class says which
option it is (`option_of`), whatever the YAML file that chose it is called."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING, OmegaConf


@dataclass
class ThermometerDataConfig:
    pass


@dataclass
class CsvDataConfig:
    path: str = MISSING
    x: str = "t_u"
    y: str = "t_c"


@dataclass
class NoNormalizationConfig:
    pass


@dataclass
class ScaleNormalizationConfig:
    factor: float = 0.1


@dataclass
class StandardNormalizationConfig:
    pass


@dataclass
class MinmaxNormalizationConfig:
    pass


@dataclass
class GDConfig:
    lr: float = 1e-2


@dataclass
class SGDConfig:
    lr: float = 1e-2
    momentum: float = 0.0


@dataclass
class AdamConfig:
    lr: float = 1e-1
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8


@dataclass
class TrainConfig:
    epochs: int = 5000
    init_params: list[float] = field(default_factory=lambda: [1.0, 0.0])
    seed: int = 0
    val_fraction: float = 0.0


@dataclass
class TrackingConfig:
    uri: str = "sqlite:///mlflow.db"
    experiment: str = "sweep"
    retry_seconds: float = 120.0  # a server silent this long: the sweep's logging is spooled
    spool_dir: str = ".sweep/spool"
    registered_model: str = ""  # the best trial's model, registered under this name
    run_chart: bool = False  # each trial's loss_curve.png (MLflow charts `loss` itself)


@dataclass
class PrunerConfig:
    kind: Any = "none"  # a name in study.samplers.PRUNERS, or a `_target_` mapping
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    min_resource: int = 100
    reduction_factor: int = 3


@dataclass
class SweepConfig:
    space: dict[str, Any] = field(default_factory=dict)
    sampler: Any = "tpe"  # a name in study.samplers.SAMPLERS, or a `_target_` mapping
    pruner: PrunerConfig = field(default_factory=PrunerConfig)
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
class NoLauncherConfig:
    """This process is the one worker."""


@dataclass
class LocalLauncherConfig:
    workers: int = 2  # worker processes on this machine, started and waited for


@dataclass
class SlurmLauncherConfig:
    """One SLURM job array of worker jobs, submitted through submitit; the settings are
    sbatch's (`time` in minutes, `mem_gb` in GB), None leaves the cluster's default."""

    workers: int = 2
    partition: str | None = None
    time: int = 60
    cpus_per_task: int = 1
    mem_gb: float | None = None
    gpus_per_node: int | None = None
    account: str | None = None
    qos: str | None = None
    array_parallelism: int | None = None  # at most this many jobs of the array run at once
    additional_parameters: dict[str, Any] = field(default_factory=dict)  # any other sbatch flag
    folder: str = ".sweep/slurm/%j"  # submitit's job files and the jobs' logs (%j: the job id)
    wait: bool = True  # follow the jobs until the study is done; false: submit and exit
    poll_seconds: float = 5.0  # how often the waiting submitter reads the study and squeue


@dataclass
class RootConfig:
    name: str = "sweep"
    data: Any = MISSING
    normalization: Any = MISSING
    optimizer: Any = MISSING
    train: TrainConfig = MISSING
    tracking: TrackingConfig = MISSING
    sweep: SweepConfig = MISSING
    launcher: Any = MISSING


# How workers are launched: not a trial's setting, so not a group a sweep varies.
LAUNCHERS: dict[str, type] = {
    "none": NoLauncherConfig,
    "local": LocalLauncherConfig,
    "slurm": SlurmLauncherConfig,
}

SCHEMAS: dict[str, dict[str, type]] = {
    "data": {"thermometer": ThermometerDataConfig, "csv": CsvDataConfig},
    "normalization": {
        "none": NoNormalizationConfig,
        "scale": ScaleNormalizationConfig,
        "standard": StandardNormalizationConfig,
        "minmax": MinmaxNormalizationConfig,
    },
    "optimizer": {"gd": GDConfig, "sgd": SGDConfig, "adam": AdamConfig},
}


def make_option(group: str, option: str, **settings: Any) -> Any:
    """The typed config of `option` in `group`: its schema's defaults, then `settings`."""
    return SCHEMAS[group][option](**settings)


def option_of(node: Any) -> str:
    """The option (`scale`, `adam`, ...) a group's typed config is an instance of."""
    for options in SCHEMAS.values():
        for option, schema in options.items():
            if type(node) is schema:
                return option
    raise TypeError(f"{type(node).__name__} is no option of a config group")


def register() -> None:
    """Put the schemas where the YAML files' defaults lists look for them."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="schema", node=RootConfig)
    for group, options in SCHEMAS.items():
        for option, node in options.items():
            cs.store(group=f"schema/{group}", name=option, node=node)
    for option, node in LAUNCHERS.items():
        cs.store(group="schema/launcher", name=option, node=node)
    for group, node in (("train", TrainConfig), ("tracking", TrackingConfig)):
        cs.store(group="schema", name=group, node=node)
    # A sweep's space takes any dotted key (checked by space.parse, with a better message
    # than "key not in struct"), also when added on the command line: `sweep.space={...}`.
    sweep = OmegaConf.structured(SweepConfig)
    OmegaConf.set_struct(sweep.space, False)
    cs.store(group="schema", name="sweep", node=sweep)
