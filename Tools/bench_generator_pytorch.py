#!/usr/bin/env python3
"""Train the same-shaped character LSTM language model with SeqModels and with PyTorch for
the same wall time on tinyshakespeare, and print both validation losses (nats/char).

The model of both: embedding 64 -> 2-layer LSTM 256 (dropout 0.1 on embeddings, between
layers and on the output) -> Linear over the characters. Data: the first 90% of the text
for training, cut into non-overlapping chunks of 100 characters (each from a zero state),
batches of 32 shuffled chunks; the last 10% for validation, scored as 16 consecutive lanes
with the state carried through each (what `seqmodels generate eval` and the SeqModels
training loop do). Adam 2e-3, gradient norm clipped at 5, learning rate halved when the
validation loss does not improve; the best validation loss of the run is reported.

    python3 Tools/bench_generator_pytorch.py --minutes 30 --threads 2 \
        --seqmodels .build/release/seqmodels --text ../shared/corpora/generation/tinyshakespeare.txt

`--skip-seqmodels` runs the PyTorch side alone; `--minutes 1` is a smoke test.
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn as nn


class CharLSTM(nn.Module):
    """Names as SeqModels' LanguageModel: embedding., lstm., decoder."""

    def __init__(self, vocab, emb=64, hidden=256, layers=2, dropout=0.1):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, layers, dropout=dropout if layers > 1 else 0.0)
        self.decoder = nn.Linear(hidden, vocab)
        self.drop = nn.Dropout(dropout)

    def forward(self, ids, state=None):  # ids: (T, B)
        x = self.drop(self.embedding(ids))
        out, state = self.lstm(x, state)
        return self.decoder(self.drop(out)), state


def evaluate(model, lanes, window=128):
    """Mean loss per predicted token over lanes (list of 1-D id tensors), state carried."""
    model.eval()
    total, count = 0.0, 0
    length = min(len(l) for l in lanes)
    batch = torch.stack([l[:length] for l in lanes], dim=1)  # (T, B)
    state = None
    with torch.no_grad():
        for t0 in range(0, length - 1, window):
            t1 = min(t0 + window, length - 1)
            logits, state = model(batch[t0:t1], state)
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[t0 + 1:t1 + 1].reshape(-1), reduction="sum")
            total += loss.item()
            count += (t1 - t0) * batch.shape[1]
    model.train()
    return total / count


def train_pytorch(text, minutes, seed, threads, seq=100, batch_size=32):
    torch.manual_seed(seed)
    random.seed(seed)
    torch.set_num_threads(threads)
    split = len(text) - round(len(text) * 0.1)
    train_text, valid_text = text[:split], text[split:]
    chars = sorted(set(train_text))
    index = {c: i + 1 for i, c in enumerate(chars)}  # 0 = unknown
    encode = lambda s: torch.tensor([index.get(c, 0) for c in s], dtype=torch.long)
    train_ids, valid_ids = encode(train_text), encode(valid_text)
    lane = len(valid_ids) // 16
    lanes = [valid_ids[i * lane:(i + 1) * lane] for i in range(16)]
    starts = list(range(0, len(train_ids) - seq - 1, seq))
    model = CharLSTM(len(chars) + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
    deadline = time.monotonic() + minutes * 60
    best, epoch, tokens = math.inf, 0, 0
    began = time.monotonic()
    while time.monotonic() < deadline:
        epoch += 1
        random.shuffle(starts)
        for b in range(0, len(starts), batch_size):
            if time.monotonic() >= deadline:
                break
            chunk = torch.stack([train_ids[s:s + seq + 1] for s in starts[b:b + batch_size]], dim=1)
            logits, _ = model(chunk[:-1])
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[1:].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            tokens += chunk[:-1].numel()
        valid = evaluate(model, lanes)
        scheduler.step(valid)
        best = min(best, valid)
        print(f"pytorch epoch {epoch}: validation {valid:.4f} nats/char, "
              f"{tokens / (time.monotonic() - began):,.0f} train tok/s", file=sys.stderr)
    return best, epoch


def train_seqmodels(binary, path, minutes, seed, threads):
    with tempfile.TemporaryDirectory() as directory:
        model = os.path.join(directory, "model")
        subprocess.run([binary, "generate", "train", "--text", path, "--model", model, "--time-limit", str(minutes),
                        "--seed", str(seed), "--threads", str(threads), "--epochs", "1000", "--sample-length", "100"],
                       check=True)
        with open(os.path.join(model, "metrics.jsonl")) as f:
            records = [json.loads(line) for line in f if line.strip()]
    return min(r["dev_metric"] for r in records), len(records)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", default=os.path.join(os.path.dirname(__file__), "../../shared/corpora/generation/tinyshakespeare.txt"))
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seqmodels", default=".build/release/seqmodels")
    parser.add_argument("--skip-seqmodels", action="store_true")
    args = parser.parse_args()
    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    results = {}
    if not args.skip_seqmodels:
        results["SeqModels"] = train_seqmodels(args.seqmodels, args.text, args.minutes, args.seed, args.threads)
    results["PyTorch"] = train_pytorch(text, args.minutes, args.seed, args.threads)
    print(f"{args.minutes:g} minutes of training, {args.threads} threads, tinyshakespeare (last 10% for validation):")
    for name, (loss, epochs) in results.items():
        print(f"  {name:10s} best validation loss {loss:.4f} nats/char after {epochs} epochs")


if __name__ == "__main__":
    main()
