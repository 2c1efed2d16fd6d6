"""What the hand-written training steps (``lenet_triton``, ``lenet_cpu``) accept as their
optimizer: the note's, SGD with momentum and nothing else, over exactly the Net's
parameters — the only update they are written to do."""

from __future__ import annotations

import torch


def hyperparameters(net: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[float, float]:
    """(lr, momentum) of ``optimizer``; a ValueError naming what is expected where it is
    not plain SGD with momentum over ``net``'s parameters in one group."""
    group = optimizer.param_groups[0] if len(optimizer.param_groups) == 1 else {}
    plain = (
        isinstance(optimizer, torch.optim.SGD)
        and group.get("dampening") == 0
        and not group.get("nesterov")
        and group.get("weight_decay") == 0
        and not group.get("maximize")
    )
    if not plain or [id(p) for p in group["params"]] != [id(p) for p in net.parameters()]:
        raise ValueError(
            "FusedStep: expected SGD(lr, momentum) over the Net's parameters, one group, "
            f"no dampening, nesterov, weight decay or maximize; got {optimizer!r}"
        )
    return group["lr"], group["momentum"]
