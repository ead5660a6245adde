#!/usr/bin/env python3
"""Writes Tests/SeqModelsTests/Fixtures/packing/torch_packing.json: reference outputs of
torch.nn.utils.rnn for the packing tests (PaddingTests).

    python3 Tools/make_packing_fixtures.py      # torch 2.13.0+cpu

Contents
- docstring_examples: pack_sequence / pack_padded_sequence examples from PyTorch's docs.
- tie_orders: sorted_indices and batch_sizes of pack_padded_sequence(enforce_sorted=False)
  for length lists full of ties. torch.sort(descending=True) on the CPU is libstdc++'s
  std::sort (introsort), which is not stable above 16 elements; the organ-pipe patterns
  (every length twice) drive it past its depth limit into the heapsort fallback, so
  every branch of the algorithm is covered.
- round_trip: a batch-first padded batch with unsorted, tied lengths, packed with
  enforce_sorted=False, then padded back time-major with padding_value and total_length.
"""
import json
import os
import random

import torch
from torch.nn.utils import rnn

random.seed(2026)
torch.manual_seed(2026)


def pack_info(lengths):
    steps = max(lengths)
    padded = torch.zeros(steps, len(lengths), 1)
    packed = rnn.pack_padded_sequence(padded, torch.tensor(lengths), enforce_sorted=False)
    return {
        "lengths": lengths,
        "sorted_indices": packed.sorted_indices.tolist(),
        "batch_sizes": packed.batch_sizes.tolist(),
    }


def docstring_examples():
    # pack_sequence docstring: a = [1,2,3], b = [4,5], c = [6].
    seqs = [torch.tensor([1.0, 2, 3]), torch.tensor([4.0, 5]), torch.tensor([6.0])]
    packed = rnn.pack_sequence(seqs)
    # PackedSequence docstring: sequences "abc" and "x" as one-hot rows over the alphabet a, b, c, x.
    alphabet = "abcx"
    onehot = lambda s: torch.eye(4)[[alphabet.index(ch) for ch in s]]
    packed_abc = rnn.pack_sequence([onehot("abc"), onehot("x")])
    # pack_padded_sequence docstring: [[1, 2, 0], [3, 0, 0]] batch-first, lengths [2, 1].
    padded = torch.tensor([[1.0, 2, 0], [3, 0, 0]])
    packed_padded = rnn.pack_padded_sequence(padded, torch.tensor([2, 1]), batch_first=True)
    return {
        "pack_sequence": {"sequences": [s.tolist() for s in seqs], "data": packed.data.tolist(),
                          "batch_sizes": packed.batch_sizes.tolist()},
        "abc_x": {"alphabet": alphabet, "data": packed_abc.data.tolist(),
                  "batch_sizes": packed_abc.batch_sizes.tolist()},
        "pack_padded": {"padded": padded.tolist(), "lengths": [2, 1], "data": packed_padded.data.tolist(),
                        "batch_sizes": packed_padded.batch_sizes.tolist()},
    }


def tie_orders():
    cases = []
    for n, top in [(2, 1), (5, 2), (16, 3), (17, 3), (20, 2), (33, 4), (64, 5), (100, 6), (257, 10)]:
        cases.append(pack_info([random.randint(1, top) for _ in range(n)]))
    cases.append(pack_info([1 + (i % 3) for i in range(40)]))           # saw-tooth ties
    cases.append(pack_info(list(range(1, 48)) + list(range(47, 0, -1))))  # organ pipe, 94: heapsort fallback
    cases.append(pack_info(list(range(1, 151)) + list(range(150, 0, -1))))  # organ pipe, 300: heapsort twice
    return cases


def round_trip():
    batch, steps, features = 6, 5, 3
    lengths = [3, 5, 3, 1, 5, 2]
    padded = torch.randn(batch, steps, features)
    packed = rnn.pack_padded_sequence(padded, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    repadded, out_lengths = rnn.pad_packed_sequence(packed, batch_first=False, padding_value=-1.0, total_length=7)
    return {
        "input_batch_first": padded.tolist(),
        "lengths": lengths,
        "data": packed.data.tolist(),
        "batch_sizes": packed.batch_sizes.tolist(),
        "sorted_indices": packed.sorted_indices.tolist(),
        "unsorted_indices": packed.unsorted_indices.tolist(),
        "padding_value": -1.0,
        "total_length": 7,
        "repadded_time_major": repadded.tolist(),
        "repadded_lengths": out_lengths.tolist(),
    }


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_dir = os.path.join(root, "Tests", "SeqModelsTests", "Fixtures", "packing")
    os.makedirs(out_dir, exist_ok=True)
    fixture = {
        "torch_version": torch.__version__,
        "docstring_examples": docstring_examples(),
        "tie_orders": tie_orders(),
        "round_trip": round_trip(),
    }
    path = os.path.join(out_dir, "torch_packing.json")
    with open(path, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
