"""How SeqModels turns text into ids, written once for the Python tools that feed its models
(`bench_classifier_pytorch.py`, `check_onnx_export.py`, `bench_onnx_runtime.py`)."""
import re

# `WordTokenizer`: runs of letters and digits with inner apostrophes and hyphens, or one other
# non-space character (it differs only in rare cases such as "3.5").
TOKEN = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*|\S", re.UNICODE)


def word_tokens(text, max_length):
    """`TextPreparation.tokens(of:)` with the words tokenizer and head+tail truncation (0: no limit)."""
    text = text.replace("<br />", " ").replace("<br/>", " ").replace("<br>", " ")
    words = TOKEN.findall(text.lower())
    if max_length and len(words) > max_length:
        front = (max_length + 1) // 2
        words = words[:front] + words[len(words) - (max_length - front):]
    return words


def ngrams(tokens, order):
    """The distinct n-grams (1 to `order` tokens, joined by spaces) of a token list, as `NGramFeatures`."""
    return {" ".join(tokens[i:i + n]) for n in range(1, order + 1) for i in range(len(tokens) - n + 1)}


def ngram_ids(tokens, ids, order):
    """The sorted ids (from the n-gram -> id map `ids`) of the known n-grams of `tokens`."""
    return sorted(ids[g] for g in ngrams(tokens, order) if g in ids)


def character_ids(word, ids, limit, unknown):
    """`Tagger.characterIDs(of:)`: a word longer than `limit` keeps its first `limit // 2` and its
    last characters; unknown characters, and an empty word, become `unknown`."""
    characters = list(word)
    if len(characters) > limit:
        characters = characters[:limit // 2] + characters[len(characters) - (limit - limit // 2):]
    return [ids.get(c, unknown) for c in characters] or [unknown]


def language_model_reading(tokens, ids, unknown, direction):
    """`ContextualStringEmbeddings.reading`: the character ids a tagger's character language model
    reads for a sentence ("\\n" + tokens joined by spaces + " ", token order and spellings reversed
    for a backward model; unknown characters become `unknown`), and per token, in sentence order,
    the index of the step whose state is its feature (the space after it in the text read)."""
    ordered = tokens if direction == "forward" else [t[::-1] for t in reversed(tokens)]
    read, positions = [ids.get("\n", unknown)], []
    for token in ordered:
        read += [ids.get(c, unknown) for c in token]
        read.append(ids.get(" ", unknown))
        positions.append(len(read) - 1)
    return read, positions if direction == "forward" else positions[::-1]
