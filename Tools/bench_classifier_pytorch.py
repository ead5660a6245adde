#!/usr/bin/env python3
"""Train the same BiLSTM review classifier with SeqModels and with PyTorch on the same data,
and print test accuracy, macro-F1, training time, epochs and classification speed side by side.

SeqModels runs as `seqmodels classify train` with its default hyperparameters: at the default
shape the command is literally

    seqmodels classify train --train TRAIN --model DIR --time-limit M --threads N --seed S

and `--hidden`, `--embedding`, `--max-length`, `--epochs` are passed on (as `--hidden-size`,
`--embedding-dimension`, `--max-length`, `--epochs`) only when they differ from the defaults.
The PyTorch model mirrors `TextClassifier` with those defaults (`ClassifierHyperparameters`,
`ClassifyTrainCommand.trainerDefaults`):

- Text: lowercased word tokens, `<br />` removed, punctuation split off (a regex close to
  `WordTokenizer`, which differs only on rare cases such as `3.5`), at most 600 tokens (the
  first 300 and the last 300).
- Split: the same 10% of the training file held out for development as SeqModels
  (`splitForDevelopment`: a Fisher-Yates shuffle with `SeededGenerator`, mirrored here bit for
  bit, so both sides fit and select on the same reviews).
- Vocabulary: tokens of the fitting part seen at least 3 times, most frequent first, at most
  40,000 entries with <pad> = 0 and <unk> = 1.
- Model: Embedding(128, padding_idx=0) -> dropout 0.5 -> 1-layer bidirectional LSTM(48 per
  direction) over a packed batch -> max and mean pooling over the real tokens -> dropout 0.5 ->
  Linear, plus a bag of n-grams -> cross-entropy. Parameter names match SeqModels'
  (`embedding.weight`, `lstm.weight_ih_l0_reverse`, `output.weight`, `ngrams.weight`).
- Bag of n-grams (`NGramFeatures`, `--ngrams 3`; 0 turns it off on both sides): the distinct
  1- to 3-grams of a text's tokens that occur in at least 2 fitting texts (at most 1,000,000,
  the most widespread first, ties by code points), an `nn.EmbeddingBag(mode="sum")` of one
  weight per label starting at zero, its output added to the logits; in training each feature
  of a text is dropped with probability 0.5 and the sum of the rest doubled.
- Training: Adam 1e-3, batches of 32 texts of similar length (sorted by length, ties at
  random, batches shuffled), gradient norm clipped at 5, at most 10 epochs, the learning rate
  halved by ReduceLROnPlateau(mode="max", factor=0.5, patience=1) on dev accuracy, early
  stopping after 3 complete epochs without a better dev accuracy, the time limit checked after every batch (the
  epoch it cuts is still evaluated); the best epoch by dev accuracy is kept and tested. With
  `--average-decay D` (both sides), an exponential moving average of the parameters (SeqModels'
  `ParameterAverage`, warm-up included) is what each epoch evaluates and what is kept.

Classification speed on the test file (reviews/s), both sides timed from opening the test CSV
to the last prediction: reading, tokenising, encoding and classifying, not process start or
model loading. SeqModels: `seqmodels classify eval --threads N` (its own timing, printed as
"<s> s, <rate> texts/s"). PyTorch: the same file, groups of 512 texts in file order, each
sorted by length and packed, under `torch.inference_mode()`, with N intra-op threads.

Training time is wall time: for SeqModels the whole `classify train` process (reading,
vocabulary, training, dev evaluations, checkpoints), for PyTorch the same steps in this
process. Epochs: complete ones (a cut last epoch does not count).

One after the other (each side gets the whole machine in turn):

    python3 Tools/bench_classifier_pytorch.py --time-limit 30 --threads 2

Both at once (`--concurrent`): SeqModels trains in a subprocess while PyTorch trains in this
process, each with `--threads N` BLAS / intra-op threads; then both classify the test set at
the same time too. On a 2-core machine `--concurrent --threads 1` is the fair way to share it:
one core each, the same wall clock, neither side disturbed by the other's threads. The
SeqModels training log then goes to a file (its path is printed) instead of the terminal.

    python3 Tools/bench_classifier_pytorch.py --concurrent --threads 1 --time-limit 30 --json-out imdb.json
    # smoke test (about 2 minutes):
    python3 Tools/bench_classifier_pytorch.py --limit 2000 --epochs 1 --concurrent --threads 1

The SeqModels model is written to `--seqmodels-model DIR` (default: a new temporary directory)
and kept, so it can be reused (`seqmodels classify eval --model DIR --test ...`). `--limit N`
uses a seeded sample of N training and N test reviews. `--json-out FILE` writes the table as
JSON. Build the binary first: `swift build -c release --product seqmodels`.
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
import threading
import time

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqmodels_text import ngram_ids, ngrams, word_tokens
from shared_corpora import shared_corpus

csv.field_size_limit(sys.maxsize)
MASK64 = (1 << 64) - 1

# `seqmodels classify train`'s defaults (ClassifierHyperparameters, ClassifyTrainCommand.trainerDefaults).
DEFAULT_HIDDEN = 48
DEFAULT_EMBEDDING = 128
DEFAULT_MAX_LENGTH = 600
DEFAULT_EPOCHS = 10
DEFAULT_AVERAGE_DECAY = 0.0  # `ClassifyTrainCommand.trainerDefaults.parameterAveraging` (off); `--average-decay`
PATIENCE = 3
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
CLIP_NORM = 5.0
MIN_FREQUENCY = 3
MAX_VOCABULARY = 40_000
DEV_FRACTION = 0.1
DEFAULT_NGRAMS = 3  # NGramFeatures.Settings: order 3, in at least 2 texts, at most 1,000,000
NGRAM_MIN_COUNT = 2
MAX_NGRAMS = 1_000_000
NGRAM_DROPOUT = 0.5
TEST_BATCH = 512  # `seqmodels classify eval --batch-size` default


# MARK: - Data, as SeqModels prepares it


class SeededGenerator:
    """SeqModels' `SeededGenerator` (xoshiro256** seeded by SplitMix64) and its
    `nextInt(below:)` (Swift's `next(upperBound:)`, Lemire's method) and `shuffle`."""

    def __init__(self, seed):
        s = seed & MASK64
        state = []
        for _ in range(4):
            s = (s + 0x9E3779B97F4A7C15) & MASK64
            z = s
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            state.append(z ^ (z >> 31))
        self.s = state

    @staticmethod
    def _rotate(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK64

    def next(self):
        s0, s1, s2, s3 = self.s
        result = (self._rotate((s1 * 5) & MASK64, 7) * 9) & MASK64
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = self._rotate(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def next_int_below(self, bound):
        m = self.next() * bound
        if m & MASK64 < bound:
            t = ((1 << 64) - bound) % bound
            while m & MASK64 < t:
                m = self.next() * bound
        return m >> 64

    def shuffle(self, items):
        for i in range(len(items) - 1, 0, -1):
            j = self.next_int_below(i + 1)
            if i != j:
                items[i], items[j] = items[j], items[i]


def split_for_development(rows, fraction, seed):
    """`splitForDevelopment`: (fit, dev), each in file order."""
    order = list(range(len(rows)))
    SeededGenerator(seed).shuffle(order)
    x = fraction * len(rows)
    dev_count = min(len(rows) - 1, max(1, int(x + 0.5)))  # Swift's rounded(): half away from zero (x >= 0)
    return [rows[i] for i in sorted(order[dev_count:])], [rows[i] for i in sorted(order[:dev_count])]


def read(path, limit, seed):
    """(text, label) rows of a CSV with `text` and `label` columns; a seeded sample of `limit` rows if given."""
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


def vocabulary(tokenized):
    """`Vocabulary(counting:minFrequency:maxSize:)`: token -> id, most frequent first (ties by code points)."""
    counts = {}
    for ts in tokenized:
        for t in ts:
            counts[t] = counts.get(t, 0) + 1
    kept = sorted((t for t, c in counts.items() if c >= MIN_FREQUENCY), key=lambda t: (-counts[t], t))
    return {t: i + 2 for i, t in enumerate(kept[:MAX_VOCABULARY - 2])}


def ngram_features(tokenized, order):
    """`NGramFeatures(counting:settings:)`: n-gram -> id, in at least NGRAM_MIN_COUNT texts, most widespread first."""
    if order == 0:
        return {}
    counts = {}
    for ts in tokenized:
        for g in ngrams(ts, order):
            counts[g] = counts.get(g, 0) + 1
    kept = sorted((g for g, c in counts.items() if c >= NGRAM_MIN_COUNT), key=lambda g: (-counts[g], g))
    return {g: i for i, g in enumerate(kept[:MAX_NGRAMS])}


# MARK: - The PyTorch model


class Classifier(nn.Module):
    """TextClassifier's shape: embedding -> dropout -> BiLSTM -> max+mean pooling -> dropout -> Linear."""

    def __init__(self, vocab, labels, embedding=DEFAULT_EMBEDDING, hidden=DEFAULT_HIDDEN,
                 embedding_dropout=0.5, dropout=0.5, ngram_count=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embedding, padding_idx=0)
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.lstm = nn.LSTM(embedding, hidden, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(4 * hidden, labels)
        self.ngrams = None
        if ngram_count:
            self.ngrams = nn.EmbeddingBag(ngram_count, labels, mode="sum")
            nn.init.zeros_(self.ngrams.weight)

    def bag(self, features):
        """The bag's logits (B, labels) for lists of feature ids, with feature dropout in training."""
        scale = 1.0
        if self.training:
            features = [[f for f in fs if random.random() >= NGRAM_DROPOUT] for fs in features]
            scale = 1 / (1 - NGRAM_DROPOUT)
        flat = torch.tensor([f for fs in features for f in fs], dtype=torch.long)
        offsets = torch.tensor([0] + [len(fs) for fs in features[:-1]], dtype=torch.long).cumsum(0)
        return self.ngrams(flat, offsets) * scale

    def forward(self, ids, lengths, features=None):
        """ids (B, T) padded with 0, rows by non-increasing length; lengths (B,); feature ids per row -> logits (B, labels)."""
        x = self.embedding_dropout(self.embedding(ids))
        out, _ = self.lstm(pack_padded_sequence(x, lengths, batch_first=True))
        padded, _ = pad_packed_sequence(out, batch_first=True, padding_value=float("-inf"))
        maxed = padded.max(dim=1).values
        mask = (torch.arange(padded.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(2)
        mean = torch.where(mask, padded, torch.zeros(())).sum(dim=1) / lengths.unsqueeze(1)
        logits = self.output(self.dropout(torch.cat([maxed, mean], dim=1)))
        return logits + self.bag(features) if self.ngrams is not None else logits


def collate(sequences):
    """Padded ids (B, T), lengths (B,) and the order (indices into `sequences`), longest first."""
    order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
    lengths = torch.tensor([len(sequences[i]) for i in order])
    ids = torch.zeros(len(order), int(lengths[0]), dtype=torch.long)
    for row, i in enumerate(order):
        ids[row, :len(sequences[i])] = torch.tensor(sequences[i])
    return ids, lengths, order


def predict(model, sequences, features):
    """Predicted label ids of `sequences` (lists of token ids, with their feature ids), in their order."""
    ids, lengths, order = collate(sequences)
    predicted = model(ids, lengths, [features[i] for i in order]).argmax(1).tolist()
    out = [0] * len(sequences)
    for p, i in zip(predicted, order):
        out[i] = p
    return out


def dev_accuracy(model, examples):
    model.eval()
    correct = 0
    with torch.inference_mode():
        for k in range(0, len(examples), TEST_BATCH):
            chunk = examples[k:k + TEST_BATCH]
            predicted = predict(model, [x for x, _, _ in chunk], [f for _, f, _ in chunk])
            correct += sum(int(p == y) for p, (_, _, y) in zip(predicted, chunk))
    model.train()
    return correct / max(1, len(examples))


class ParameterAverage:
    """SeqModels' `ParameterAverage`: after every step a <- d*a + (1 - d)*p with
    d = min(decay, (1 + n) / (10 + n)) for update n; evaluated and kept in place of the parameters."""

    def __init__(self, model, decay):
        self.decay, self.updates = decay, 0
        self.values = [p.detach().clone() for p in model.parameters()]

    @torch.no_grad()
    def update(self, model):
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for a, p in zip(self.values, model.parameters()):
            a.mul_(d).add_(p, alpha=1 - d)
        self.updates += 1

    @torch.no_grad()
    def exchange(self, model):
        """Swaps the model's parameters with the averages (twice restores both)."""
        for a, p in zip(self.values, model.parameters()):
            current = p.detach().clone()
            p.copy_(a)
            a.copy_(current)


def length_batches(examples, rng):
    """LengthBucketBatcher: by decreasing length (ties at random), cut into batches, batches shuffled."""
    keys = [(-len(x), rng.random()) for x, _, _ in examples]
    order = sorted(range(len(examples)), key=lambda i: keys[i])
    chunks = [order[i:i + BATCH_SIZE] for i in range(0, len(order), BATCH_SIZE)]
    rng.shuffle(chunks)
    return chunks


def train_pytorch(train_rows, args, log=sys.stderr):
    """Trains on `train_rows` (dev held out as SeqModels does); returns the best model, its
    vocabulary, n-gram features and labels, and the training figures."""
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    rng = random.Random(args.seed)
    began = time.monotonic()
    deadline = began + args.time_limit * 60 if args.time_limit else None
    fit_rows, dev_rows = split_for_development(train_rows, DEV_FRACTION, args.seed)
    tokenized = [word_tokens(t, args.max_length) for t, _ in fit_rows]
    ids = vocabulary(tokenized)
    features = ngram_features(tokenized, args.ngrams)
    labels = sorted({l for _, l in fit_rows})
    label_ids = {l: i for i, l in enumerate(labels)}
    fit = [([ids.get(x, 1) for x in ts], ngram_ids(ts, features, args.ngrams), label_ids[l])
           for ts, (_, l) in zip(tokenized, fit_rows) if ts]
    dev = [([ids.get(x, 1) for x in ts], ngram_ids(ts, features, args.ngrams), label_ids[l])
           for ts, l in ((word_tokens(t, args.max_length), l) for t, l in dev_rows) if ts and l in label_ids]
    model = Classifier(len(ids) + 2, len(labels), args.embedding, args.hidden, ngram_count=len(features))
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=1)
    loss_fn = nn.CrossEntropyLoss()
    average = ParameterAverage(model, args.average_decay) if args.average_decay else None
    best, best_state, best_epoch, records = -1.0, None, 0, []
    without_improvement, completed = 0, 0
    while completed < args.epochs:
        epoch_start = time.monotonic()
        chunks = length_batches(fit, rng)
        done, time_is_up = 0, False
        for chunk in chunks:
            batch_ids, lengths, order = collate([fit[i][0] for i in chunk])
            targets = torch.tensor([fit[chunk[k]][2] for k in order])
            optimizer.zero_grad()
            loss = loss_fn(model(batch_ids, lengths, [fit[chunk[k]][1] for k in order]), targets)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
            optimizer.step()
            if average:
                average.update(model)
            done += 1
            if deadline and time.monotonic() >= deadline:
                time_is_up = True
                break
        complete = done == len(chunks)
        if average:
            average.exchange(model)
        accuracy = dev_accuracy(model, dev)
        records.append({"epoch": len(records) + 1, "complete": complete, "dev_accuracy": accuracy,
                        "seconds": time.monotonic() - epoch_start})
        print(f"pytorch epoch {len(records)}{'' if complete else ' (cut)'}: dev accuracy {accuracy:.4f}, "
              f"{records[-1]['seconds']:.1f} s", file=log, flush=True)
        if accuracy > best:
            best, best_epoch, without_improvement = accuracy, len(records), 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        elif complete:
            without_improvement += 1
        if average:
            average.exchange(model)
        if not complete:
            break
        completed += 1
        scheduler.step(accuracy)
        if time_is_up or (deadline and time.monotonic() >= deadline):
            break
        if without_improvement >= PATIENCE and completed < args.epochs:
            print(f"pytorch: no better dev accuracy for {PATIENCE} epochs: stopping early", file=log, flush=True)
            break
    train_seconds = time.monotonic() - began
    model.load_state_dict(best_state)
    model.eval()
    return model, (ids, features), labels, {"train_seconds": train_seconds, "epochs": completed, "best_epoch": best_epoch,
                                "dev_accuracy": best, "epoch_records": records}


def macro_f1(confusion):
    """Mean per-label F1 (0 where undefined, as ConfusionMatrix.macroF1) of counts[gold][predicted]."""
    n = len(confusion)
    scores = []
    for c in range(n):
        tp = confusion[c][c]
        predicted = sum(confusion[g][c] for g in range(n))
        support = sum(confusion[c])
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / n if n else 0.0


def evaluate_pytorch(model, encoders, labels, test_path, max_length, order):
    """Accuracy, macro-F1, rows, seconds and reviews/s on a test CSV, timed from opening the file."""
    ids, features = encoders
    label_ids = {l: i for i, l in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    start = time.monotonic()
    with torch.inference_mode(), open(test_path, newline="", encoding="utf-8") as f:
        pending = []

        def flush():
            sequences, bags, gold = [], [], []
            for line, (text, label) in pending:
                ts = word_tokens(text, max_length)
                if not ts:
                    sys.exit(f"{test_path}:{line}: the text is empty (no tokens to classify)")
                if label not in label_ids:
                    sys.exit(f"{test_path}:{line}: label '{label}' was not seen in training ({', '.join(labels)})")
                sequences.append([ids.get(x, 1) for x in ts])
                bags.append(ngram_ids(ts, features, order))
                gold.append(label_ids[label])
            for g, p in zip(gold, predict(model, sequences, bags)):
                confusion[g][p] += 1
            pending.clear()

        reader = csv.DictReader(f)
        for row in reader:
            pending.append((reader.line_num, (row["text"], row["label"])))
            if len(pending) == TEST_BATCH:
                flush()
        if pending:
            flush()
    seconds = time.monotonic() - start
    rows = sum(map(sum, confusion))
    return {"accuracy": sum(confusion[c][c] for c in range(len(labels))) / max(1, rows),
            "macro_f1": macro_f1(confusion), "test_rows": rows, "test_seconds": seconds,
            "reviews_per_second": rows / max(seconds, 1e-9)}


# MARK: - The SeqModels side


def seqmodels_train_command(args, train_path, model_dir):
    command = [args.seqmodels, "classify", "train", "--train", train_path, "--model", model_dir]
    for flag, value, default in [("--hidden-size", args.hidden, DEFAULT_HIDDEN),
                                 ("--embedding-dimension", args.embedding, DEFAULT_EMBEDDING),
                                 ("--max-length", args.max_length, DEFAULT_MAX_LENGTH),
                                 ("--epochs", args.epochs, DEFAULT_EPOCHS),
                                 ("--average-decay", args.average_decay, DEFAULT_AVERAGE_DECAY),
                                 ("--ngrams", args.ngrams, DEFAULT_NGRAMS)]:
        if value != default:
            command += [flag, str(value)]
    if args.time_limit:
        command += ["--time-limit", f"{args.time_limit:g}"]
    return command + ["--threads", str(args.threads), "--seed", str(args.seed)]


def seqmodels_eval_command(args, test_path, model_dir):
    return [args.seqmodels, "classify", "eval", "--model", model_dir, "--test", test_path, "--threads", str(args.threads)]


def seqmodels_training_figures(model_dir, train_seconds):
    with open(os.path.join(model_dir, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    best = max((r for r in records if r.get("is_best")), key=lambda r: r["epoch"], default=None)
    return {"train_seconds": train_seconds, "epochs": sum(1 for r in records if r["complete"]),
            "best_epoch": best["epoch"] if best else 0, "dev_accuracy": best["dev_metric"] if best else float("nan"),
            "epoch_records": [{"epoch": r["epoch"], "complete": r["complete"], "dev_accuracy": r["dev_metric"],
                               "seconds": r["seconds"]} for r in records]}


def parse_seqmodels_eval(output):
    """Figures from `classify eval`'s text report; its last line is "<s> s, <rate> texts/s"."""
    def number(pattern):
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            sys.exit(f"unexpected `seqmodels classify eval` output (no match for {pattern!r}):\n{output}")
        return float(match.group(1))
    return {"accuracy": number(r"^accuracy:\s*([\d.]+)%") / 100, "macro_f1": number(r"^macro-F1:\s*([\d.]+)%") / 100,
            "test_rows": int(number(r"^rows:\s*(\d+)")), "test_seconds": number(r"^([\d.]+) s, [\d.]+ texts/s"),
            "reviews_per_second": number(r"([\d.]+) texts/s")}


def run_checked(command, **kwargs):
    result = subprocess.run(command, **kwargs)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed (exit {result.returncode})"
                 + (f":\n{result.stderr}" if isinstance(result.stderr, str) else ""))
    return result


# MARK: - Both sides


def print_table(results, args, counts):
    mode = "at the same time" if args.concurrent else "one after the other"
    limit = f"{args.time_limit:g} min limit" if args.time_limit else "no time limit"
    print(f"\n{counts[0]} training reviews (10% held out for dev), {counts[1]} test reviews; "
          f"embedding {args.embedding}, BiLSTM {args.hidden} per direction, max length {args.max_length}, "
          f"{f'bag of 1- to {args.ngrams}-grams' if args.ngrams else 'no bag of n-grams'}, "
          f"at most {args.epochs} epochs, {limit}; {mode}, {args.threads} thread{'s' if args.threads != 1 else ''} each")
    print(f"  {'':16s} {'test acc':>8s} {'macro-F1':>8s} {'train s':>8s} {'epochs':>6s} {'best':>4s} "
          f"{'dev acc':>7s} {'test reviews/s':>14s}")
    for name, r in results.items():
        print(f"  {name:16s} {100 * r['accuracy']:7.2f}% {100 * r['macro_f1']:7.2f}% {r['train_seconds']:8.1f} "
              f"{r['epochs']:6d} {r['best_epoch']:4d} {100 * r['dev_accuracy']:6.2f}% {r['reviews_per_second']:14,.0f}")
    print("  (train s: wall time of training incl. reading and vocabulary; epochs: complete ones; best: the epoch kept;\n"
          "   test reviews/s: reading, tokenising and classifying the test CSV)")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", help="training CSV (text,label; default: IMDB train.csv in ../shared)")
    parser.add_argument("--test", help="test CSV (default: IMDB test.csv in ../shared)")
    parser.add_argument("--limit", type=int, default=0, help="use a seeded sample of this many train and test rows")
    parser.add_argument("--hidden", type=int, default=DEFAULT_HIDDEN, help="LSTM units per direction")
    parser.add_argument("--embedding", type=int, default=DEFAULT_EMBEDDING, help="embedding dimension")
    parser.add_argument("--max-length", type=int, default=DEFAULT_MAX_LENGTH, help="most tokens per text (head+tail); 0: all")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="most epochs")
    parser.add_argument("--ngrams", type=int, default=DEFAULT_NGRAMS, help="longest n-gram of the bag beside the LSTM; 0: none")
    parser.add_argument("--average-decay", type=float, default=DEFAULT_AVERAGE_DECAY,
                        help="decay of a parameter average evaluated and kept instead of the parameters (both sides); 0: off")
    parser.add_argument("--time-limit", type=float, default=30, help="minutes of training per side; 0: none")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="BLAS / torch intra-op threads per side")
    parser.add_argument("--concurrent", action="store_true",
                        help="run both sides at the same time (SeqModels as a subprocess); use with --threads 1 on 2 cores")
    parser.add_argument("--seqmodels", default=os.path.join(root, ".build", "release", "seqmodels"))
    parser.add_argument("--seqmodels-model", help="directory for the SeqModels model, kept (default: a new temporary one)")
    parser.add_argument("--skip-seqmodels", action="store_true", help="run the PyTorch side alone")
    parser.add_argument("--skip-pytorch", action="store_true", help="run the SeqModels side alone")
    parser.add_argument("--json-out", help="also write the results as JSON to this file")
    args = parser.parse_args()
    if args.threads < 1 or args.hidden < 1 or args.embedding < 1 or args.epochs < 1:
        parser.error("--threads, --hidden, --embedding and --epochs must be positive")
    if not 0 <= args.average_decay < 1:
        parser.error("--average-decay must be in [0, 1)")
    if args.max_length < 0 or args.time_limit < 0 or args.limit < 0 or args.ngrams < 0:
        parser.error("--max-length, --time-limit, --limit and --ngrams must not be negative")
    if args.concurrent and (args.skip_seqmodels or args.skip_pytorch):
        parser.error("--concurrent needs both sides: drop --skip-seqmodels / --skip-pytorch")
    if args.skip_seqmodels and args.skip_pytorch:
        parser.error("nothing to run")
    if not args.skip_seqmodels and not os.access(args.seqmodels, os.X_OK):
        parser.error(f"{args.seqmodels}: no seqmodels binary; build it with `swift build -c release --product seqmodels` "
                     "or pass --seqmodels PATH (or --skip-seqmodels)")
    args.train = args.train or shared_corpus("sentiment", "imdb", "train.csv")
    args.test = args.test or shared_corpus("sentiment", "imdb", "test.csv")
    torch.set_num_threads(args.threads)
    try:
        train_rows, test_rows = read(args.train, args.limit, args.seed), read(args.test, args.limit, args.seed + 1)
    except (OSError, KeyError) as error:
        parser.error(f"cannot read the data (a CSV with text and label columns): {error!r}")
    print(f"{len(train_rows)} training rows, {len(test_rows)} test rows, at most {args.epochs} epochs, "
          f"{args.threads} thread{'s' if args.threads != 1 else ''} each", file=sys.stderr)

    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        # The sample both sides see; without --limit the original files (the same rows, in order).
        train_path, test_path = args.train, args.test
        if args.limit:
            train_path, test_path = os.path.join(scratch, "train.csv"), os.path.join(scratch, "test.csv")
            write(train_path, train_rows)
            write(test_path, test_rows)
        model_dir = args.seqmodels_model or tempfile.mkdtemp(prefix="bench_classifier_seqmodels_")
        train_command = seqmodels_train_command(args, train_path, model_dir)
        eval_command = seqmodels_eval_command(args, test_path, model_dir)
        if not args.skip_seqmodels:
            print("SeqModels: " + " ".join(train_command), file=sys.stderr)
            print(f"SeqModels model (kept): {model_dir}", file=sys.stderr)

        if args.concurrent:
            log_path = os.path.join(tempfile.gettempdir(), f"bench_classifier_seqmodels_{os.getpid()}.log")
            print(f"SeqModels log: {log_path}", file=sys.stderr)
            with open(log_path, "w") as log:
                finished, evaluator = {}, None
                start = time.monotonic()
                process = subprocess.Popen(train_command, stdout=log, stderr=subprocess.STDOUT)
                waiter = threading.Thread(target=lambda: finished.update(code=process.wait(), at=time.monotonic()))
                waiter.start()
                try:
                    model, ids, labels, pytorch = train_pytorch(train_rows, args)
                    waiter.join()
                    if finished["code"] != 0:
                        log.flush()
                        with open(log_path) as f:
                            sys.exit(f"seqmodels classify train failed (exit {finished['code']}); its log ends:\n"
                                     + "".join(f.readlines()[-20:]))
                    seqmodels = seqmodels_training_figures(model_dir, finished["at"] - start)
                    # Then both classify the test set at the same time, again one thread set each.
                    eval_out = os.path.join(scratch, "eval.txt")
                    with open(eval_out, "w") as out:
                        evaluator = subprocess.Popen(eval_command, stdout=out, stderr=subprocess.STDOUT)
                        pytorch.update(evaluate_pytorch(model, ids, labels, test_path, args.max_length, args.ngrams))
                        code = evaluator.wait()
                except BaseException:  # Ctrl-C or a failure here: do not leave a subprocess running
                    for p in (process, evaluator):
                        if p is not None and p.poll() is None:
                            p.terminate()
                            p.wait()
                    raise
            with open(eval_out) as f:
                text = f.read()
            if code != 0:
                sys.exit(f"seqmodels classify eval failed (exit {code}):\n{text}")
            seqmodels.update(parse_seqmodels_eval(text))
            results["SeqModels"] = seqmodels
        else:
            if not args.skip_seqmodels:
                start = time.monotonic()
                run_checked(train_command, stdout=subprocess.DEVNULL)
                seqmodels = seqmodels_training_figures(model_dir, time.monotonic() - start)
                text = run_checked(eval_command, capture_output=True, text=True).stdout
                seqmodels.update(parse_seqmodels_eval(text))
                results["SeqModels"] = seqmodels
            if not args.skip_pytorch:
                model, ids, labels, pytorch = train_pytorch(train_rows, args)
                pytorch.update(evaluate_pytorch(model, ids, labels, test_path, args.max_length, args.ngrams))
        if not args.skip_pytorch:
            results["PyTorch " + torch.__version__.split("+")[0]] = pytorch

    print_table(results, args, (len(train_rows), len(test_rows)))
    if args.json_out:
        settings = {k: getattr(args, k) for k in ("train", "test", "limit", "hidden", "embedding", "max_length", "ngrams",
                                                  "epochs", "time_limit", "seed", "threads", "concurrent")}
        settings.update(train_rows=len(train_rows), test_rows=len(test_rows), torch=torch.__version__,
                        seqmodels_model=None if args.skip_seqmodels else model_dir,
                        seqmodels_command=None if args.skip_seqmodels else train_command)
        with open(args.json_out, "w") as f:
            json.dump({"settings": settings, "results": results}, f, indent=2)
            f.write("\n")
        print(f"wrote {args.json_out}", file=sys.stderr)


if __name__ == "__main__":
    main()
