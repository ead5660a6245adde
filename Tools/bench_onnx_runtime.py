#!/usr/bin/env python3
"""Speed of an exported tagger and classifier in ONNX Runtime beside `seqmodels` itself, same
machine, same threads, same test sets (EWT test, IMDB test by default), in one run.

For each model: `seqmodels export`, then ONNX Runtime (CPU provider, `--threads` intra-op
threads) runs the test set in batches sorted by length (64 sentences or 256 reviews, as the
`seqmodels` defaults), padded to each batch's longest row; only `session.run` is timed (the
encoding in Python is not). `seqmodels tag eval` / `classify eval --threads N` is timed as it
reports itself, reading and tokenising the file included. Printed: tokens/s both ways and the
ratio. Both sides compute the same outputs (Tools/check_onnx_export.py checks that).

    python3 Tools/bench_onnx_runtime.py --tagger models/ewt --classifier models/imdb --threads 2
"""
import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import numpy as np
import onnxruntime as ort

from seqmodels_text import character_ids, ngram_ids, word_tokens
from shared_corpora import shared_corpus

csv.field_size_limit(sys.maxsize)


def session(path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def export(seqmodels, model, work, name):
    path = os.path.join(work, name + ".onnx")
    subprocess.run([seqmodels, "export", "--model", model, "--output", path], check=True, capture_output=True)
    with open(os.path.join(work, name + ".json")) as f:
        return path, json.load(f)


def bench_tagger(args, work):
    path, sidecar = export(args.seqmodels, args.tagger, work, "tagger")
    sentences = [[w.text for w in s.iter("w")] for s in ET.parse(args.tagger_test).getroot().iter("s")]
    sentences = [s for s in sentences if s]
    words = {t: i for i, t in enumerate(sidecar["words"])}
    chars = {c: i for i, c in enumerate(sidecar["characters"])}
    limit, unk_w, unk_c = sidecar["max_word_length"], sidecar["unknown_word_id"], sidecar["unknown_character_id"]

    def char_ids(word):
        return character_ids(word, chars, limit, unk_c)

    order = sorted(range(len(sentences)), key=lambda i: -len(sentences[i]))
    feeds = []
    for k in range(0, len(order), 64):
        batch = [sentences[i] for i in order[k:k + 64]]
        B, T = len(batch), len(batch[0])
        C = max(len(char_ids(w)) for s in batch for w in s)
        word_ids = np.zeros((B, T), dtype=np.int64)
        char_array = np.zeros((B, T, C), dtype=np.int64)
        char_lengths = np.ones((B, T), dtype=np.int64)
        for b, s in enumerate(batch):
            for t, w in enumerate(s):
                word_ids[b, t] = words.get(w, unk_w)
                ids = char_ids(w)
                char_array[b, t, :len(ids)] = ids
                char_lengths[b, t] = len(ids)
        feeds.append({"word_ids": word_ids, "char_ids": char_array, "char_lengths": char_lengths,
                      "lengths": np.array([len(s) for s in batch], dtype=np.int64)})
    sess = session(path, args.threads)
    sess.run(None, feeds[-1])  # warm-up
    start = time.perf_counter()
    for feed in feeds:
        sess.run(None, feed)
    seconds = time.perf_counter() - start
    tokens = sum(len(s) for s in sentences)
    out = subprocess.run([args.seqmodels, "tag", "eval", "--model", args.tagger, "--test", args.tagger_test, "--threads",
                          str(args.threads)], check=True, capture_output=True, text=True).stdout
    ours = float(re.search(r"\(([\d.]+) tokens/s\)", out).group(1))
    return "tagger (EWT test, " + sidecar["output_layer"] + ")", tokens, tokens / seconds, ours


def bench_classifier(args, work):
    path, sidecar = export(args.seqmodels, args.classifier, work, "classifier")
    with open(args.classifier_test, newline="", encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    prep = sidecar["text_preparation"]
    if prep["tokenizer"] != "words":
        sys.exit("this benchmark encodes the words tokenizer only")
    vocabulary = {t: i for i, t in enumerate(sidecar["vocabulary"])}
    grams = {g: i for i, g in enumerate(sidecar.get("ngrams", []))}
    order_n = sidecar.get("ngram_order", 0)
    m = prep.get("maxLength")

    def encode(text):
        tokens = word_tokens(text, m)
        return [vocabulary.get(t, sidecar["unknown_id"]) for t in tokens], ngram_ids(tokens, grams, order_n)

    encoded = [encode(t) for t in texts]
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i][0]))
    feeds = []
    for k in range(0, len(order), 256):
        batch = [encoded[i] for i in order[k:k + 256]]
        T = len(batch[0][0])
        ids = np.zeros((len(batch), T), dtype=np.int64)
        for b, (row, _) in enumerate(batch):
            ids[b, :len(row)] = row
        feed = {"token_ids": ids, "lengths": np.array([len(r) for r, _ in batch], dtype=np.int64)}
        if grams:
            F = max(1, max(len(f) for _, f in batch))
            bag = np.full((len(batch), F), sidecar["ngram_padding_id"], dtype=np.int64)
            for b, (_, f) in enumerate(batch):
                bag[b, :len(f)] = f
            feed["ngram_ids"] = bag
        feeds.append(feed)
    sess = session(path, args.threads)
    sess.run(None, feeds[-1])
    start = time.perf_counter()
    for feed in feeds:
        sess.run(None, feed)
    seconds = time.perf_counter() - start
    tokens = sum(len(r) for r, _ in encoded)
    out = subprocess.run([args.seqmodels, "classify", "eval", "--model", args.classifier, "--test", args.classifier_test,
                          "--threads", str(args.threads)], check=True, capture_output=True, text=True).stdout
    texts_per_second = float(re.search(r"([\d.]+) texts/s", out).group(1))
    return "classifier (IMDB test)", tokens, tokens / seconds, texts_per_second * tokens / len(texts)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tagger", help="tagger model directory")
    parser.add_argument("--classifier", help="classifier model directory (words tokenizer)")
    parser.add_argument("--tagger-test", default=None, help="TEI-like XML (default: EWT test in ../shared)")
    parser.add_argument("--classifier-test", default=None, help="CSV text,label (default: IMDB test in ../shared)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seqmodels", default=os.path.join(root, ".build", "release", "seqmodels"))
    args = parser.parse_args()
    if not (args.tagger or args.classifier):
        parser.error("give --tagger and/or --classifier")
    rows = []
    with tempfile.TemporaryDirectory() as work:
        if args.tagger:
            args.tagger_test = args.tagger_test or shared_corpus("pos", "en_ewt", "en_ewt-ud-test.xml")
            rows.append(bench_tagger(args, work))
        if args.classifier:
            args.classifier_test = args.classifier_test or shared_corpus("sentiment", "imdb", "test.csv")
            rows.append(bench_classifier(args, work))
    print(f"\n{args.threads} thread{'s' if args.threads != 1 else ''} each; ONNX Runtime {ort.__version__} (session.run only), "
          f"seqmodels eval (reading and tokenising included)")
    print(f"  {'model':34s} {'tokens':>9s} {'ORT tok/s':>11s} {'SeqModels tok/s':>16s} {'ratio':>6s}")
    for name, tokens, theirs, ours in rows:
        print(f"  {name:34s} {tokens:9,d} {theirs:11,.0f} {ours:16,.0f} {ours / theirs:5.2f}x")


if __name__ == "__main__":
    main()
