#!/usr/bin/env python3
"""Time the XML corpus importer against Python's xml.etree.ElementTree.iterparse.

Both sides do the same work: stream the file, and for every <s> build the lists of
token words (element text of <w>) and tags (attribute `pos`), counting sentences and
tokens. The Swift side runs in a release build through the on-demand XCTest
XMLImportBenchmarkTests (no extra executable product is needed):

    python3 Tools/bench_import.py [FILE] [--repeat 3] [--python-only]

FILE defaults to ../shared/corpora/pos/en_ewt/en_ewt-ud-train.xml. Prints best-of-N
wall time for each side, the counts (which must agree) and the speed-up. The script
builds the release test bundle into .build-release first (a few minutes on 2 cores the
first time) and runs it directly.
"""
import argparse
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_file():
    folder = ROOT
    while folder != "/":
        folder = os.path.dirname(folder)
        candidate = os.path.join(folder, "shared/corpora/pos/en_ewt/en_ewt-ud-train.xml")
        if os.path.exists(candidate):
            return candidate
    sys.exit("no EWT train XML found next to the repository; pass a FILE")


def local(tag):
    return tag.rsplit("}", 1)[-1]


def python_iterparse(path):
    sentences = tokens = 0
    for _, element in ET.iterparse(path, events=("end",)):
        if local(element.tag) == "s":
            words, tags = [], []
            for w in element.iter():
                if local(w.tag) == "w":
                    words.append((w.text or "").strip())
                    tags.append(w.get("pos"))
            sentences += 1
            tokens += len(words)
            element.clear()
    return sentences, tokens


def best_time(function, repeat):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--python-only", action="store_true")
    args = parser.parse_args()
    path = os.path.abspath(args.file or default_file())

    seconds, (sentences, tokens) = best_time(lambda: python_iterparse(path), args.repeat)
    print(f"python iterparse: {seconds:.3f} s  sentences={sentences} tokens={tokens}")
    if args.python_only:
        return

    # Build the release test bundle, then run it directly (not through `swift test`,
    # whose forked driver would leave its own peak RSS in the test process's getrusage).
    build = ["swift", "build", "-c", "release", "-Xswiftc", "-enable-testing",
             "--scratch-path", ".build-release", "--build-tests"]
    built = subprocess.run(build, cwd=ROOT, capture_output=True, text=True)
    if built.returncode != 0:
        sys.stdout.write(built.stdout[-3000:] + built.stderr[-3000:])
        sys.exit("release build failed")
    bundle = os.path.join(ROOT, ".build-release", "release", "SeqModelsPackageTests.xctest")
    environment = dict(os.environ, SEQMODELS_XML_BENCH_FILE=path,
                       SEQMODELS_XML_BENCH_REPEAT=str(args.repeat))
    output = subprocess.run([bundle, "CorpusTests.XMLImportBenchmarkTests"],
                            cwd=ROOT, env=environment, capture_output=True, text=True)
    pattern = r"XMLBENCH swift seconds=([\d.]+) sentences=(\d+) tokens=(\d+) peak_rss_mb=([\d.]+)"
    match = re.search(pattern, output.stdout + output.stderr)
    if not match:
        sys.stdout.write(output.stdout[-3000:] + output.stderr[-3000:])
        sys.exit("the Swift benchmark did not report")
    swift_seconds = float(match.group(1))
    print(f"swift (release):  {swift_seconds:.3f} s  sentences={match.group(2)} tokens={match.group(3)}  "
          f"peak RSS of the test process {match.group(4)} MB")
    if (int(match.group(2)), int(match.group(3))) != (sentences, tokens):
        sys.exit("counts differ between Python and Swift")
    print(f"speed-up: {seconds / swift_seconds:.2f}x")


if __name__ == "__main__":
    main()
