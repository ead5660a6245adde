#!/usr/bin/env python3
"""Write a big TEI-like corpus (default 1 GB) for the XML importer's memory test.

The layout is the EWT rendition's (`<corpus><text id><s id><w pos xpos lemma>FORM</w>…`),
built from a seeded random choice of words and tags, with some escaped characters
(`&amp;`, `&lt;`, `&quot;`) and non-ASCII forms. Write it to /tmp, never into the
repository:

    python3 Tools/make_big_tei.py /tmp/big_tei.xml --megabytes 1024

Then measure peak memory of the importer (must stay under 100 MB):

    swift build -c release -Xswiftc -enable-testing --scratch-path .build-release --build-tests
    SEQMODELS_XML_BENCH_FILE=/tmp/big_tei.xml SEQMODELS_XML_BENCH_REPEAT=1 /usr/bin/time -v \\
      .build-release/release/SeqModelsPackageTests.xctest CorpusTests.XMLImportBenchmarkTests

(run the test bundle directly: under `swift test` the forked driver's own peak RSS is
inherited by the test process's getrusage). Prints the sentence and token counts it wrote.
"""
import argparse
import random

WORDS = ["the", "cat", "sat", "on", "mat", "AT&amp;T", "&lt;", "&quot;", "café", "naïve",
         "runs", "quickly", "Zürich", "東京", "and", "a", "dog", ".", ",", "!"]
TAGS = ["DET", "NOUN", "VERB", "ADP", "PROPN", "SYM", "PUNCT", "ADJ", "ADV", "CCONJ"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("--megabytes", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    target = args.megabytes * 1024 * 1024
    # A pool of prebuilt sentences keeps generation fast; ids make every line unique.
    pool = []
    for _ in range(2000):
        length = rng.randint(1, 40)
        tokens = []
        for _ in range(length):
            word, tag = rng.choice(WORDS), rng.choice(TAGS)
            tokens.append(f'<w pos="{tag}" xpos="X{tag[:2]}" lemma="{word}">{word}</w>')
        pool.append((length, "".join(tokens)))
    written = sentences = tokens = 0
    with open(args.output, "w", encoding="utf-8") as out:
        head = '<?xml version="1.0" encoding="UTF-8"?>\n<corpus source="make_big_tei.py">\n'
        out.write(head)
        written += len(head.encode())
        document = 0
        while written < target:
            document += 1
            lines = [f'<text id="doc{document}">\n']
            for number in range(1, 501):
                length, body = pool[rng.randrange(len(pool))]
                lines.append(f'<s id="doc{document}-{number:04d}">{body}</s>\n')
                sentences += 1
                tokens += length
            lines.append("</text>\n")
            chunk = "".join(lines)
            out.write(chunk)
            written += len(chunk.encode())
        out.write("</corpus>\n")
    print(f"wrote {args.output}: {written / 2**20:.0f} MB, {sentences} sentences, {tokens} tokens")


if __name__ == "__main__":
    main()
