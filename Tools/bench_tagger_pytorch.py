#!/usr/bin/env python3
"""Train the SeqModels tagger's twin in PyTorch on the same data, and (with --ours) run
`seqmodels tag train` / `tag eval` with the same hyperparameters, printing both side by side.

The PyTorch model has the same shape and parameter names as `Tagger` (Sources/Tasks/Tagger):
word embedding (N(0,1/d), <unk>, word dropout) + character BiLSTM over the distinct words of
the batch (packed; final forward and reverse states), dropout, a stacked packed BiLSTM,
dropout, Linear, cross-entropy over real tokens; Adam, global-norm clipping at 5, batches
of --batch-size sentences of similar length, the best epoch by dev accuracy evaluated on
--test. With --char-lm DIR (twice: a forward and a backward model of `seqmodels lm pretrain`),
both read the models' frozen states at every token (flair's contextual string embeddings), the
PyTorch twin through `nn.LSTM`s loaded from the models' safetensors.

    python3 Tools/bench_tagger_pytorch.py --train ../shared/corpora/pos/en_ewt/en_ewt-ud-train.xml \\
        --dev ../shared/corpora/pos/en_ewt/en_ewt-ud-dev.xml --test ../shared/corpora/pos/en_ewt/en_ewt-ud-test.xml \\
        --epochs 30 --time-limit 15 --threads 2 --ours .build/release/seqmodels
    python3 Tools/bench_tagger_pytorch.py --train Corpora/pos/sample.xml --dev Corpora/pos/sample-dev.xml --epochs 5 --ours .build/release/seqmodels
"""
import argparse
import json
import os
import random
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

import torch
import torch.nn as nn
from safetensors.torch import load_file
from torch.nn.utils.rnn import pack_sequence, pad_packed_sequence

from seqmodels_text import language_model_reading


def read_corpus(path):
    """Sentences as (tokens, tags): TEI-like XML (<s><w pos>word</w>) or CoNLL-U (UPOS)."""
    sentences = []
    if path.endswith(".conllu"):
        tokens, tags = [], []
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\r\n")
                if not line:
                    if tokens:
                        sentences.append((tokens, tags))
                    tokens, tags = [], []
                elif not line.startswith("#"):
                    cols = line.split("\t")
                    if "-" in cols[0] or "." in cols[0]:
                        continue
                    tokens.append(cols[1]); tags.append(cols[3])
        if tokens:
            sentences.append((tokens, tags))
        return sentences
    for _, element in ET.iterparse(path):
        if element.tag.split("}")[-1] == "s":
            words = [w for w in element.iter() if w.tag.split("}")[-1] == "w"]
            if words:
                sentences.append(([(w.text or "").strip() for w in words], [w.get("pos") for w in words]))
            element.clear()
    return sentences


def vocabulary(counts, specials):
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {token: i for i, token in enumerate(specials + [t for t, _ in ordered])}


