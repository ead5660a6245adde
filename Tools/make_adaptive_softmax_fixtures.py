#!/usr/bin/env python3
"""Reference values for SeqModels' AdaptiveLogSoftmax (Sources/SeqModels/Layers/AdaptiveLogSoftmax.swift)
from PyTorch's nn.AdaptiveLogSoftmaxWithLoss, written to
Tests/SeqModelsTests/Fixtures/adaptive_softmax/adaptive_softmax.json: the module's state dict,
an input batch with targets in every cluster, the loss, the gradients of the input and of every
parameter, and log_prob of every class.

    python3 Tools/make_adaptive_softmax_fixtures.py      # needs torch
"""
import json
import os

import torch


def case(name, in_features, n_classes, cutoffs, div_value, head_bias, rows, seed):
    torch.manual_seed(seed)
    module = torch.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs, div_value=div_value, head_bias=head_bias)
    x = torch.randn(rows, in_features, requires_grad=True)
    # Targets in the head and in every cluster, then random ones.
    bounds = [0] + cutoffs + [n_classes]
    targets = [bounds[i] + (i * 7) % (bounds[i + 1] - bounds[i]) for i in range(len(bounds) - 1)]
    targets += torch.randint(0, n_classes, (rows - len(targets),)).tolist()
    target = torch.tensor(targets)
    output = module(x, target)
    output.loss.backward()
    with torch.no_grad():
        log_prob = module.log_prob(x)
    flat = lambda t: [float(v) for v in t.detach().reshape(-1)]
    return {
        "name": name, "in_features": in_features, "n_classes": n_classes, "cutoffs": cutoffs,
        "div_value": div_value, "head_bias": head_bias,
        "parameters": {k: {"shape": list(v.shape), "values": flat(v)} for k, v in module.state_dict().items()},
        "input": flat(x), "targets": targets, "loss": float(output.loss.detach()),
        "grad_input": flat(x.grad),
        "grad_parameters": {k: flat(p.grad) for k, p in module.named_parameters()},
        "log_prob": flat(log_prob),
    }


def main():
    cases = [
        case("two clusters, no head bias", 12, 30, [6, 17], 2.0, False, 11, 1),
        case("one cluster, head bias, div 4", 16, 20, [9], 4.0, True, 7, 2),
    ]
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.normpath(os.path.join(here, "..", "Tests", "SeqModelsTests", "Fixtures", "adaptive_softmax",
                                         "adaptive_softmax.json"))
    with open(path, "w") as f:
        json.dump({"generator": "Tools/make_adaptive_softmax_fixtures.py", "torch": torch.__version__, "cases": cases}, f)
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
