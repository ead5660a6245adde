#!/usr/bin/env python3
"""Writes the safetensors fixtures of Tests/SeqModelsTests/Fixtures/safetensors/.

Run from the repository root:  python3 Tools/make_safetensors_fixtures.py
Needs numpy, torch and safetensors (the reference writer). Every file is tiny.

- numpy_layout.safetensors / numpy_layout_no_metadata.safetensors: F32 and I64
  tensors whose names and dtypes exercise the writer's ordering (dtype alignment
  first, then name by bytes) and padding. The values are closed-form so the Swift
  test rebuilds them independently and compares its own file byte for byte.
- lstm_2layer_bidirectional.safetensors: state_dict() of a module holding
  nn.Embedding(5, 3) as "embedding" and nn.LSTM(3, 2, num_layers=2,
  bidirectional=True) as "lstm", saved with safetensors.torch.save_file; the
  .json beside it lists every tensor's shape and values as PyTorch sees them.
- dtypes.safetensors (+ .json): one small tensor per dtype (F64, F16, BF16, I32,
  I16, I8, U8, BOOL) with the values torch reads back, as float32 or integers.
"""
import json
import os

import numpy as np
import torch
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file as save_torch

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "SeqModelsTests", "Fixtures", "safetensors")


def layout_tensors():
    # Keep in sync with SafeTensorsTests.layoutTensors().
    return {
        "b": (np.arange(6, dtype=np.float32) * 0.25 - 1).reshape(2, 3),
        "a.weight": np.arange(4, dtype=np.float32) * 0.5 + 0.125,
        "A": np.array([[3.5]], dtype=np.float32),
        "a_10": np.array([1e-3, -7.0], dtype=np.float32),
        "a_2": np.array([65504.0, -0.0], dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "ids": np.array([-2, 0, 7, 2**40, -(2**62)], dtype=np.int64),
        "tokens.count": np.array([[1, 2], [3, 4], [5, 6]], dtype=np.int64),
    }


def dump_json(path, tensors):
    with open(path, "w") as f:
        json.dump(tensors, f, indent=1, sort_keys=True)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    save_numpy(layout_tensors(), os.path.join(OUT, "numpy_layout.safetensors"), metadata={"format": "np"})
    save_numpy(layout_tensors(), os.path.join(OUT, "numpy_layout_no_metadata.safetensors"))

    torch.manual_seed(0)
    model = torch.nn.Module()
    model.embedding = torch.nn.Embedding(5, 3)
    model.lstm = torch.nn.LSTM(3, 2, num_layers=2, bidirectional=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_torch(state, os.path.join(OUT, "lstm_2layer_bidirectional.safetensors"), metadata={"format": "pt"})
    dump_json(os.path.join(OUT, "lstm_2layer_bidirectional.json"),
              {k: {"shape": list(v.shape), "values": v.flatten().tolist()} for k, v in state.items()})

    g = torch.Generator().manual_seed(1)
    floats = torch.randn(2, 3, generator=g, dtype=torch.float64) * 3
    floats[0, 0] = 1e-6  # subnormal in F16
    floats[0, 1] = 70000.0  # overflows F16 to inf
    dtypes = {
        "f64": floats.clone(),
        "f16": floats.to(torch.float16),
        "bf16": floats.to(torch.bfloat16),
        "i32": torch.tensor([-(2**31), 5, 2**31 - 1], dtype=torch.int32),
        "i16": torch.tensor([[-300, 300]], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
    }
    save_torch(dtypes, os.path.join(OUT, "dtypes.safetensors"))
    expected = {}
    for k, v in dtypes.items():
        values = v.float() if v.is_floating_point() else v.long()
        entry = {"shape": list(v.shape), "values": [x if x == x and abs(x) != float("inf") else str(x)
                                                    for x in values.flatten().tolist()]}
        expected[k] = entry
    dump_json(os.path.join(OUT, "dtypes.json"), expected)


if __name__ == "__main__":
    main()
