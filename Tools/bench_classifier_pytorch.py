#!/usr/bin/env python3
"""Trains the same BiLSTM review classifier in PyTorch and in SeqModels on the same data,
and prints test accuracy and wall time side by side.

The PyTorch model mirrors `TextClassifier` with the default hyperparameters of
`seqmodels classify train`: lowercased word tokens (`<br />` removed, punctuation split
off; a regex close to `WordTokenizer`, which differs only on rare cases such as `3.5`), at most 400 tokens (first 200 + last 200), a vocabulary of tokens seen at least 3
times (at most 40,000 entries with <pad> = 0 and <unk> = 1), Embedding(128, padding_idx=0)
→ dropout 0.25 → 1-layer bidirectional LSTM(128) over a packed batch → max and mean
pooling over the real tokens → dropout 0.5 → Linear → cross-entropy; Adam 1e-3, batches of
32 texts of similar length, gradient norm clipped at 5, the best epoch by accuracy on a
held-out 10% of train, then evaluated on test. Parameter names match SeqModels'
(`embedding.weight`, `lstm.weight_ih_l0_reverse`, `output.weight`).

    # both sides, short (e.g. 2,000 training and 2,000 test reviews, 2 epochs):
    python3 Tools/bench_classifier_pytorch.py --train ../shared/corpora/sentiment/imdb/train.csv \
        --test ../shared/corpora/sentiment/imdb/test.csv --limit 2000 --epochs 2 \
        --seqmodels .build/release/seqmodels
    # the full target run (a later session): no --limit, --epochs 8 --time-limit 30
"""
import argparse
import csv
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_sequence, pad_packed_sequence

csv.field_size_limit(sys.maxsize)
TOKEN = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*|\S", re.UNICODE)


def tokens(text, max_length):
    text = text.replace("<br />", " ").replace("<br/>", " ").replace("<br>", " ")
    words = TOKEN.findall(text.lower())
    if max_length and len(words) > max_length:
        front = (max_length + 1) // 2
        words = words[:front] + words[len(words) - (max_length - front):]
    return words


def read(path, limit, seed):
    with open(path, newline="", encoding="utf-8") as f:
        rows = [(r["text"], r["label"]) for r in csv.DictReader(f)]
    if limit and limit < len(rows):
        rows = random.Random(seed).sample(rows, limit)
    return rows


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)


class Classifier(nn.Module):
    def __init__(self, vocab, labels, dim=128, hidden=128, layers=1, emb_dropout=0.25, dropout=0.5):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim, padding_idx=0)
        self.embedding_dropout = nn.Dropout(emb_dropout)
        self.lstm = nn.LSTM(dim, hidden, num_layers=layers, bidirectional=True,
                            dropout=dropout if layers > 1 else 0)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(4 * hidden, labels)

    def forward(self, batch):  # batch: list of 1-D LongTensors
        lengths = torch.tensor([len(x) for x in batch])
        packed = pack_sequence([self.embedding_dropout(self.embedding(x)) for x in batch], enforce_sorted=False)
        out, _ = self.lstm(packed)
        padded, _ = pad_packed_sequence(out, batch_first=True, padding_value=float("-inf"))
        maxed = padded.max(dim=1).values
        mask = torch.isfinite(padded[..., :1])
        mean = torch.where(mask, padded, torch.zeros(())).sum(dim=1) / lengths.unsqueeze(1)
        return self.output(self.dropout(torch.cat([maxed, mean], dim=1)))


def batches(examples, size, rng):
    order = sorted(range(len(examples)), key=lambda i: (-len(examples[i][0]), rng.random()))
    chunks = [order[i:i + size] for i in range(0, len(order), size)]
    rng.shuffle(chunks)
    return chunks


def accuracy(model, examples, size=256):
    model.eval()
    correct = 0
    with torch.no_grad():
        order = sorted(range(len(examples)), key=lambda i: -len(examples[i][0]))
        for k in range(0, len(order), size):
            chunk = order[k:k + size]
            logits = model([examples[i][0] for i in chunk])
            correct += sum(int(p == examples[i][1]) for p, i in zip(logits.argmax(1).tolist(), chunk))
    model.train()
    return correct / max(1, len(examples))


