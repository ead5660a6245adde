#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzz targets (Tests/Fuzz/seeds/TARGET/) from the
project's own samples (Corpora/) and test fixtures: small files (at most 4 KiB each), each
prefixed with the options byte its target reads first (see Sources/FuzzTargets). The model
targets make their seeds themselves (their tiny models' files), so they get none here.

    python3 Tools/make_fuzz_seeds.py        # rewrites Tests/Fuzz/seeds
"""
import pathlib
import shutil

root = pathlib.Path(__file__).resolve().parent.parent
seeds = root / "Tests" / "Fuzz" / "seeds"
corpus_fixtures = root / "Tests" / "CorpusTests" / "Fixtures"
limit = 4096


def head(path, limit=limit):
    """The first `limit` bytes of a file, cut after the last line break within them."""
    data = path.read_bytes()
    if len(data) <= limit:
        return data
    cut = data.rfind(b"\n", 0, limit)
    return data[: cut + 1 if cut > 0 else limit]


def write(target, name, options, data):
    folder = seeds / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(bytes([options]) + data)


shutil.rmtree(seeds, ignore_errors=True)

# csv: options bits 0-1 delimiter (, ; tab |), bit 2 quoting off, bit 3 no header, bits 4-7 chunk size.
write("csv", "train", 0x30, head(root / "Corpora/reviews/train.csv"))
write("csv", "dev-chunks-of-1", 0x00, head(root / "Corpora/reviews/dev.csv", 1024))
for path in sorted((corpus_fixtures / "csv").iterdir()):
    options = 0x22 if path.suffix == ".tsv" else 0x50
    write("csv", path.name, options, path.read_bytes())
write("csv", "quoted-crlf-bom", 0x10, b'\xef\xbb\xbfid,text,label\r\n1,"two\r\nlines, ""quoted""",pos\r\n2,plain,neg\r\n')

# xml-sentences: bits 0-1 mapping (tei, nps chat, tiger, brown tei), bit 2 skip, bit 3 known tags.
mappings = {"tei.xml": 0, "tei-namespaced.xml": 0, "nps-chat.xml": 1, "tiger.xml": 2, "brown-tei.xml": 3,
            "invalid.xml": 4, "malformed.xml": 0, "truncated.xml": 0, "billion-laughs.xml": 0,
            "internal-entity.xml": 0, "internal-entity-attribute.xml": 0, "external-entity.xml": 0,
            "external-dtd.xml": 0, "external-parameter-entity.xml": 0, "external-entity-attribute.xml": 0}
for name, options in mappings.items():
    write("xml-sentences", name, options, (corpus_fixtures / "xml" / name).read_bytes())
write("xml-sentences", "sample", 0x00, head(root / "Corpora/pos/sample.xml"))

# xml-texts: bit 0 label in a child element, bit 1 record <doc>, bits 2-3 text (content, child, attribute), bit 4 skip.
write("xml-texts", "reviews.xml", 0x00, (corpus_fixtures / "xml" / "reviews.xml").read_bytes())
write("xml-texts", "reviews-children.xml", 0x05, (corpus_fixtures / "xml" / "reviews-children.xml").read_bytes())
write("xml-texts", "attribute-text", 0x08,
      b'<reviews><review label="pos" text="A fine film."/><review label="neg" text="Dull."/></reviews>')

# conllu: bit 0 XPOS, bit 1 through TaggedCorpus.read.
for path in sorted((corpus_fixtures / "conllu").iterdir()):
    write("conllu", path.name, 0x00, path.read_bytes())
write("conllu", "ranges-and-empty-nodes", 0x01,
      b"# sent_id = 1\n# text = Don't go.\n1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_\n1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_\n"
      b"2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_\n3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_\n3.1\tgo\t_\t_\t_\t_\t_\t_\t_\t_\n"
      b"4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\tSpaceAfter=No\n\n")

# text: bit 0 keep blank lines.
write("text", "sample", 0x00, head(root / "Corpora/text/sample.txt"))
write("text", "poems", 0x01, head(root / "Corpora/poems/poems.txt", 1024))
write("text", "poems_crlf.txt", 0x00, (corpus_fixtures / "text" / "poems_crlf.txt").read_bytes())

# word-vectors: bit 0 lowercase fallback.
write("word-vectors", "glove", 0x00, b"the 0.1 0.2 0.3\ncat -1 2.5e-1 3\nsat 1 1 1\n")
write("word-vectors", "word2vec-header", 0x01, b"3 2\nthe 0.5 0.25\nCAT 1 2\nsat -1 -2\n")

# safetensors: the whole file (no options byte is read).
for path in sorted((root / "Tests/SeqModelsTests/Fixtures/safetensors").glob("*.safetensors")):
    folder = seeds / "safetensors"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / path.name).write_bytes(head(path))

for folder in sorted(seeds.iterdir()):
    files = list(folder.iterdir())
    print(f"{folder.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")
