#!/usr/bin/env python3
"""Train the same-shaped character LSTM language model with SeqModels and with PyTorch for
the same wall time on tinyshakespeare, and print both validation losses (nats/char) side by side.

Both sides do the same thing, as `seqmodels generate train` does with its defaults
(Sources/Tasks/Generator/GeneratorData.swift, GeneratorTraining.swift,
`GeneratorRecipe.defaultTrainerOptions`):

- Model: embedding 64 -> 2-layer LSTM 256 -> Linear over the vocabulary, dropout 0.1 on the
  embeddings, between the layers and on the LSTM output. Vocabulary: `<pad> <unk> <bos> <eos>`
  and the characters (Swift `Character`s: grapheme clusters) of the training part.
- Split: the last 10% of the characters (rounded half away from zero) for validation, the
  rest for training.
- `--sampling consecutive` (the default on both sides; char-rnn's and PyTorch
  word_language_model's `batchify` + `repackage_hidden`): the training stream's predictions
  are cut into 32 contiguous lanes (the batch size; when they do not divide evenly the first
  lanes get one prediction more, so no token is dropped), every lane into chunks of 100;
  batch k = chunk k of every lane that still has one, in lane order, the same order every
  epoch. The LSTM state at the end of batch k starts batch k+1 (detached: gradients are cut
  between batches) and is reset to zero at the start of each epoch. The last batch may be
  shorter, and its first lanes one step longer than the others: it runs as a packed sequence.
- `--sampling random`: the stream cut into chunks of 100 (the last one shorter), each from a
  zero state; every epoch the chunks are ordered by decreasing length (ties at random), cut
  into batches of 32 and the batches shuffled (SeqModels' `LengthBucketBatcher`).
- Optimisation: Adam 2e-3 on the mean cross-entropy of each batch's tokens, gradient norm
  clipped at 5, learning rate halved after more than 1 epoch without a better validation loss
  (`ReduceLROnPlateau(factor=0.5, patience=1)`, stepped after complete epochs only).
- Time: the limit is checked after every batch; the epoch it cuts is still evaluated.
- Validation: the held-out part cut into 16 consecutive lanes (the last one takes the
  remainder), each run from a zero state to its end in windows of 128 steps with the state
  carried; loss = summed cross-entropy / predicted tokens (what `seqmodels generate eval`
  reports). The best validation loss of the run is reported, with its perplexity.

One after the other (each side gets the whole machine in turn):

    python3 Tools/bench_generator_pytorch.py --minutes 30 --threads 2 \\
        --seqmodels .build/release/seqmodels --text ../shared/corpora/generation/tinyshakespeare.txt

Both at once (`--concurrent`): SeqModels trains in a subprocess while PyTorch trains in this
process, each with `--threads N` BLAS/intra-op threads. On a 2-core machine
`--concurrent --threads 1` is the fair way to share it: one core each, the same wall time,
neither side disturbed by the other's threads. The SeqModels log then goes to a file (its
path is printed) instead of the terminal.

    python3 Tools/bench_generator_pytorch.py --minutes 30 --concurrent --threads 1

The table printed at the end: best validation loss (nats/char) and perplexity, complete
epochs and training batches done, training tokens per second (training batches only,
evaluation excluded). `--skip-seqmodels` runs the PyTorch side alone; `--minutes 1` is a smoke
test. Build the binary first: `swift build -c release --product seqmodels`.
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
from torch.nn.utils.rnn import pack_padded_sequence

from shared_corpora import shared_corpus

SPECIALS = ["<pad>", "<unk>", "<bos>", "<eos>"]
UNKNOWN_ID = 1


class CharLSTM(nn.Module):
    """Names as SeqModels' LanguageModel: embedding., lstm., decoder."""

    def __init__(self, vocab, emb=64, hidden=256, layers=2, dropout=0.1):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, layers, dropout=dropout if layers > 1 else 0.0)
        self.decoder = nn.Linear(hidden, vocab)
        self.drop = nn.Dropout(dropout)

    def forward(self, ids, lengths=None, state=None):
        """ids (T, B) time-major; lengths: per-column lengths when they differ (then the columns
        must be in non-increasing length order). Returns logits (N, V) of the N real tokens in
        the order of `pack_padded_sequence(...).data` (time-major, (T*B) when lengths is None)
        and the state (h, c), each (layers, B, H), after each column's last real token."""
        x = self.drop(self.embedding(ids))
        if lengths is None:
            out, state = self.lstm(x, state)
            rows = out.reshape(-1, out.shape[-1])
        else:
            out, state = self.lstm(pack_padded_sequence(x, lengths, enforce_sorted=True), state)
            rows = out.data
        return self.decoder(self.drop(rows)), state