def run_pytorch(train_rows, test_rows, args):
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    start = time.time()
    rows = list(train_rows)
    rng.shuffle(rows)
    n_dev = max(1, round(0.1 * len(rows)))
    dev_rows, fit_rows = rows[:n_dev], rows[n_dev:]
    tokenized = [tokens(t, args.max_length) for t, _ in fit_rows]
    counts = {}
    for ts in tokenized:
        for t in ts:
            counts[t] = counts.get(t, 0) + 1
    kept = sorted((t for t, c in counts.items() if c >= 3), key=lambda t: (-counts[t], t))[:40000 - 2]
    ids = {t: i + 2 for i, t in enumerate(kept)}
    labels = sorted({l for _, l in fit_rows})
    lid = {l: i for i, l in enumerate(labels)}

    def encode(rows_, toks=None):
        out = []
        for k, (t, l) in enumerate(rows_):
            ts = toks[k] if toks is not None else tokens(t, args.max_length)
            if ts and l in lid:
                out.append((torch.tensor([ids.get(x, 1) for x in ts]), lid[l]))
        return out

    fit, dev = encode(fit_rows, tokenized), encode(dev_rows)
    model = Classifier(len(ids) + 2, len(labels))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    best, best_state, epoch_times = -1.0, None, []
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        for chunk in batches(fit, 32, rng):
            optimizer.zero_grad()
            loss = loss_fn(model([fit[i][0] for i in chunk]), torch.tensor([fit[i][1] for i in chunk]))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5)
            optimizer.step()
            if args.time_limit and time.time() - start > args.time_limit * 60:
                break
        epoch_times.append(time.time() - t0)
        acc = accuracy(model, dev)
        print(f"  pytorch epoch {epoch}: dev accuracy {acc:.4f}, {epoch_times[-1]:.1f} s", file=sys.stderr)
        if acc > best:
            best, best_state = acc, {k: v.clone() for k, v in model.state_dict().items()}
        if args.time_limit and time.time() - start > args.time_limit * 60:
            break
    train_seconds = time.time() - start
    model.load_state_dict(best_state)
    t0 = time.time()
    test = encode(test_rows)  # tokenising is part of classifying, as on the SeqModels side
    test_acc = accuracy(model, test)
    return {"accuracy": test_acc, "train_seconds": train_seconds, "epoch_seconds": epoch_times,
            "test_rate": len(test) / (time.time() - t0)}


def run_seqmodels(binary, train_rows, test_rows, args):
    with tempfile.TemporaryDirectory() as tmp:
        train_path, test_path, model = (os.path.join(tmp, n) for n in ("train.csv", "test.csv", "model"))
        write(train_path, train_rows)
        write(test_path, test_rows)
        command = [binary, "classify", "train", "--train", train_path, "--model", model,
                   "--epochs", str(args.epochs), "--seed", str(args.seed), "--patience", str(args.epochs),
                   "--threads", str(args.threads)]
        if args.time_limit:
            command += ["--time-limit", str(args.time_limit)]
        start = time.time()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        train_seconds = time.time() - start
        epochs = []
        with open(os.path.join(model, "metrics.jsonl")) as f:
            for line in f:
                record = json.loads(line)
                epochs.append(record.get("train_seconds", record.get("seconds", 0)))
        out = subprocess.run([binary, "classify", "eval", "--model", model, "--test", test_path,
                              "--threads", str(args.threads)], check=True, capture_output=True, text=True).stdout
        # Last line: "<seconds> s, <rate> texts/s", timed around reading, tokenising and classifying
        # (not process start and model loading), as the PyTorch side times its test pass.
        accuracy = float(re.search(r"accuracy:\s*([\d.]+)%", out).group(1)) / 100
        rate = float(re.search(r"([\d.]+) texts/s", out).group(1))
        return {"accuracy": accuracy, "train_seconds": train_seconds, "epoch_seconds": epochs, "test_rate": rate}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--limit", type=int, default=0, help="use a seeded sample of this many train and test rows")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--time-limit", type=float, default=0, help="minutes of training per side")
    parser.add_argument("--max-length", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seqmodels", help="path to a release seqmodels binary; omit to run PyTorch only")
    parser.add_argument("--skip-pytorch", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train_rows, test_rows = read(args.train, args.limit, args.seed), read(args.test, args.limit, args.seed + 1)
    print(f"{len(train_rows)} training rows, {len(test_rows)} test rows, {args.epochs} epochs, {args.threads} threads")
    results = {}
    if args.seqmodels:
        results["SeqModels"] = run_seqmodels(args.seqmodels, train_rows, test_rows, args)
    if not args.skip_pytorch:
        results["PyTorch " + torch.__version__] = run_pytorch(train_rows, test_rows, args)
    print(f"{'':22} {'test acc':>9} {'train s':>9} {'s/epoch':>9} {'test texts/s':>13}")
    for name, r in results.items():
        per_epoch = sum(r["epoch_seconds"]) / max(1, len(r["epoch_seconds"]))
        print(f"{name:22} {100 * r['accuracy']:8.2f}% {r['train_seconds']:9.1f} {per_epoch:9.1f} {r['test_rate']:13.0f}")


if __name__ == "__main__":
    main()
