#!/usr/bin/env python3
"""Writes Tests/SeqModelsTests/Fixtures/optimizers/optimizers.json from PyTorch.

The fixture pins SeqModels' optimizers, gradient clipping and learning-rate
schedules to torch's own numbers:
  - trajectories: two float32 parameters ("a.weight" [3, 4], "b.bias" [5]) updated for
    `steps` steps with fixed gradients, for several SGD / Adam / AdamW / RMSprop settings;
    the parameter values after every step are recorded.
  - clipping: torch.nn.utils.clip_grad_norm_ on three gradients, clipped and not.
  - schedules: learning rates from StepLR, CosineAnnealingLR and ReduceLROnPlateau stepped once per epoch
    (ReduceLROnPlateau with a given metric sequence).

Usage: python3 Tools/make_optimizer_fixtures.py   (from the repository root)
"""
import json
import os

import torch

STEPS = 6
OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "SeqModelsTests", "Fixtures", "optimizers", "optimizers.json")


def floats(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def trajectories():
    g = torch.Generator().manual_seed(1234)
    init = {"a.weight": torch.randn(3, 4, generator=g), "b.bias": torch.randn(5, generator=g)}
    grads = [{k: torch.randn(v.shape, generator=g) * 0.5 for k, v in init.items()} for _ in range(STEPS)]
    # one exactly-zero gradient entry exercises the epsilon paths
    for step in grads:
        step["b.bias"][0] = 0.0
    configs = [
        ("sgd", {"lr": 0.1}),
        ("sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1}),
        ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
        ("sgd", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1}),
        ("adam", {"lr": 0.01}),
        ("adam", {"lr": 0.01, "weight_decay": 0.1}),
        ("adam", {"lr": 0.02, "betas": [0.5, 0.9], "eps": 1e-6}),
        ("adamw", {"lr": 0.01, "weight_decay": 0.05}),
        ("rmsprop", {"lr": 0.01}),
        ("rmsprop", {"lr": 0.01, "centered": True}),
        ("rmsprop", {"lr": 0.005, "alpha": 0.9, "momentum": 0.9, "centered": True, "weight_decay": 0.01}),
        ("rmsprop", {"lr": 0.01, "momentum": 0.5}),
    ]
    classes = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop}
    out = []
    for kind, options in configs:
        params = {k: torch.nn.Parameter(v.clone()) for k, v in init.items()}
        kwargs = dict(options)
        if "betas" in kwargs:
            kwargs["betas"] = tuple(kwargs["betas"])
        opt = classes[kind](list(params.values()), **kwargs)
        history = []
        for step in grads:
            for k, p in params.items():
                p.grad = step[k].clone()
            opt.step()
            history.append({k: floats(p) for k, p in params.items()})
        out.append({"optimizer": kind, "options": options, "parameters": history})
    return {
        "initial": {k: floats(v) for k, v in init.items()},
        "shapes": {k: list(v.shape) for k, v in init.items()},
        "gradients": [{k: floats(v) for k, v in step.items()} for step in grads],
        "runs": out,
    }


def clipping():
    g = torch.Generator().manual_seed(99)
    grads = [torch.randn(4, 3, generator=g), torch.randn(7, generator=g) * 2, torch.randn(2, 2, generator=g)]
    cases = []
    for max_norm in [1.0, 2.5, 100.0]:
        params = [torch.nn.Parameter(torch.zeros_like(x)) for x in grads]
        for p, x in zip(params, grads):
            p.grad = x.clone()
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        cases.append({"maxNorm": max_norm, "norm": float(norm), "clipped": [floats(p.grad) for p in params]})
    return {"gradients": [floats(x) for x in grads], "shapes": [list(x.shape) for x in grads], "cases": cases}


def schedules():
    out = {}
    def epoch_rates(make_scheduler, epochs):
        """The rate of each epoch, from 0 to `epochs`, of a scheduler stepped once per epoch at 0.1."""
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        sched = make_scheduler(opt)
        rates = [opt.param_groups[0]["lr"]]
        for _ in range(epochs):
            opt.step()
            sched.step()
            rates.append(opt.param_groups[0]["lr"])
        return rates

    out["stepLR"] = {"initial": 0.1, "stepSize": 3, "gamma": 0.5,
                     "rates": epoch_rates(lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5), 10)}
    # CosineAnnealingLR over T_max epochs, read up to T_max (SeqModels holds the minimum after it).
    out["cosine"] = {"initial": 0.1, "epochs": 7, "minimum": 0.002, "rates": epoch_rates(
        lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=0.002), 7)}

    losses = [1.0, 0.9, 0.95, 0.91, 0.92, 0.9, 0.89995, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9, 0.91,
              0.84, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9, 0.91, 0.92, 0.93]
    accuracies = [0.5, 0.6, 0.65, 0.66, 0.655, 0.66, 0.661, 0.7, 0.69, 0.69, 0.7, 0.71, 0.705, 0.7,
                  0.72, 0.71, 0.7, 0.69, 0.68, 0.7]
    cases = [
        {"initial": 0.1, "mode": "min", "factor": 0.5, "patience": 2, "threshold": 1e-4, "thresholdMode": "rel",
         "cooldown": 1, "minLR": 0.01, "metrics": losses},
        {"initial": 0.1, "mode": "min", "factor": 0.1, "patience": 0, "threshold": 0.02, "thresholdMode": "abs",
         "cooldown": 0, "minLR": 0.0, "metrics": losses},
        {"initial": 0.05, "mode": "max", "factor": 0.3, "patience": 1, "threshold": 0.01, "thresholdMode": "abs",
         "cooldown": 2, "minLR": 1e-3, "metrics": accuracies},
        {"initial": 0.05, "mode": "max", "factor": 0.5, "patience": 1, "threshold": 1e-2, "thresholdMode": "rel",
         "cooldown": 0, "minLR": 0.0, "metrics": accuracies},
    ]
    for case in cases:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=case["initial"])
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode=case["mode"], factor=case["factor"], patience=case["patience"], threshold=case["threshold"],
            threshold_mode=case["thresholdMode"], cooldown=case["cooldown"], min_lr=case["minLR"])
        rates = []
        for m in case["metrics"]:
            sched.step(m)
            rates.append(opt.param_groups[0]["lr"])
        case["rates"] = rates
    out["plateau"] = cases
    return out


def main():
    data = {"torch": torch.__version__, "trajectories": trajectories(), "clipping": clipping(), "schedules": schedules()}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
