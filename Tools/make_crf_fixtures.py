#!/usr/bin/env python3
"""Reference values for SeqModels' CRF layer (Sources/SeqModels/Layers/CRF.swift), written to
Tests/SeqModelsTests/Fixtures/crf/crf.json.

The reference is deliberately naive and independent of the forward algorithm: for every
sequence it enumerates all K^T tag sequences, scores each (start + emissions + transitions +
end, pytorch-crf's model), takes the log-sum-exp of all of them as the normaliser, and lets
PyTorch's autograd differentiate the summed negative log-likelihood. The Viterbi path is the
enumerated sequence with the highest score. Everything runs in float64 from float32 inputs.

    python3 Tools/make_crf_fixtures.py      # needs torch (Tools/install-dependencies.sh --pytorch)
"""
import itertools
import json
import os

import torch


def packed_rows(lengths):
    """Packed row of (t, b) for sequences sorted by decreasing length, and the batch sizes."""
    batch_sizes = [sum(1 for n in lengths if n > t) for t in range(max(lengths))]
    offsets = [0]
    for size in batch_sizes:
        offsets.append(offsets[-1] + size)
    return batch_sizes, lambda t, b: offsets[t] + b


def case(name, lengths, tags_count, seed):
    generator = torch.Generator().manual_seed(seed)
    assert lengths == sorted(lengths, reverse=True)
    batch_sizes, row = packed_rows(lengths)
    rows = sum(lengths)
    # float32 values, used exactly in float64.
    emissions = (torch.randn(rows, tags_count, generator=generator) * 1.5).float().double().requires_grad_()
    transitions = (torch.rand(tags_count, tags_count, generator=generator) * 2 - 1).float().double().requires_grad_()
    start = (torch.rand(tags_count, generator=generator) * 2 - 1).float().double().requires_grad_()
    end = (torch.rand(tags_count, generator=generator) * 2 - 1).float().double().requires_grad_()
    gold = torch.randint(0, tags_count, (rows,), generator=generator)

    def score(b, path):
        total = start[path[0]] + end[path[-1]]
        for t, tag in enumerate(path):
            total = total + emissions[row(t, b), tag]
            if t > 0:
                total = total + transitions[path[t - 1], tag]
        return total

    loss = torch.zeros((), dtype=torch.float64)
    viterbi = [0] * rows
    for b, length in enumerate(lengths):
        paths = list(itertools.product(range(tags_count), repeat=length))
        scores = torch.stack([score(b, p) for p in paths])
        gold_path = [int(gold[row(t, b)]) for t in range(length)]
        loss = loss + torch.logsumexp(scores, 0) - score(b, gold_path)
        best = paths[int(torch.argmax(scores))]
        for t, tag in enumerate(best):
            viterbi[row(t, b)] = tag
    loss.backward()
    def as_list(x, like=None):
        x = torch.zeros_like(like) if x is None else x   # a gradient never reached (one-token sequences)
        return [float(v) for v in x.detach().reshape(-1)]
    return {
        "name": name, "lengths": lengths, "batch_sizes": batch_sizes, "tags": tags_count,
        "emissions": as_list(emissions), "transitions": as_list(transitions),
        "start_transitions": as_list(start), "end_transitions": as_list(end),
        "gold": [int(v) for v in gold],
        "loss": float(loss.detach()),
        "grad_emissions": as_list(emissions.grad, emissions), "grad_transitions": as_list(transitions.grad, transitions),
        "grad_start_transitions": as_list(start.grad, start), "grad_end_transitions": as_list(end.grad, end),
        "viterbi": viterbi,
    }


def main():
    cases = [
        case("one sequence of one token", [1], 3, 1),
        case("three sequences, 3 tags", [4, 3, 1], 3, 2),
        case("equal lengths, 4 tags", [3, 3, 3], 4, 3),
        case("five sequences, 5 tags", [5, 4, 4, 2, 1], 5, 4),
    ]
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "Tests", "SeqModelsTests", "Fixtures", "crf", "crf.json")
    with open(path, "w") as f:
        json.dump({"generator": "Tools/make_crf_fixtures.py", "torch": torch.__version__, "cases": cases}, f, indent=1)
    print(f"wrote {len(cases)} cases to {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
