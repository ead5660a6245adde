#!/usr/bin/env python3
"""End-to-end check of `seqmodels lstm forward` and `seqmodels lstm init` against PyTorch.

    swift build --product seqmodels
    python3 Tools/check_lstm_interop.py [path/to/seqmodels]     # default: .build/debug/seqmodels

(a) PyTorch -> SeqModels. For several random nn.LSTM configurations (including a
    bidirectional 2-layer LSTM on a packed, unsorted batch with h0/c0), torch writes the
    state dict (W) and a batch (IN) with safetensors; the binary runs forward and backward;
    its OUT is compared with torch.
(b) SeqModels -> PyTorch. `seqmodels lstm init` writes a freshly initialised LSTM; torch
    loads it with nn.LSTM.load_state_dict(strict=True) and its outputs and gradients on a
    random batch are compared with `seqmodels lstm forward` on the same files.
(c) Bad files: the binary must exit non-zero with a message naming the offending tensor.

Reference: torch computes in float64 from the same float32 weights and inputs (the float32
values are exact in float64), so the printed errors are SeqModels' own float32 errors. The
column `torch32` shows the same error for torch's float32 run, for scale.

Tolerance, elementwise |a - e| <= atol + rtol*|e|: forward (output, h_n, c_n) rtol 1e-5,
atol 1e-6; gradients rtol 1e-4, atol 1e-6 (as in LSTMParityTests). `max rel` is taken over
elements with |e| >= 1e-3 (smaller ones are covered by atol). Exit status 1 on any failure.
"""
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn.utils import rnn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "seqmodels")
FORWARD_TOL = (1e-5, 1e-6)
GRADIENT_TOL = (1e-4, 1e-6)
failures = []


def reference(state_dict, prefix, config, batch, dtype):
    """torch's results for the batch, in `dtype`, named as `seqmodels lstm forward` names them."""
    I, H, L, bidirectional = config
    model = nn.LSTM(I, H, num_layers=L, bidirectional=bidirectional).to(dtype)
    model.load_state_dict({k[len(prefix):]: v.to(dtype) for k, v in state_dict.items()}, strict=True)
    x = batch["input"].to(dtype).requires_grad_(True)
    T, B = x.shape[:2]
    lengths = batch.get("lengths", torch.full((B,), T, dtype=torch.int64))
    args = []
    if "h0" in batch:
        h0 = batch["h0"].to(dtype).requires_grad_(True)
        c0 = batch["c0"].to(dtype).requires_grad_(True)
        args = [(h0, c0)]
    out, (h_n, c_n) = model(rnn.pack_padded_sequence(x, lengths, enforce_sorted=False), *args)
    output, _ = rnn.pad_packed_sequence(out, total_length=T)
    result = {"output": output, "h_n": h_n, "c_n": c_n}
    if "grad_output" in batch:
        loss = (output * batch["grad_output"].to(dtype)).sum()
        for name, tensor in (("grad_h_n", h_n), ("grad_c_n", c_n)):
            if name in batch:
                loss = loss + (tensor * batch[name].to(dtype)).sum()
        loss.backward()
        result["grad_input"] = x.grad
        if args:
            result["grad_h0"], result["grad_c0"] = h0.grad, c0.grad
        for name, p in model.named_parameters():
            result["grad." + prefix + name] = p.grad
    return {k: v.detach().double() for k, v in result.items()}


def random_batch(config, T, lengths, with_state, grads, generator):
    I, H, L, bidirectional = config
    D, B = (2 if bidirectional else 1), len(lengths)
    mask = (torch.arange(T)[:, None] < torch.tensor(lengths)[None, :]).float()[:, :, None]
    batch = {"input": torch.randn(T, B, I, generator=generator) * mask}
    if lengths != [T] * B:
        batch["lengths"] = torch.tensor(lengths, dtype=torch.int64)
    if with_state:
        batch["h0"] = torch.randn(D * L, B, H, generator=generator)
        batch["c0"] = torch.randn(D * L, B, H, generator=generator)
    if "output" in grads:
        batch["grad_output"] = torch.randn(T, B, D * H, generator=generator) * mask
    if "h_n" in grads:
        batch["grad_h_n"] = torch.randn(D * L, B, H, generator=generator)
    if "c_n" in grads:
        batch["grad_c_n"] = torch.randn(D * L, B, H, generator=generator)
    return batch


def run_binary(*args):
    return subprocess.run([BINARY, "lstm", *args], capture_output=True, text=True)