class CharacterEncoder(nn.Module):
    def __init__(self, characters, embedding, hidden):
        super().__init__()
        self.embedding = nn.Embedding(characters, embedding)
        self.lstm = nn.LSTM(embedding, hidden, bidirectional=True)

    def forward(self, words):  # list of LongTensors, one per distinct word
        packed = pack_sequence([self.embedding(w) for w in words], enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return torch.cat([h[0], h[1]], dim=1)


class CharacterLanguageModel(nn.Module):
    """A `seqmodels lm pretrain` character model (its embedding and LSTM), frozen."""
    def __init__(self, directory):
        super().__init__()
        config = json.load(open(os.path.join(directory, "config.json")))
        vocabulary = json.load(open(os.path.join(directory, "vocabulary.json")))
        self.direction = config.get("direction", "forward")
        self.ids = {t: i for i, t in enumerate(vocabulary["tokens"])}
        self.unknown = self.ids["<unk>"]
        self.embedding = nn.Embedding(config["vocabularySize"], config["embeddingSize"])
        self.lstm = nn.LSTM(config["embeddingSize"], config["hiddenSize"], num_layers=config["layerCount"])
        state = load_file(os.path.join(directory, "model.safetensors"))
        self.load_state_dict({k: v for k, v in state.items() if k.split(".")[0] in ("embedding", "lstm")})
        self.hidden_size = config["hiddenSize"]

    @torch.no_grad()
    def features(self, sentences):
        """Per sentence a [tokens, H] tensor: the state after the space that follows each token."""
        out = []
        for start in range(0, len(sentences), 64):
            readings = [language_model_reading(tokens, self.ids, self.unknown, self.direction) for tokens in sentences[start:start + 64]]
            packed = pack_sequence([self.embedding(torch.tensor(ids)) for ids, _ in readings], enforce_sorted=False)
            states, _ = pad_packed_sequence(self.lstm(packed)[0])   # [L, B, H]
            out += [states[positions, b] for b, (_, positions) in enumerate(readings)]
        return out


class Tagger(nn.Module):
    def __init__(self, words, characters, tags, a, contextual_size=0):
        super().__init__()
        self.word_embedding = nn.Embedding(words, a.word_embedding_size)
        self.char_encoder = CharacterEncoder(characters, a.char_embedding_size, a.char_hidden_size)
        self.lstm = nn.LSTM(a.word_embedding_size + 2 * a.char_hidden_size + contextual_size, a.hidden_size, num_layers=a.layers,
                            bidirectional=True, dropout=a.dropout if a.layers > 1 else 0)
        self.output = nn.Linear(2 * a.hidden_size, tags)
        self.dropout = nn.Dropout(a.dropout)
        # As in SeqModels: embeddings from N(0, 1/d) instead of nn.Embedding's N(0, 1).
        with torch.no_grad():
            self.word_embedding.weight.mul_(a.word_embedding_size ** -0.5)
            self.char_encoder.embedding.weight.mul_(a.char_embedding_size ** -0.5)

    def forward(self, word_ids, spellings, spelling_index, contextual):
        # word_ids: list of LongTensors (one per sentence); spelling_index: same, into spellings;
        # contextual: per sentence the language models' [tokens, C] features (C may be 0).
        chars = self.char_encoder(spellings)
        inputs = [torch.cat([self.word_embedding(w), chars[s], c], dim=1) for w, s, c in zip(word_ids, spelling_index, contextual)]
        packed = pack_sequence([self.dropout(x) for x in inputs], enforce_sorted=False)
        out, _ = self.lstm(packed)
        return self.output(self.dropout(out.data)), out


def encode(sentences, words, chars, tags, max_len, language_models):
    unk_w, unk_c = words["<unk>"], chars["<unk>"]
    encoded = []
    per_model = [lm.features([tokens for tokens, _ in sentences]) for lm in language_models]
    for index, (tokens, tt) in enumerate(sentences):
        spell = []
        for t in tokens:
            cs = list(t)
            if len(cs) > max_len:
                cs = cs[:max_len // 2] + cs[-(max_len - max_len // 2):]
            spell.append(tuple(chars.get(c, unk_c) for c in cs) or (unk_c,))
        contextual = torch.cat([features[index] for features in per_model], dim=1) if per_model else torch.zeros(len(tokens), 0)
        encoded.append((torch.tensor([words.get(t, unk_w) for t in tokens]), spell,
                        torch.tensor([tags[x] for x in tt]), [t not in words for t in tokens], contextual))
    return encoded


def batch_inputs(batch, unk, word_dropout, training):
    distinct, index, ids = {}, [], []
    for w, spell, _, _, _ in batch:
        index.append(torch.tensor([distinct.setdefault(s, len(distinct)) for s in spell]))
        if training and word_dropout > 0:
            w = torch.where(torch.rand(len(w)) < word_dropout, torch.full_like(w, unk), w)
        ids.append(w)
    spellings = [torch.tensor(s) for s in distinct]
    return ids, spellings, index, [b[4] for b in batch]


def evaluate(model, data, unk):
    model.eval()
    correct = total = oov = oov_correct = 0
    with torch.no_grad():
        order = sorted(range(len(data)), key=lambda i: -len(data[i][0]))
        for start in range(0, len(order), 64):
            batch = [data[i] for i in order[start:start + 64]]
            logits, packed = model(*batch_inputs(batch, unk, 0, False))
            gold = pack_sequence([b[2] for b in batch], enforce_sorted=False).data
            unknown = pack_sequence([torch.tensor(b[3]) for b in batch], enforce_sorted=False).data
            right = logits.argmax(1) == gold
            correct += right.sum().item(); total += len(gold)
            oov += unknown.sum().item(); oov_correct += (right & unknown).sum().item()
    return correct / total, (oov_correct / oov if oov else 0.0), total


def train_pytorch(a, train, dev, test):
    torch.manual_seed(a.seed); random.seed(a.seed)
    wc, cc, tc = {}, {}, {}
    for tokens, tags in train:
        for t, g in zip(tokens, tags):
            wc[t] = wc.get(t, 0) + 1; tc[g] = tc.get(g, 0) + 1
            for c in t:
                cc[c] = cc.get(c, 0) + 1
    words = vocabulary({w: c for w, c in wc.items() if c >= a.min_word_frequency}, ["<pad>", "<unk>"])
    chars, tags = vocabulary(cc, ["<pad>", "<unk>"]), vocabulary(tc, [])
    language_models = [CharacterLanguageModel(d) for d in a.char_lm]
    data = [encode(s, words, chars, tags, a.max_word_length, language_models) for s in (train, dev, test)]
    model = Tagger(len(words), len(chars), len(tags), a, sum(lm.hidden_size for lm in language_models))
    optimizer = torch.optim.Adam(model.parameters(), lr=a.learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=1)
    loss_fn = nn.CrossEntropyLoss()
    unk = words["<unk>"]
    start, best, best_state, stale = time.time(), -1.0, None, 0
    for epoch in range(1, a.epochs + 1):
        model.train()
        order = sorted(range(len(data[0])), key=lambda i: (len(data[0][i][0]), random.random()))
        batches = [order[i:i + a.batch_size] for i in range(0, len(order), a.batch_size)]
        random.shuffle(batches)
        total_loss = tokens = 0
        for b in batches:
            batch = [data[0][i] for i in b]
            logits, _ = model(*batch_inputs(batch, unk, a.word_dropout, True))
            gold = pack_sequence([x[2] for x in batch], enforce_sorted=False).data
            loss = loss_fn(logits, gold)
            optimizer.zero_grad(); loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            total_loss += loss.item() * len(gold); tokens += len(gold)
            if a.time_limit and time.time() - start > a.time_limit * 60:
                break
        accuracy, _, _ = evaluate(model, data[1], unk)
        scheduler.step(accuracy)
        print(f"  pytorch epoch {epoch}: loss {total_loss / tokens:.4f} dev accuracy {accuracy:.4f} "
              f"({time.time() - start:.0f} s)", flush=True)
        if accuracy > best:
            best, stale = accuracy, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        if stale >= a.patience or (a.time_limit and time.time() - start > a.time_limit * 60):
            break
    seconds = time.time() - start
    model.load_state_dict(best_state)
    accuracy, oov_accuracy, total = evaluate(model, data[2], unk)
    t0 = time.time(); evaluate(model, data[2], unk); tag_seconds = time.time() - t0
    return {"accuracy": accuracy, "oov_accuracy": oov_accuracy, "train_seconds": seconds,
            "tokens_per_second": total / tag_seconds, "dev_accuracy": best}


def run_ours(a, test_path):
    model = tempfile.mkdtemp(prefix="seqmodels-tagger-")
    command = [a.ours, "tag", "train", "--train", a.train, "--dev", a.dev, "--model", model,
               "--word-embedding-size", str(a.word_embedding_size), "--char-embedding-size", str(a.char_embedding_size),
               "--char-hidden-size", str(a.char_hidden_size), "--hidden-size", str(a.hidden_size),
               "--layers", str(a.layers), "--dropout", str(a.dropout), "--word-dropout", str(a.word_dropout),
               "--min-word-frequency", str(a.min_word_frequency), "--max-word-length", str(a.max_word_length),
               "--epochs", str(a.epochs), "--batch-size", str(a.batch_size), "--learning-rate", str(a.learning_rate),
               "--patience", str(a.patience), "--seed", str(a.seed), "--threads", str(a.threads)]
    if a.time_limit:
        command += ["--time-limit", str(a.time_limit)]
    for directory in a.char_lm:
        command += ["--char-lm", directory]
    start = time.time()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.time() - start
    evaluate = [a.ours, "tag", "eval", "--model", model, "--test", test_path, "--threads", str(a.threads)]
    report = json.loads(subprocess.run(evaluate + ["--json"], check=True, capture_output=True, text=True).stdout)
    # The text report ends with "tagged N tokens in S s (R tokens/s)": tagging alone, without loading.
    text = subprocess.run(evaluate, check=True, capture_output=True, text=True).stdout
    speed = float(text.rsplit("(", 1)[1].split()[0])
    return {"accuracy": report["accuracy"], "oov_accuracy": report["oov_accuracy"], "train_seconds": seconds,
            "tokens_per_second": speed, "dev_accuracy": float("nan"), "model": model}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", required=True); p.add_argument("--dev", required=True); p.add_argument("--test")
    p.add_argument("--word-embedding-size", type=int, default=100)
    p.add_argument("--char-embedding-size", type=int, default=32)
    p.add_argument("--char-hidden-size", type=int, default=32)
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.33)
    p.add_argument("--word-dropout", type=float, default=0.1)
    p.add_argument("--min-word-frequency", type=int, default=1)
    p.add_argument("--max-word-length", type=int, default=24)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--patience", type=int, default=4)
    p.add_argument("--time-limit", type=float, help="minutes")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--char-lm", action="append", default=[], help="a character language model directory (lm pretrain); repeatable")
    p.add_argument("--ours", help="path to the seqmodels binary (release build) to run beside PyTorch")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    test_path = a.test or a.dev
    rows = [("PyTorch " + torch.__version__, train_pytorch(a, read_corpus(a.train), read_corpus(a.dev), read_corpus(test_path)))]
    if a.ours:
        rows.append(("SeqModels", run_ours(a, test_path)))
    print(f"\ntest set: {test_path}; {a.threads} threads. 'train s': PyTorch's loop alone; SeqModels' whole "
          f"`tag train` process (reading, checkpoints and resume state included). 'tag tok/s': tagging the test set "
          f"once the model is loaded.")
    print(f"{'':18}{'accuracy':>10}{'OOV acc.':>10}{'train s':>10}{'tag tok/s':>12}")
    for name, r in rows:
        print(f"{name:18}{100 * r['accuracy']:>9.2f}%{100 * r['oov_accuracy']:>9.2f}%{r['train_seconds']:>10.1f}"
              f"{r['tokens_per_second']:>12.0f}")


if __name__ == "__main__":
    main()
