#!/usr/bin/env python3
"""PyTorch side of `seqmodels bench lstm`.

A persistent worker: reads one JSON request per line on stdin, answers one JSON
line on stdout. The Swift command interleaves its own measurements with these,
so both sides run on the same machine, in one process tree, under the same load.

Request:  {"layers": L, "bidirectional": b, "input": I, "hidden": H,
           "lengths": [..] (one per sequence), "packed": bool, "mode": "inference"|"training",
           "threads": n, "iterations": k}
Answer:   {"seconds": [per-iteration wall times], "tokens": real tokens per iteration}
          or {"error": "..."}
Training = forward + sum(output * R) backward + Adam step + zero_grad, as on the Swift side.
"""
import json
import sys
import time

try:
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
except ImportError as exc:  # reported to the Swift side, which prints Swift-only figures
    print(json.dumps({"error": f"PyTorch is not available: {exc}"}), flush=True)
    sys.exit(0)

print(json.dumps({"ready": torch.__version__}), flush=True)

_cache = {}


def setup(req):
    key = json.dumps({k: req[k] for k in ("layers", "bidirectional", "input", "hidden", "lengths", "packed")})
    if key in _cache:
        return _cache[key]
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(req["input"], req["hidden"], num_layers=req["layers"],
                         bidirectional=req["bidirectional"])
    lengths = torch.tensor(req["lengths"], dtype=torch.int64)
    T, B = int(lengths.max()), len(req["lengths"])
    x = torch.randn(T, B, req["input"])
    D = 2 if req["bidirectional"] else 1
    r = torch.randn(T, B, D * req["hidden"])
    opt = torch.optim.Adam(lstm.parameters(), lr=1e-3)
    _cache.clear()
    _cache[key] = (lstm, x, lengths, r, opt)
    return _cache[key]


def run_once(req, lstm, x, lengths, r, opt):
    if req["packed"]:
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, _ = lstm(packed)
        out, _ = pad_packed_sequence(out, total_length=x.shape[0])
    else:
        out, _ = lstm(x)
    if req["mode"] == "training":
        (out * r).sum().backward()
        opt.step()
        opt.zero_grad(set_to_none=False)


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    try:
        req = json.loads(line)
        torch.set_num_threads(int(req["threads"]))
        lstm, x, lengths, r, opt = setup(req)
        grad = torch.enable_grad() if req["mode"] == "training" else torch.inference_mode()
        times = []
        with grad:
            run_once(req, lstm, x, lengths, r, opt)  # warm-up
            for _ in range(int(req["iterations"])):
                start = time.perf_counter()
                run_once(req, lstm, x, lengths, r, opt)
                times.append(time.perf_counter() - start)
        print(json.dumps({"seconds": times, "tokens": int(lengths.sum())}), flush=True)
    except Exception as exc:  # keep the worker alive; the Swift side reports it
        print(json.dumps({"error": repr(exc)}), flush=True)