def compare(title, out, expected, single):
    """Prints one line per tensor; records failures."""
    print(f"  {'tensor':28s} {'max abs':>10s} {'max rel':>10s} {'torch32':>10s}")
    missing = sorted(set(expected) - set(out))
    extra = sorted(set(out) - set(expected))
    if missing or extra:
        failures.append(f"{title}: OUT names differ (missing {missing}, unexpected {extra})")
        print(f"  FAIL names: missing {missing}, unexpected {extra}")
    worst = (0.0, 0.0)
    for name in sorted(expected):
        if name not in out:
            continue
        e = expected[name]
        a = out[name].double()
        if a.shape != e.shape:
            failures.append(f"{title}: {name} shape {tuple(a.shape)} != {tuple(e.shape)}")
            print(f"  FAIL {name}: shape {tuple(a.shape)}, expected {tuple(e.shape)}")
            continue
        rtol, atol = FORWARD_TOL if name in ("output", "h_n", "c_n") else GRADIENT_TOL
        err = (a - e).abs()
        big = e.abs() >= 1e-3
        rel = (err[big] / e.abs()[big]).max().item() if big.any() else 0.0
        torch32 = (single[name] - e).abs().max().item()
        ok = bool((err <= atol + rtol * e.abs()).all())
        worst = (max(worst[0], err.max().item()), max(worst[1], rel))
        print(f"  {name:28s} {err.max().item():10.2e} {rel:10.2e} {torch32:10.2e}{'' if ok else '   FAIL'}")
        if not ok:
            i = int((err - (atol + rtol * e.abs())).argmax())
            index = tuple(int(v) for v in torch.unravel_index(torch.tensor(i), e.shape))
            failures.append(f"{title}: {name}{list(index)} SeqModels {a.flatten()[i].item()!r} torch {e.flatten()[i].item()!r}")
    print(f"  => worst over all tensors: max abs {worst[0]:.2e}, max rel {worst[1]:.2e}")


def check_case(tmp, title, config, prefix, T, lengths, with_state, grads, seed, weights_file=None, state_dict=None):
    """Runs one case through the binary and compares it with torch."""
    I, H, L, bidirectional = config
    generator = torch.Generator().manual_seed(seed)
    if state_dict is None:
        torch.manual_seed(seed)
        lstm = nn.LSTM(I, H, num_layers=L, bidirectional=bidirectional)
        state_dict = {prefix + k: v.contiguous() for k, v in lstm.state_dict().items()}
        weights_file = os.path.join(tmp, f"w{seed}.safetensors")
        save_file(state_dict, weights_file, metadata={"format": "pt"})
    batch = random_batch(config, T, lengths, with_state, grads, generator)
    in_file, out_file = os.path.join(tmp, f"in{seed}.safetensors"), os.path.join(tmp, f"out{seed}.safetensors")
    save_file({k: v.contiguous() for k, v in batch.items()}, in_file)
    proc = run_binary("forward", "--weights", weights_file, "--input", in_file, "--output", out_file, "--threads", "1")
    print(f"{title}: I={I} H={H} L={L} {'bi' if bidirectional else 'uni'} T={T} lengths={lengths} "
          f"h0/c0={'yes' if with_state else 'no'} grads={'+'.join(grads) or 'none'} prefix='{prefix}'")
    if proc.returncode != 0:
        failures.append(f"{title}: binary failed: {proc.stderr.strip()}")
        print("  FAIL binary exited", proc.returncode, proc.stderr.strip())
        return
    expected = reference(state_dict, prefix, config, batch, torch.float64)
    single = {k: v for k, v in reference(state_dict, prefix, config, batch, torch.float32).items()}
    compare(title, load_file(out_file), expected, single)


def part_a(tmp):
    print("== (a) PyTorch-made weights and batches, run by seqmodels lstm forward ==")
    all_grads = ["output", "h_n", "c_n"]
    check_case(tmp, "a1 uni 1 layer, forward only, no lengths", (5, 4, 1, False), "", 6, [6, 6, 6], False, [], 11)
    check_case(tmp, "a2 uni 2 layers, packed, prefix lstm.", (5, 7, 2, False), "lstm.", 7, [3, 7, 1, 5], False, all_grads, 12)
    check_case(tmp, "a3 bi 2 layers, packed unsorted, h0/c0", (6, 5, 2, True), "", 8, [2, 8, 5, 5, 1], True, all_grads, 13)
    check_case(tmp, "a4 bi 1 layer, only grad_output", (4, 6, 1, True), "", 5, [5, 3, 3, 4], False, ["output"], 14)
    check_case(tmp, "a5 bi 3 layers, larger, h0/c0", (10, 16, 3, True), "", 12, [12, 4, 9, 12, 1, 7], True, all_grads, 15)


