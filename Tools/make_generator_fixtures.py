#!/usr/bin/env python3
"""Writes Tests/TasksTests/Fixtures/generator/: the generator's whole training run, step by step,
in PyTorch, for `GeneratorParityTests`.

The question it answers (issue 16): does `seqmodels generate train` learn per epoch what the
same recipe learns in PyTorch? Both sides start from the same weights and see the same data in
the same order, so any difference in initialisation, dropout placement, clipping, Adam's
epsilon, the state carried between batches or the loss scale shows up as a difference in the
losses and weights, not as noise. Dropout is off (the two random streams cannot match); the
rest is `seqmodels generate train`'s recipe at a small size:

- the text: `text.txt` here (a copy of Corpora/text/sample.txt, the project's own story), split
  and encoded as GeneratorData does (`Tools/bench_generator_pytorch.py` mirrors it: last 10% for
  validation, vocabulary ordered by count);
- consecutive sampling: 4 lanes, chunks of 25 predictions, the state carried from batch to batch
  (detached) and reset every epoch; the epoch's last batch is shorter and its lanes differ in
  length, so it runs packed;
- Adam (PyTorch defaults, learning rate 0.01), the global gradient norm clipped at 0.3 (the
  norms run from 0.2 to 1.0 here, so about half the steps are clipped), the mean cross-entropy
  of each batch's tokens, 3 epochs;
- validation after every epoch: 16 lanes of the held-out part in windows of 128 steps.

Two files: `full.safetensors` (a full softmax, `decoder.weight/bias`) and `adaptive.safetensors`
(PyTorch's `nn.AdaptiveLogSoftmaxWithLoss`, cutoffs 8 and 20, div_value 4, no head bias).
Each holds `init.<name>` (the weights both sides start from, SeqModels' names), `final.<name>`
(after the 3 epochs), `train_loss` and `valid_loss` (one float64 per epoch: the epoch's
token-weighted mean training loss and the validation loss per token), and `config`
(embedding, hidden, layers, sequence length, lanes, epochs, vocabulary size as int64) and
`optimizer` (learning rate and clipping norm as float32).

    pip install torch safetensors && python3 Tools/make_generator_fixtures.py
"""
import os
import shutil
import sys

import torch
import torch.nn as nn
from safetensors.torch import save_file
from torch.nn.utils.rnn import pack_padded_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_generator_pytorch import lane_batches, real_targets, split_and_encode, validation_lanes  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "TasksTests", "Fixtures", "generator")
EMBEDDING, HIDDEN, LAYERS, SEQUENCE, LANES, EPOCHS = 8, 16, 2, 25, 4, 3
LEARNING_RATE, CLIP = 0.01, 0.3
CUTOFFS = [8, 20]


class Model(nn.Module):
    """SeqModels' LanguageModel without dropout: embedding → nn.LSTM → decoder."""

    def __init__(self, vocabulary, adaptive):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, EMBEDDING)
        self.lstm = nn.LSTM(EMBEDDING, HIDDEN, LAYERS)
        self.adaptive = adaptive
        if adaptive:
            self.decoder = nn.AdaptiveLogSoftmaxWithLoss(HIDDEN, vocabulary, CUTOFFS, div_value=4.0, head_bias=False)
        else:
            self.decoder = nn.Linear(HIDDEN, vocabulary)

    def hidden_rows(self, ids, lengths, state):
        """LSTM outputs of the real tokens (time-major packed order) and the final state."""
        x = self.embedding(ids)
        if lengths is None:
            out, state = self.lstm(x, state)
            return out.reshape(-1, out.shape[-1]), state
        out, state = self.lstm(pack_padded_sequence(x, lengths, enforce_sorted=True), state)
        return out.data, state

    def nll(self, rows, targets, reduction):
        if self.adaptive:
            picked = self.decoder.log_prob(rows).gather(1, targets[:, None]).squeeze(1)
            return -(picked.mean() if reduction == "mean" else picked.sum())
        return nn.functional.cross_entropy(self.decoder(rows), targets, reduction=reduction)


def evaluate(model, lanes, window=128):
    inputs, targets, lengths = lanes
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
            rows, state = model.hidden_rows(inputs[t0:t1, :live], window_lengths, state)
            wanted = real_targets(targets[t0:t1, :live], window_lengths)
            total += model.nll(rows, wanted, "sum").item()
            count += wanted.numel()
    return total / count


def run(text, adaptive, seed):
    torch.manual_seed(seed)
    train_ids, valid_ids, vocabulary = split_and_encode(text)
    batches = lane_batches(train_ids, LANES, SEQUENCE)
    lanes = validation_lanes(valid_ids)
    model = Model(vocabulary, adaptive)
    tensors = {"init." + k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    train_losses, valid_losses = [], []
    for _ in range(EPOCHS):
        state, loss_sum, tokens = None, 0.0, 0
        for inputs, targets, lengths in batches:
            if state is not None:
                state = tuple(s[:, :inputs.shape[1]].detach().contiguous() for s in state)
            rows, final_state = model.hidden_rows(inputs, lengths, state)
            wanted = real_targets(targets, lengths)
            loss = model.nll(rows, wanted, "mean")
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            optimizer.step()
            state = final_state
            loss_sum += loss.item() * wanted.numel()
            tokens += wanted.numel()
        train_losses.append(loss_sum / tokens)
        valid_losses.append(evaluate(model, lanes))
    tensors.update({"final." + k: v.detach().clone().contiguous() for k, v in model.state_dict().items()})
    tensors["train_loss"] = torch.tensor(train_losses, dtype=torch.float64)
    tensors["valid_loss"] = torch.tensor(valid_losses, dtype=torch.float64)
    tensors["optimizer"] = torch.tensor([LEARNING_RATE, CLIP], dtype=torch.float32)
    tensors["config"] = torch.tensor([EMBEDDING, HIDDEN, LAYERS, SEQUENCE, LANES, EPOCHS, vocabulary], dtype=torch.int64)
    print(f"{'adaptive' if adaptive else 'full'}: vocabulary {vocabulary}, {len(batches)} batches per epoch, "
          f"train {[round(x, 4) for x in train_losses]}, validation {[round(x, 4) for x in valid_losses]}")
    return tensors


def main():
    os.makedirs(OUT, exist_ok=True)
    text_path = os.path.join(OUT, "text.txt")
    shutil.copyfile(os.path.join(ROOT, "Corpora", "text", "sample.txt"), text_path)
    with open(text_path, encoding="utf-8") as f:
        text = f.read()
    torch.set_num_threads(1)
    save_file(run(text, adaptive=False, seed=5), os.path.join(OUT, "full.safetensors"))
    save_file(run(text, adaptive=True, seed=6), os.path.join(OUT, "adaptive.safetensors"))


if __name__ == "__main__":
    main()
