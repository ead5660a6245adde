#!/usr/bin/env python3
"""Writes Tests/SeqModelsTests/Fixtures/lstm/<case>.safetensors: PyTorch reference
forward and backward passes of nn.LSTM for LSTMParityTests.

    python3 Tools/make_lstm_fixtures.py      # torch 2.13.0+cpu, safetensors 0.8

Every case builds `nn.LSTM(I, H, num_layers=L, bidirectional=…)` under a fixed seed and a
batch (T, B, I) with per-sequence lengths (unsorted and uneven for the packed cases;
some cases leave the last time step empty, so T > max(lengths)), then runs

    packed = pack_padded_sequence(input, lengths, enforce_sorted=False)
    out, (h_n, c_n) = lstm(packed, (h0, c0))            # or lstm(packed) without h0/c0
    output, _ = pad_packed_sequence(out, total_length=T)
    loss = sum(output * grad_output) + sum(h_n * grad_h_n) + sum(c_n * grad_c_n)
    loss.backward()

Each file holds (all float32 except `lengths`, int64):
- the state dict under the module prefix `lstm.`: `lstm.weight_ih_l0`, `lstm.bias_hh_l1_reverse`, …
  (as a model with an `lstm` submodule saves it; the tests pass the prefix `lstm.`,
  since the gradient names below also end in `weight_ih_l0`);
- inputs: `input` (T, B, I), zero past each length; `lengths` (B,); `h0`, `c0`
  (D·L, B, H) in the cases with an initial state; `grad_output` (T, B, D·H), zero at
  padded positions; `grad_h_n`, `grad_c_n` (D·L, B, H);
- expected results: `output` (T, B, D·H), `h_n`, `c_n`, `grad_input` (T, B, I),
  `grad_h0`, `grad_c0` (only with an initial state), and `grad.lstm.<parameter>` for
  every parameter (e.g. `grad.lstm.weight_hh_l1_reverse`).

Reference precision: weights and inputs are float32 values; the expected results are
computed by torch in float64 from exactly those values and rounded to float32 once, so a
comparison measures the float32 error of SeqModels alone (not the sum of two float32
errors). The script prints how far torch's own float32 run is from that reference.

Deterministic: a fixed seed per case; safetensors writes tensors in a fixed order (one
metadata key only: the writer orders several keys by hash, which varies between runs).
"""
import os

import torch
from safetensors.torch import save_file
from torch import nn
from torch.nn.utils import rnn

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "SeqModelsTests", "Fixtures", "lstm")

# name, input size, hidden size, layers, bidirectional, lengths (batch order), steps T, initial state
CASES = [
    ("uni_l1",               5, 4, 1, False, [6, 6, 6],    6, False),
    ("uni_l1_state",         5, 4, 1, False, [5, 5],       5, True),
    ("bi_l1",                5, 5, 1, True,  [5, 5],       5, True),
    ("bi_l1_nostate",        5, 6, 1, True,  [4, 4, 4],    4, False),
    ("uni_l2",               5, 6, 2, False, [7, 7, 7, 7], 7, True),
    ("bi_l3",                5, 4, 3, True,  [4, 4, 4],    4, False),
    ("packed_uni_l2_state",  5, 7, 2, False, [3, 7, 1, 5], 7, True),
    ("packed_uni_l2",        5, 5, 2, False, [5, 2, 6, 2], 7, False),
    ("packed_bi_l2_state",   5, 5, 2, True,  [2, 6, 4, 6], 6, True),
    ("packed_bi_l2",         5, 6, 2, True,  [4, 1, 5, 3], 6, False),
]


def run(lstm, x, lengths, state, grad_output, grad_h_n, grad_c_n, dtype):
    """Forward and backward in `dtype`; returns a dict of results (detached, float32)."""
    model = nn.LSTM(lstm.input_size, lstm.hidden_size, num_layers=lstm.num_layers,
                    bidirectional=lstm.bidirectional).to(dtype)
    model.load_state_dict({k: v.to(dtype) for k, v in lstm.state_dict().items()})
    x = x.to(dtype).requires_grad_(True)
    args = []
    if state is not None:
        h0 = state[0].to(dtype).requires_grad_(True)
        c0 = state[1].to(dtype).requires_grad_(True)
        args = [(h0, c0)]
    T = x.shape[0]
    packed = rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    out, (h_n, c_n) = model(packed, *args)
    output, _ = rnn.pad_packed_sequence(out, total_length=T)
    loss = ((output * grad_output.to(dtype)).sum() + (h_n * grad_h_n.to(dtype)).sum()
            + (c_n * grad_c_n.to(dtype)).sum())
    loss.backward()
    result = {"output": output, "h_n": h_n, "c_n": c_n, "grad_input": x.grad}
    if state is not None:
        result["grad_h0"] = h0.grad
        result["grad_c0"] = c0.grad
    for name, p in model.named_parameters():
        result["grad.lstm." + name] = p.grad
    return {k: v.detach().float().contiguous() for k, v in result.items()}


def make_case(index, name, I, H, L, bidirectional, lengths, T, with_state):
    torch.manual_seed(1000 + index)
    D = 2 if bidirectional else 1
    B = len(lengths)
    lstm = nn.LSTM(I, H, num_layers=L, bidirectional=bidirectional)
    x = torch.randn(T, B, I)
    mask = (torch.arange(T)[:, None] < torch.tensor(lengths)[None, :]).float()  # (T, B)
    x = x * mask[:, :, None]
    state = (torch.randn(D * L, B, H), torch.randn(D * L, B, H)) if with_state else None
    grad_output = torch.randn(T, B, D * H) * mask[:, :, None]
    grad_h_n = torch.randn(D * L, B, H)
    grad_c_n = torch.randn(D * L, B, H)
    lengths_t = torch.tensor(lengths, dtype=torch.int64)

    reference = run(lstm, x, lengths_t, state, grad_output, grad_h_n, grad_c_n, torch.float64)
    single = run(lstm, x, lengths_t, state, grad_output, grad_h_n, grad_c_n, torch.float32)
    worst = max(((single[k] - v).abs().max().item(), k) for k, v in reference.items())

    tensors = {"lstm." + k: v.contiguous() for k, v in lstm.state_dict().items()}
    tensors.update({"input": x, "lengths": lengths_t, "grad_output": grad_output,
                    "grad_h_n": grad_h_n, "grad_c_n": grad_c_n})
    if state is not None:
        tensors["h0"], tensors["c0"] = state
    tensors.update(reference)
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    path = os.path.join(OUT_DIR, name + ".safetensors")
    save_file(tensors, path, metadata={"generator": "Tools/make_lstm_fixtures.py, torch " + torch.__version__})
    print(f"{name:22s} I={I} H={H} L={L} D={D} B={B} T={T} lengths={lengths} h0/c0={'yes' if with_state else 'no'}  "
          f"{os.path.getsize(path):6d} bytes; torch float32 vs float64 max abs diff {worst[0]:.2e} ({worst[1]})")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for index, case in enumerate(CASES):
        make_case(index, *case)


if __name__ == "__main__":
    main()
