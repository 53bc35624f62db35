"""How far the vectorized sgd/adam updates are from torch.optim's, on the lecture's run.

PyTorch's optimizers take one learning rate per parameter group, so `sweep` re-implements
their update for K rows with one learning rate each; this prints the largest relative
difference in the 5000 per-epoch losses and whether the final params are identical.

    python scripts/optimizer_gap.py
"""

from __future__ import annotations

import torch

from sweep.core.schema import make_option
from sweep.train.data import load, split
from sweep.train.lecture import loss_fn, model
from sweep.train.normalize import fit
from sweep.train.trainer import RunSpec, train

DATA = split(load(make_option("data", "thermometer")), 0.0, 0)
EPOCHS = 5000
CASES = [
    ("sgd", {"lr": 1e-2, "momentum": 0.9}, lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9)),
    ("sgd", {"lr": 1e-2, "momentum": 0.0}, lambda p: torch.optim.SGD(p, lr=1e-2)),
    ("adam", {"lr": 1e-1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
     lambda p: torch.optim.Adam(p, lr=1e-1)),
]  # fmt: skip


def with_torch_optim(make) -> tuple[list[float], list[float]]:
    params = torch.tensor([1.0, 0.0], requires_grad=True)
    optimizer = make([params])
    t_un = 0.1 * DATA.train.t_u
    losses = []
    for _ in range(EPOCHS):
        loss = loss_fn(model(t_un, *params), DATA.train.t_c)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses, params.tolist()


def main() -> None:
    for kind, hparams, make in CASES:
        expected, params = with_torch_optim(make)
        spec = RunSpec(
            fit(make_option("normalization", "scale"), DATA.train.t_u),
            tuple(sorted(hparams.items())),
            EPOCHS,
        )
        [ours] = train([spec], kind, DATA)
        worst = max(abs(a - b) / abs(b) for a, b in zip(ours.losses, expected, strict=True))
        same = sum(a == b for a, b in zip(ours.losses, expected, strict=True))
        print(f"{kind} {hparams}: max relative loss difference {worst:.2e}, "
              f"{same}/{EPOCHS} epochs identical, final params identical: "
              f"{[ours.w, ours.b] == params}")  # fmt: skip


if __name__ == "__main__":
    main()
