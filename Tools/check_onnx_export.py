#!/usr/bin/env python3
"""Checks SeqModels' ONNX exports: `onnx.checker` on each file, then ONNX Runtime's outputs
against SeqModels' own on the same inputs, batches of mixed lengths included.

Two ways in:

  --cases FILE.json   cases written by the Swift test suite (`ONNXExportTests`): for each
                      exported model, the input arrays and SeqModels' outputs computed in
                      process. Used by `swift test` (which skips when onnxruntime is missing).
  --models DIR...     model directories (default: the demo's runs/tagger, runs/reviews,
                      runs/story, runs/poems): exports each with `seqmodels export`, makes a
                      batch of texts of 1 to 60 tokens from its own vocabulary (one-token and
                      one-character texts, unknown words, a word longer than the tagger's
                      character limit), encodes them from the JSON file beside the .onnx alone,
                      and compares with what the `seqmodels` command prints for the same texts
                      (`classify --json`, `tag --output json --probabilities`,
                      `generate --temperature 0 --length 200`, `generate eval --json`).

What must hold: max abs difference <= 1e-4 on probabilities (classifier labels, tagger tags:
softmax, or the CRF's marginals computed here by forward-backward from the exported scores and
transitions), identical argmax labels and tags (the CRF's by a Viterbi decoding here), identical
greedy generations for 200 steps, and the same validation loss within 1e-4 nats.

    bash Tools/install-dependencies.sh --onnx     # onnx, onnxruntime, numpy from PyPI
    python3 Tools/check_onnx_export.py --models runs/tagger runs/reviews runs/story runs/poems
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

from seqmodels_text import character_ids, language_model_reading, ngram_ids

TOLERANCE = 1e-4
failures = []


def check(condition, message):
    print(("ok    " if condition else "FAIL  ") + message)
    if not condition:
        failures.append(message)


def session(path, threads=1):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


# MARK: - CRF decoding from exported scores


def viterbi(scores, transitions, start, end):
    """Best tag path of one sentence: scores [T, K]."""
    score = start + scores[0]
    back = []
    for t in range(1, len(scores)):
        total = score[:, None] + transitions + scores[t][None, :]
        back.append(total.argmax(0))
        score = total.max(0)
    score = score + end
    path = [int(score.argmax())]
    for pointers in reversed(back):
        path.append(int(pointers[path[-1]]))
    return path[::-1]


def logsumexp(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def marginals(scores, transitions, start, end):
    """P(tag at t | sentence) by forward-backward: [T, K]."""
    T = len(scores)
    alpha = np.zeros_like(scores, dtype=np.float64)
    beta = np.zeros_like(scores, dtype=np.float64)
    alpha[0] = start + scores[0]
    for t in range(1, T):
        alpha[t] = logsumexp(alpha[t - 1][:, None] + transitions, 0) + scores[t]
    beta[T - 1] = end
    for t in range(T - 2, -1, -1):
        beta[t] = logsumexp(transitions + (scores[t + 1] + beta[t + 1])[None, :], 1)
    z = logsumexp(alpha[T - 1] + end, 0)
    return np.exp(alpha + beta - z)


# MARK: - Running each head


def pad(rows, value, dtype=np.int64):
    width = max(1, max(len(r) for r in rows))
    out = np.full((len(rows), width), value, dtype=dtype)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def run_classifier(sess, token_ids, bags, padding_id):
    feeds = {"token_ids": pad(token_ids, 0), "lengths": np.array([len(t) for t in token_ids], dtype=np.int64)}
    if bags is not None:
        feeds["ngram_ids"] = pad(bags, padding_id)
    return sess.run(["probabilities"], feeds)[0]


def run_tagger(sess, word_ids, char_ids, crf, language_models=()):
    """Per sentence: (tags, probabilities [T, K]) from the exported graph. `language_models`: per
    character language model of the tagger, (character ids, positions) of each sentence."""
    B, T = len(word_ids), max(len(w) for w in word_ids)
    C = max(len(c) for sentence in char_ids for c in sentence)
    chars = np.zeros((B, T, C), dtype=np.int64)
    char_lengths = np.ones((B, T), dtype=np.int64)
    for b, sentence in enumerate(char_ids):
        for t, word in enumerate(sentence):
            chars[b, t, :len(word)] = word
            char_lengths[b, t] = len(word)
    feeds = {"word_ids": pad(word_ids, 0), "char_ids": chars, "char_lengths": char_lengths,
             "lengths": np.array([len(w) for w in word_ids], dtype=np.int64)}
    for k, readings in enumerate(language_models):
        feeds[f"lm{k}_char_ids"] = pad([ids for ids, _ in readings], 0)
        feeds[f"lm{k}_lengths"] = np.array([len(ids) for ids, _ in readings], dtype=np.int64)
        feeds[f"lm{k}_positions"] = pad([positions for _, positions in readings], 0)
    if crf:
        scores, transitions, start, end = sess.run(["scores", "transitions", "start_transitions", "end_transitions"], feeds)
        out = []
        for b, w in enumerate(word_ids):
            s = scores[b, :len(w)].astype(np.float64)
            out.append((viterbi(s, transitions, start, end), marginals(s, transitions, start, end)))
        return out
    probabilities, tag_ids = sess.run(["probabilities", "tag_ids"], feeds)
    return [(tag_ids[b, :len(w)].tolist(), probabilities[b, :len(w)]) for b, w in enumerate(word_ids)]


def run_generator_sequences(sess, rows, layers, hidden):
    """Log-probabilities [B, T, V] of rows of ids from zero states."""
    B = len(rows)
    zeros = np.zeros((layers, B, hidden), dtype=np.float32)
    return sess.run(["log_probabilities"], {"token_ids": pad(rows, 0), "lengths": np.array([len(r) for r in rows], dtype=np.int64),
                                            "h0": zeros, "c0": zeros})[0]


def greedy(sess, start_ids, allowed, end_id, steps, layers, hidden):
    """Greedy ids after feeding start_ids, stepping one token at a time with the returned states."""
    h = np.zeros((layers, 1, hidden), dtype=np.float32)
    c = np.zeros_like(h)
    feed = list(start_ids)
    out = []
    while len(out) < steps:
        logp, h, c = sess.run(["log_probabilities", "hn", "cn"], {
            "token_ids": np.array([feed], dtype=np.int64), "lengths": np.array([len(feed)], dtype=np.int64), "h0": h, "c0": c})
        scores = np.where(allowed, logp[0, -1], -np.inf)
        token = int(scores.argmax())
        if token == end_id:
            break
        out.append(token)
        feed = [token]
    return out


# MARK: - Cases from the Swift tests


def check_cases(path):
    with open(path) as f:
        cases = json.load(f)
    for case in cases:
        name, kind = case["name"], case["task"]
        sess = session(case["onnx"])
        if kind == "classifier":
            got = run_classifier(sess, case["token_ids"], case.get("ngram_ids"), case.get("ngram_padding_id", 0))
            want = np.array(case["probabilities"], dtype=np.float32)
            check(np.abs(got - want).max() <= TOLERANCE, f"{name}: probabilities, max abs difference {np.abs(got - want).max():.2e}")
            check((got.argmax(1) == want.argmax(1)).all(), f"{name}: labels identical")
        elif kind == "tagger":
            results = run_tagger(sess, case["word_ids"], case["char_ids"], case["crf"], case.get("language_models", ()))
            difference = max(np.abs(p - np.array(w)).max() for (_, p), w in zip(results, case["probabilities"]))
            check(difference <= TOLERANCE, f"{name}: tag probabilities, max abs difference {difference:.2e}")
            check([t for t, _ in results] == case["tag_ids"], f"{name}: tags identical" + (" (Viterbi here)" if case["crf"] else ""))
        elif kind == "generator":
            rows = case["token_ids"]
            got = run_generator_sequences(sess, rows, case["layers"], case["hidden"])
            difference = max(np.abs(got[b, :len(r)] - np.array(case["log_probabilities"][b])).max() for b, r in enumerate(rows))
            check(difference <= TOLERANCE, f"{name}: log-probabilities over {len(rows)} rows, max abs difference {difference:.2e}")
            allowed = np.array(case["allowed"], dtype=bool)
            ids = greedy(sess, case["start_ids"], allowed, case["end_id"], len(case["greedy_ids"]) if case["end_id"] < 0 else 200,
                         case["layers"], case["hidden"])
            check(ids == case["greedy_ids"], f"{name}: greedy generation of {len(ids)} tokens identical")
        else:
            check(False, f"{name}: unknown task {kind}")


# MARK: - Model directories through the command line


def run(command, stdin=None):
    result = subprocess.run(command, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def ordinary(tokens):
    return [t for t in tokens if not (t.startswith("<") and t.endswith(">"))]


def check_model_directory(seqmodels, directory, work, rng):
    name = os.path.basename(os.path.normpath(directory))
    output = os.path.join(work, name + ".onnx")
    run([seqmodels, "export", "--model", directory, "--format", "onnx", "--output", output])
    with open(os.path.join(work, name + ".json")) as f:
        sidecar = json.load(f)
    sess = session(output)
    task = sidecar["task"]
    check(True, f"{name}: onnx.checker passed ({task}, opset {sidecar['opset']})")
    if task == "classifier":
        vocabulary = sidecar["vocabulary"]
        ids = {t: i for i, t in enumerate(vocabulary)}
        characters = sidecar["text_preparation"]["tokenizer"] == "characters"
        pool = [t for t in ordinary(vocabulary) if " " not in t and (not characters or len(t) == 1)]
        unknown = ["鑫"] if characters else ["zzqxv"]
        lengths = [1, 1, 2, 3, 5, 8, 13, 21, 34, 60] + [rng.randint(1, 60) for _ in range(22)]
        texts = [[rng.choice(pool + unknown) for _ in range(n)] for n in lengths]
        lines = ["".join(t) if characters else " ".join(t) for t in texts]
        printed = [json.loads(line) for line in run([seqmodels, "classify", "--model", directory, "--json"],
                                                    stdin="\n".join(lines) + "\n").splitlines()]
        token_ids = [[ids.get(t, sidecar["unknown_id"]) for t in text] for text in texts]
        bags = None
        if "ngrams" in sidecar:
            grams = {g: i for i, g in enumerate(sidecar["ngrams"])}
            order = sidecar["ngram_order"]
            bags = [ngram_ids(t, grams, order) for t in texts]
        got = run_classifier(sess, token_ids, bags, sidecar.get("ngram_padding_id", 0))
        labels = sidecar["labels"]
        want = np.array([[p["probabilities"][label] for label in labels] for p in printed], dtype=np.float32)
        check(np.abs(got - want).max() <= TOLERANCE,
              f"{name}: {len(texts)} texts of 1 to 60 tokens, probabilities max abs difference {np.abs(got - want).max():.2e}")
        check([labels[i] for i in got.argmax(1)] == [p["label"] for p in printed], f"{name}: labels identical")
    elif task == "tagger":
        words = sidecar["words"]
        word_ids = {t: i for i, t in enumerate(words)}
        char_ids = {c: i for i, c in enumerate(sidecar["characters"])}
        limit = sidecar["max_word_length"]
        pool = [w for w in ordinary(words) if " " not in w and all(c in char_ids for c in w)]
        odd = ["x", "B52-bomber", "COVID-19", "2026-12-06", "looool", "Ingrid", "a" * (limit + 17), "re-evaluated", "ナ"]
        lengths = [1, 1, 2, 3, 5, 8, 13, 21, 34, 60] + [rng.randint(1, 60) for _ in range(22)]
        sentences = [[rng.choice(pool) if rng.random() < 0.85 else rng.choice(odd) for _ in range(n)] for n in lengths]
        sentences[1] = ["a" * (limit + 17)]
        printed = [json.loads(line) for line in run([seqmodels, "tag", "--model", directory, "--pretokenized", "--output", "json",
                                                     "--probabilities"], stdin="\n".join(" ".join(s) for s in sentences) + "\n").splitlines()]

        language_models = []
        for lm in sidecar.get("character_language_models", []):
            lm_ids = {c: i for i, c in enumerate(lm["vocabulary"])}
            language_models.append([language_model_reading(s, lm_ids, lm["unknown_id"], lm["direction"]) for s in sentences])
        results = run_tagger(sess, [[word_ids.get(w, sidecar["unknown_word_id"]) for w in s] for s in sentences],
                             [[character_ids(w, char_ids, limit, sidecar["unknown_character_id"]) for w in s] for s in sentences],
                             sidecar["output_layer"] == "crf", language_models)
        tags = sidecar["tags"]
        difference = max(np.abs(p - np.array(line["probabilities"])).max() for (_, p), line in zip(results, printed))
        readers = f", {len(language_models)} character language models" if language_models else ""
        check(difference <= TOLERANCE, f"{name}: {len(sentences)} sentences of 1 to 60 tokens ({sidecar['output_layer']}{readers}), "
                                       f"tag probabilities max abs difference {difference:.2e}")
        check([[tags[i] for i in t] for t, _ in results] == [line["tags"] for line in printed], f"{name}: tags identical")
    elif task == "generator":
        vocabulary = sidecar["vocabulary"]
        ids = {t: i for i, t in enumerate(vocabulary)}
        specials = sidecar["special_ids"]
        lines_mode = sidecar["records"] == "lines"
        layers, hidden = sidecar["layers"], sidecar["hidden_size"]
        if sidecar["level"] != "char":
            check(False, f"{name}: this checker encodes character models only")
            return
        # The special tokens come first; SeqModels never generates them (<eos> only ends a line).
        special_count = next(i for i, t in enumerate(vocabulary) if t not in ("<pad>", "<unk>", "<bos>", "<eos>"))
        allowed = np.arange(len(vocabulary)) >= special_count
        if lines_mode:
            allowed[specials["eos"]] = True
        pool = ordinary(vocabulary)
        prefixes = [rng.choice([p for p in pool if p.strip()]), "".join(rng.choice(pool) for _ in range(5))]
        for prefix in prefixes:
            printed = run([seqmodels, "generate", "--model", directory, "--prefix", prefix, "--length", "200", "--temperature", "0",
                           "--seed", "1"])
            if lines_mode:
                start = [specials["bos"]]
            else:
                start = [ids["\n"]] if "\n" in ids else []
            start += [ids.get(c, specials["unk"]) for c in prefix]
            generated = greedy(sess, start, allowed, specials["eos"] if lines_mode else -1, 200, layers, hidden)
            text = prefix + "".join(vocabulary[i] for i in generated)
            check(printed[:-1] == text, f"{name}: greedy generation after {prefix!r} ({len(generated)} tokens) identical")
        # Validation loss on a text drawn from the vocabulary, as `generate eval` frames it.
        rows_text = ["".join(rng.choice(pool).strip() or "a" for _ in range(rng.randint(1, 40))) for _ in range(12)]
        text = "\n".join(rows_text) + "\n"
        path = os.path.join(work, name + "-eval.txt")
        with open(path, "w") as f:
            f.write(text)
        reported = json.loads(run([seqmodels, "generate", "eval", "--model", directory, "--text", path, "--json"]))
        if lines_mode:
            rows = [[specials["bos"]] + [ids.get(c, specials["unk"]) for c in line.strip()] for line in text.split("\n") if line.strip()]
            targets = [r[1:] + [specials["eos"]] for r in rows]
        else:
            stream = [ids.get(c, specials["unk"]) for c in text]
            count = max(1, min(16, len(stream) // 2))
            size = len(stream) // count
            pieces = [stream[k * size:(len(stream) if k == count - 1 else (k + 1) * size)] for k in range(count)]
            rows, targets = [p[:-1] for p in pieces], [p[1:] for p in pieces]
        logp = run_generator_sequences(sess, rows, layers, hidden)
        total = sum(-logp[b, t, y] for b, ys in enumerate(targets) for t, y in enumerate(ys))
        loss = total / sum(len(ys) for ys in targets)
        check(abs(loss - reported["loss"]) <= TOLERANCE,
              f"{name}: validation loss {loss:.6f} here, {reported['loss']:.6f} from seqmodels ({len(rows)} rows)")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", help="JSON cases written by the Swift tests")
    parser.add_argument("--models", nargs="*", help="model directories to export and check through the command line")
    parser.add_argument("--seqmodels", default=os.path.join(root, ".build", "release", "seqmodels"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.cases:
        check_cases(args.cases)
    if args.models is not None or not args.cases:
        models = args.models or [os.path.join(root, "runs", m) for m in ("tagger", "reviews", "story", "poems")]
        if not os.access(args.seqmodels, os.X_OK):
            parser.error(f"{args.seqmodels}: build it with `swift build -c release --product seqmodels` or pass --seqmodels")
        rng = random.Random(args.seed)
        with tempfile.TemporaryDirectory() as work:
            for directory in models:
                if not os.path.exists(os.path.join(directory, "config.json")):
                    parser.error(f"{directory}: no model (run `bash Tools/demo.sh` first for the demo's models)")
                check_model_directory(args.seqmodels, directory, work, rng)
    print(f"\n{len(failures)} failure{'s' if len(failures) != 1 else ''}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