def part_b(tmp):
    print("\n== (b) SeqModels-made weights (seqmodels lstm init) loaded by torch (strict) ==")
    for title, (I, H, L, bidirectional), seed, T, lengths in [
        ("b1 uni 1 layer", (5, 4, 1, False), 3, 6, [6, 2, 4]),
        ("b2 bi 2 layers", (5, 7, 2, True), 4, 7, [3, 7, 1, 5]),
    ]:
        weights_file = os.path.join(tmp, f"init{seed}.safetensors")
        args = ["init", "--input-size", str(I), "--hidden-size", str(H), "--layers", str(L),
                "--seed", str(seed), "--output", weights_file] + (["--bidirectional"] if bidirectional else [])
        proc = run_binary(*args)
        if proc.returncode != 0:
            failures.append(f"{title}: init failed: {proc.stderr.strip()}")
            print(f"{title}: FAIL init exited {proc.returncode}: {proc.stderr.strip()}")
            continue
        again = weights_file + ".again"
        run_binary(*[again if a == weights_file else a for a in args])
        with open(weights_file, "rb") as f1, open(again, "rb") as f2:
            same_bytes = f1.read() == f2.read()
        if not same_bytes:
            failures.append(f"{title}: init with the same seed wrote different bytes")
        state_dict = load_file(weights_file)
        lstm = nn.LSTM(I, H, num_layers=L, bidirectional=bidirectional)
        result = lstm.load_state_dict(state_dict, strict=True)
        bound = 1 / H ** 0.5
        largest = max(v.abs().max().item() for v in state_dict.values())
        print(f"{title}: torch load_state_dict(strict=True): {result}; {len(state_dict)} tensors, "
              f"dtypes {sorted({str(v.dtype) for v in state_dict.values()})}, same bytes for the same seed: {same_bytes}, max |w| {largest:.4f} <= 1/sqrt(H) {bound:.4f}")
        if largest > bound or any(v.dtype != torch.float32 for v in state_dict.values()):
            failures.append(f"{title}: initialised weights out of range or not float32")
        check_case(tmp, title, (I, H, L, bidirectional), "", T, lengths, True, ["output", "h_n", "c_n"], 100 + seed,
                   weights_file=weights_file, state_dict=state_dict)


def part_c(tmp):
    print("\n== (c) bad files are refused with a message naming the tensor ==")
    torch.manual_seed(7)
    lstm = nn.LSTM(3, 2, num_layers=2, bidirectional=True)
    good_w = {k: v.contiguous() for k, v in lstm.state_dict().items()}
    good_in = {"input": torch.randn(4, 2, 3), "lengths": torch.tensor([4, 2]),
               "h0": torch.zeros(4, 2, 2), "c0": torch.zeros(4, 2, 2), "grad_output": torch.randn(4, 2, 4)}
    cases = [
        ("missing weight", {k: v for k, v in good_w.items() if k != "bias_hh_l1_reverse"}, good_in, "bias_hh_l1_reverse"),
        ("float64 weight", {**good_w, "weight_hh_l0": good_w["weight_hh_l0"].double()}, good_in, "weight_hh_l0"),
        ("bad weight shape", {**good_w, "weight_ih_l1": torch.zeros(8, 3)}, good_in, "weight_ih_l1"),
        ("stray weight name", {**good_w, "lstm2.weight": torch.zeros(1)}, good_in, "lstm2.weight"),
        ("missing input", good_w, {k: v for k, v in good_in.items() if k != "input"}, "input"),
        ("wrong input size", good_w, {**good_in, "input": torch.zeros(4, 2, 5)}, "input"),
        ("float64 h0", good_w, {**good_in, "h0": torch.zeros(4, 2, 2, dtype=torch.float64)}, "h0"),
        ("h0 without c0", good_w, {k: v for k, v in good_in.items() if k != "c0"}, "c0"),
        ("int32 lengths", good_w, {**good_in, "lengths": torch.tensor([4, 2], dtype=torch.int32)}, "lengths"),
        ("length above T", good_w, {**good_in, "lengths": torch.tensor([5, 2])}, "lengths"),
        ("bad grad_output shape", good_w, {**good_in, "grad_output": torch.zeros(4, 2, 2)}, "grad_output"),
        ("grad_h_n without grad_output", good_w,
         {**{k: v for k, v in good_in.items() if k != "grad_output"}, "grad_h_n": torch.zeros(4, 2, 2)}, "grad_h_n"),
        ("unknown input tensor", good_w, {**good_in, "mask": torch.zeros(4, 2)}, "mask"),
    ]
    for title, w, batch, tensor in cases:
        w_file, in_file = os.path.join(tmp, "bad_w.safetensors"), os.path.join(tmp, "bad_in.safetensors")
        save_file(w, w_file)
        save_file(batch, in_file)
        proc = run_binary("forward", "--weights", w_file, "--input", in_file, "--output", os.path.join(tmp, "bad_out.safetensors"))
        message = proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else ""
        ok = proc.returncode != 0 and f"'{tensor}'" in message and "Fatal" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        print(f"  {title:30s} exit {proc.returncode}: {message.replace(tmp + '/', '')}{'' if ok else '   FAIL'}")
        if not ok:
            failures.append(f"(c) {title}: exit {proc.returncode}, stderr {proc.stderr!r}")


def main():
    if not os.path.exists(BINARY):
        sys.exit(f"no binary at {BINARY}: build it with `swift build --product seqmodels` or pass its path")
    print(f"binary {BINARY}; torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        part_a(tmp)
        part_b(tmp)
        part_c(tmp)
    print()
    if failures:
        print(f"{len(failures)} FAILURE(S):")
        for f in failures:
            print("  " + f)
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
