#!/usr/bin/env python3
"""Corpus import speed and memory: SeqModels' importers next to Python's, in one run.

Two comparisons per file, each side doing the same work on the same file:
- import: stream every record (CSV: text and label; XML: each sentence's words and tags)
  and count records and labels/tags. Swift: `seqmodels corpus check FILE` (release build);
  Python: `csv.reader` / `xml.etree.ElementTree.iterparse` + `Counter`.
- import + statistics: also split texts at whitespace and count distinct tokens.
  Swift: `seqmodels corpus stats FILE --json`; Python: the same with `str.split` + `Counter`.
Counts must agree; best-of-N wall times (process start included for Swift) and speed-ups are printed.
With --big-xml, a generated TEI-like file (Tools/make_big_tei.py, written to /tmp, never
committed) is imported and the peak resident memory of the Swift process is measured.

    swift build -c release
    python3 Tools/bench_import.py [--repeat 3] [--big-xml-megabytes 1024]
"""
import argparse
import collections
import csv
import json
import os
import resource
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "corpora")


def python_csv_import(path):
    rows, labels = 0, collections.Counter()
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        text_index, label_index = header.index("text"), header.index("label")
        for row in reader:
            text, label = row[text_index], row[label_index]
            rows += 1
            labels[label] += 1
    return rows, len(labels)


def python_xml_import(path):
    sentences, tokens, tags = 0, 0, collections.Counter()
    for _, element in ET.iterparse(path, events=("end",)):
        if element.tag.rsplit("}", 1)[-1] == "s":
            words, sentence_tags = [], []
            for w in element.iter():
                if w.tag.rsplit("}", 1)[-1] == "w":
                    words.append((w.text or "").strip())
                    sentence_tags.append(w.get("pos"))
            tags.update(sentence_tags)
            sentences += 1
            tokens += len(words)
            element.clear()
    return sentences, len(tags)


def swift_check(binary, path):
    output = subprocess.run([binary, "corpus", "check", path], check=True,
                            capture_output=True, text=True).stdout
    # "ok: 25000 records; labels: neg 12500, pos 12500" / "ok: 12544 sentences, 204577 tokens, 17 tags"
    words = output.replace(",", " ").replace(";", " ").split()
    records = int(words[1])
    if "labels:" in words:
        return records, (len(words) - words.index("labels:") - 1) // 2
    return records, int(words[words.index("tags") - 1])


def python_csv(path):
    rows, tokens, vocabulary, labels = 0, 0, collections.Counter(), collections.Counter()
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        text_index, label_index = header.index("text"), header.index("label")
        for row in reader:
            words = row[text_index].split()
            rows += 1
            tokens += len(words)
            vocabulary.update(words)
            labels[row[label_index]] += 1
    return rows, tokens, len(vocabulary)


def python_xml(path):
    sentences, tokens, vocabulary, tags = 0, 0, collections.Counter(), collections.Counter()
    for _, element in ET.iterparse(path, events=("end",)):
        if element.tag.rsplit("}", 1)[-1] == "s":
            for w in element.iter():
                if w.tag.rsplit("}", 1)[-1] == "w":
                    vocabulary[(w.text or "").strip()] += 1
                    tags[w.get("pos")] += 1
                    tokens += 1
            sentences += 1
            element.clear()
    return sentences, tokens, len(vocabulary)


def swift_stats(binary, path):
    output = subprocess.run([binary, "corpus", "stats", path, "--json"], check=True,
                            capture_output=True, text=True).stdout
    stats = json.loads(output)
    return stats["units"], stats["tokens"], stats["distinctTokens"]


def best_of(repeat, function, *args):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(*args)
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_rss_megabytes(command):
    """Runs `command` and returns (seconds, peak RSS of that child in MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(after, before) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/seqmodels"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big-xml-megabytes", type=int, default=0,
                        help="also import a generated TEI-like file of this size and measure peak memory")
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} not found: run `swift build -c release` first")
    if not os.path.isdir(SHARED):
        sys.exit(f"{SHARED} not found: this benchmark needs the shared corpora next to the repository")

    imdb = os.path.join(SHARED, "sentiment/imdb/train.csv")
    ewt = os.path.join(SHARED, "pos/en_ewt/en_ewt-ud-train.xml")
    cases = [("import", imdb, python_csv_import, swift_check), ("import", ewt, python_xml_import, swift_check),
             ("import + statistics", imdb, python_csv, swift_stats), ("import + statistics", ewt, python_xml, swift_stats)]
    print(f"{'work':20} {'file':32} {'records':>8} {'Python':>8} {'SeqModels':>10} {'speed-up':>9}")
    failed = False
    for work, path, python_side, swift_side in cases:
        python_seconds, python_counts = best_of(args.repeat, python_side, path)
        swift_seconds, swift_counts = best_of(args.repeat, swift_side, args.binary, path)
        if python_counts != swift_counts:
            print(f"{work} {path}: counts differ: Python {python_counts}, SeqModels {swift_counts}")
            failed = True
        name = os.path.relpath(path, SHARED)
        print(f"{work:20} {name:32} {swift_counts[0]:8,} {python_seconds:7.2f}s {swift_seconds:9.2f}s "
              f"{python_seconds / swift_seconds:8.2f}x")

    if args.big_xml_megabytes:
        big = f"/tmp/seqmodels_big_tei_{args.big_xml_megabytes}mb.xml"
        if not os.path.exists(big):
            subprocess.run([sys.executable, os.path.join(ROOT, "Tools/make_big_tei.py"), big,
                            "--megabytes", str(args.big_xml_megabytes)], check=True)
        size = os.path.getsize(big) / 2**20
        seconds, megabytes = peak_rss_megabytes([args.binary, "corpus", "stats", big, "--json"])
        print(f"generated TEI-like XML, {size:,.0f} MB: imported in {seconds:.1f}s, "
              f"peak resident memory {megabytes:.1f} MB")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