def real_targets(targets, lengths):
    """The targets of the real tokens, in the row order of `CharLSTM.forward`'s logits."""
    if lengths is None:
        return targets.reshape(-1)
    return pack_padded_sequence(targets, lengths, enforce_sorted=True).data


# MARK: - Data, as GeneratorData.swift


def tokenize_characters(text):
    """Swift `Character`s (extended grapheme clusters): `regex`'s \\X when installed, else code
    points with "\\r\\n" kept as one token (identical for ASCII text such as tinyshakespeare)."""
    try:
        import regex
        return regex.findall(r"\X", text)
    except ImportError:
        tokens, i = [], 0
        while i < len(text):
            step = 2 if text.startswith("\r\n", i) else 1
            tokens.append(text[i:i + step])
            i += step
        return tokens


def split_and_encode(text, validation_fraction=0.1):
    """Training and validation ids (1-D long tensors) and the vocabulary size: specials first,
    then the training characters by decreasing count (ties by code points)."""
    tokens = tokenize_characters(text)
    validation_count = int(math.floor(len(tokens) * validation_fraction + 0.5))  # Swift's .rounded()
    train_tokens, valid_tokens = tokens[:len(tokens) - validation_count], tokens[len(tokens) - validation_count:]
    counts = {}
    for token in train_tokens:
        counts[token] = counts.get(token, 0) + 1
    ordered = sorted((t for t in counts if t not in SPECIALS), key=lambda t: (-counts[t], [ord(c) for c in t]))
    index = {t: i for i, t in enumerate(SPECIALS + ordered)}
    encode = lambda ts: torch.tensor([index.get(t, UNKNOWN_ID) for t in ts], dtype=torch.long)
    return encode(train_tokens), encode(valid_tokens), len(index)


def padded(ids, spans):
    """Inputs and targets (T, B) of the spans [(start, count)] of `ids` (count predictions each,
    in non-increasing order; padding 0), and their lengths (None when all are equal)."""
    longest = spans[0][1]
    inputs = torch.zeros(longest, len(spans), dtype=torch.long)
    targets = torch.zeros(longest, len(spans), dtype=torch.long)
    for column, (start, count) in enumerate(spans):
        inputs[:count, column] = ids[start:start + count]
        targets[:count, column] = ids[start + 1:start + count + 1]
    lengths = [count for _, count in spans]
    return inputs, targets, (None if lengths[0] == lengths[-1] else lengths)


def lane_batches(ids, lanes, length):
    """GeneratorData.laneChunks: the predictions cut into min(lanes, n) contiguous lanes (the first
    `n % lanes` one longer), batch k = chunk k of every lane that has one, in lane order (always a
    prefix of the lanes of batch k-1). Returns [(inputs, targets, lengths)]."""
    predictions = len(ids) - 1
    lane_count = min(lanes, predictions)
    base, extra = divmod(predictions, lane_count)
    starts = [lane * base + min(lane, extra) for lane in range(lane_count)]
    sizes = [base + (1 if lane < extra else 0) for lane in range(lane_count)]
    batches, offset = [], 0
    while offset < sizes[0]:
        spans = [(starts[lane] + offset, min(length, sizes[lane] - offset)) for lane in range(lane_count) if offset < sizes[lane]]
        batches.append(padded(ids, spans))
        offset += length
    return batches


def random_chunks(ids, length):
    """GeneratorData.chunks with stride = length: (start, predictions) of every chunk, the last one shorter."""
    chunks, start = [], 0
    while start + 1 < len(ids):
        end = min(start + length + 1, len(ids))
        chunks.append((start, end - 1 - start))
        if end == len(ids):
            break
        start += length
    return chunks


def random_batches(ids, chunks, batch_size, rng):
    """LengthBucketBatcher: chunks by decreasing length (ties at random), cut into batches, batches shuffled."""
    keys = [(-count, rng.random()) for _, count in chunks]
    order = sorted(range(len(chunks)), key=lambda i: keys[i])
    batches = [[chunks[i] for i in order[b:b + batch_size]] for b in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return [padded(ids, spans) for spans in batches]


def validation_lanes(ids, count=16):
    """GeneratorData.lanes: at most `count` consecutive pieces (the last takes the remainder), as
    (inputs, targets, lengths) with the columns longest first."""
    lane_count = max(1, min(count, len(ids) // 2))
    size = len(ids) // lane_count
    spans = [(lane * size, (len(ids) if lane == lane_count - 1 else lane * size + size) - lane * size - 1)
             for lane in range(lane_count)]
    spans.sort(key=lambda span: -span[1])
    inputs, targets, lengths = padded(ids, spans)
    return inputs, targets, lengths or [spans[0][1]] * len(spans)


def evaluate(model, lanes, window=128):
    """Mean cross-entropy (nats) per predicted token and the token count: every lane from a zero
    state to its end, in windows of `window` steps carrying the state of the lanes still live."""
    inputs, targets, lengths = lanes
    model.eval()
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for t0 in range(0, lengths[0], window):
            t1 = min(t0 + window, lengths[0])
            live = sum(1 for n in lengths if n > t0)
            window_lengths = [min(n, t1) - t0 for n in lengths[:live]]
            if window_lengths[-1] == t1 - t0:
                window_lengths = None
            if state is not None:
                state = tuple(s[:, :live].contiguous() for s in state)
            logits, state = model(inputs[t0:t1, :live], window_lengths, state)
            wanted = real_targets(targets[t0:t1, :live], window_lengths)
            total += nn.functional.cross_entropy(logits, wanted, reduction="sum").item()
            count += wanted.numel()
    model.train()
    return total / count, count


# MARK: - The two sides


def train_pytorch(text, minutes, seed, threads, sampling, seq=100, batch_size=32, log=sys.stderr):
    """Trains for `minutes` of wall time; returns the result row and the per-epoch records."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    torch.set_num_threads(threads)
    train_ids, valid_ids, vocabulary_size = split_and_encode(text)
    lanes = validation_lanes(valid_ids)
    if sampling == "consecutive":
        fixed_batches = lane_batches(train_ids, batch_size, seq)
    else:
        chunks = random_chunks(train_ids, seq)
    model = CharLSTM(vocabulary_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1)
    began = time.monotonic()
    deadline = began + minutes * 60
    records, time_is_up = [], False
    while not time_is_up:
        epoch_start = time.monotonic()
        batches = fixed_batches if sampling == "consecutive" else random_batches(train_ids, chunks, batch_size, rng)
        state, done, tokens, loss_sum = None, 0, 0, 0.0
        for inputs, targets, lengths in batches:
            if state is not None:  # repackage_hidden: values only, and the lanes still live (a prefix)
                state = tuple(s[:, :inputs.shape[1]].detach().contiguous() for s in state)
            logits, final_state = model(inputs, lengths, state)
            wanted = real_targets(targets, lengths)
            loss = nn.functional.cross_entropy(logits, wanted)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            if sampling == "consecutive":
                state = final_state
            done += 1
            tokens += wanted.numel()
            loss_sum += loss.item() * wanted.numel()
            if time.monotonic() >= deadline:
                time_is_up = True
                break
        train_seconds = time.monotonic() - epoch_start
        complete = done == len(batches)
        valid, valid_tokens = evaluate(model, lanes)
        records.append({"epoch": len(records) + 1, "complete": complete, "batches": done, "tokens": tokens,
                        "train_loss": loss_sum / max(tokens, 1), "dev_metric": valid, "valid_tokens": valid_tokens,
                        "learning_rate": optimizer.param_groups[0]["lr"], "tokens_per_second": tokens / train_seconds})
        print(f"pytorch epoch {len(records)}{'' if complete else ' (cut)'}: {done} batches, train {records[-1]['train_loss']:.4f}, "
              f"validation {valid:.4f} nats/char, {tokens / train_seconds:,.0f} train tok/s", file=log, flush=True)
        if not complete:
            break
        scheduler.step(valid)
        time_is_up = time_is_up or time.monotonic() >= deadline
    return records


def seqmodels_command(binary, path, directory, minutes, seed, threads, sampling):
    return [binary, "generate", "train", "--text", path, "--model", directory, "--time-limit", str(minutes),
            "--seed", str(seed), "--threads", str(threads), "--epochs", "1000", "--sample-length", "100",
            "--sampling", sampling]


def read_metrics(directory):
    with open(os.path.join(directory, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def summary(records):
    """Best validation loss, its perplexity, complete epochs, batches, training tokens/s, validation tokens."""
    best = min(records, key=lambda r: r["dev_metric"])
    # tokens_per_second counts training batches only: their time is tokens / tokens_per_second.
    train_seconds = sum(r["tokens"] / r["tokens_per_second"] for r in records if r["tokens_per_second"] > 0)
    tokens = sum(r["tokens"] for r in records)
    valid_tokens = best.get("valid_tokens", best.get("dev_details", {}).get("tokens"))
    return {"loss": best["dev_metric"], "perplexity": math.exp(best["dev_metric"]),
            "epochs": sum(1 for r in records if r["complete"]), "batches": sum(r["batches"] for r in records),
            "tokens_per_second": tokens / train_seconds if train_seconds > 0 else 0.0,
            "valid_tokens": int(valid_tokens) if valid_tokens is not None else None,
            "epoch_tokens": next((r["tokens"] for r in records if r["complete"]), None)}


def print_table(results, args):
    mode = "at the same time" if args.concurrent else "one after the other"
    print(f"{args.minutes:g} minutes of training each, {mode}, {args.threads} thread{'s' if args.threads != 1 else ''} each, "
          f"--sampling {args.sampling}, {os.path.basename(args.text)} (last 10% for validation):")
    print(f"  {'':10s} {'valid loss':>10s} {'perplexity':>10s} {'epochs':>6s} {'batches':>7s} {'train tok/s':>11s}")
    for name, row in results.items():
        print(f"  {name:10s} {row['loss']:10.4f} {row['perplexity']:10.3f} {row['epochs']:6d} {row['batches']:7d} "
              f"{row['tokens_per_second']:11,.0f}")
    print("  (valid loss: best of the run, nats/char; epochs: complete ones; train tok/s: training batches only)")
    for key, what in [("valid_tokens", "validation tokens"), ("epoch_tokens", "training tokens per epoch")]:
        values = {name: row[key] for name, row in results.items() if row[key] is not None}
        if len(set(values.values())) > 1:
            print(f"  warning: the sides differ in {what}: {values}: they do not see the same data", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", default=None,
                        help="the text (default: tinyshakespeare.txt in ../shared/corpora/generation beside the repository)")
    parser.add_argument("--minutes", type=float, default=30, help="wall time of training per side")
    parser.add_argument("--threads", type=int, default=2, help="BLAS / torch intra-op threads per side")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sampling", choices=["consecutive", "random"], default="consecutive",
                        help="training batches of both sides (default: consecutive, as seqmodels generate train)")
    parser.add_argument("--concurrent", action="store_true",
                        help="train both sides at the same time (SeqModels as a subprocess); use with --threads 1 on 2 cores")
    parser.add_argument("--seqmodels", default=".build/release/seqmodels")
    parser.add_argument("--skip-seqmodels", action="store_true", help="run the PyTorch side alone")
    args = parser.parse_args()
    if args.threads < 1 or args.minutes <= 0:
        parser.error("--threads must be at least 1 and --minutes positive")
    if args.concurrent and args.skip_seqmodels:
        parser.error("--concurrent needs both sides: drop --skip-seqmodels")
    if not args.skip_seqmodels and not os.access(args.seqmodels, os.X_OK):
        parser.error(f"{args.seqmodels}: no seqmodels binary; build it with `swift build -c release --product seqmodels` "
                     "or pass --seqmodels PATH (or --skip-seqmodels)")
    args.text = args.text or shared_corpus("generation", "tinyshakespeare.txt")
    try:
        with open(args.text, encoding="utf-8") as f:
            text = f.read()
    except OSError as error:
        parser.error(f"cannot read the text: {error}")

    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        model = os.path.join(scratch, "model")
        command = seqmodels_command(args.seqmodels, args.text, model, args.minutes, args.seed, args.threads, args.sampling)
        if args.concurrent:
            log_path = os.path.join(tempfile.gettempdir(), f"bench_generator_seqmodels_{os.getpid()}.log")
            print(f"SeqModels log: {log_path}", file=sys.stderr)
            with open(log_path, "w") as log:
                process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
                try:
                    pytorch = train_pytorch(text, args.minutes, args.seed, args.threads, args.sampling)
                except BaseException:  # Ctrl-C or a failure here: do not leave the subprocess training
                    process.terminate()
                    process.wait()
                    raise
                code = process.wait()
            if code != 0:
                with open(log_path) as log:
                    sys.exit(f"seqmodels failed (exit {code}); its log ends:\n" + "".join(log.readlines()[-20:]))
            results["SeqModels"] = summary(read_metrics(model))
        else:
            if not args.skip_seqmodels:
                subprocess.run(command, check=True)
                results["SeqModels"] = summary(read_metrics(model))
            pytorch = train_pytorch(text, args.minutes, args.seed, args.threads, args.sampling)
    results["PyTorch"] = summary(pytorch)
    print_table(results, args)


if __name__ == "__main__":
    main()
