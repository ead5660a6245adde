#!/usr/bin/env python3
"""Writes Tests/TasksTests/Fixtures/classifier/parity_<pooling>.safetensors: a tiny classifier
run through PyTorch, for `ClassifierParityTests`.

Each file holds the parameters under SeqModels' names (`embedding.weight`, `lstm.*`,
`output.weight`, `output.bias`), a batch of token ids (`ids`, flat, with `lengths`; not
sorted by length, so packing must reorder), the targets, class weights, and what PyTorch
computes with dropout off: `logits` [batch, labels], `loss` [1] (weighted mean
cross-entropy) and `grad.<name>` for every parameter. The model is the one of
`Tools/bench_classifier_pytorch.py` with the pooling swapped per file.

    python3 Tools/make_classifier_fixtures.py
"""
import os

import torch
import torch.nn as nn
from safetensors.torch import save_file
from torch.nn.utils.rnn import pack_sequence, pad_packed_sequence

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "TasksTests", "Fixtures", "classifier")


class Tiny(nn.Module):
    def __init__(self, pooling, vocab=9, dim=5, hidden=4, layers=2, labels=3):
        super().__init__()
        self.pooling = pooling
        self.embedding = nn.Embedding(vocab, dim, padding_idx=0)
        self.lstm = nn.LSTM(dim, hidden, num_layers=layers, bidirectional=True)
        width = 4 * hidden if pooling == "max+mean" else 2 * hidden
        self.output = nn.Linear(width, labels)

    def forward(self, batch):
        lengths = torch.tensor([len(x) for x in batch])
        out, _ = self.lstm(pack_sequence([self.embedding(x) for x in batch], enforce_sorted=False))
        padded, _ = pad_packed_sequence(out, batch_first=True)  # [B, T, 2H], zeros after each end
        mask = (torch.arange(padded.shape[1])[None, :] < lengths[:, None]).unsqueeze(2)
        maxed = padded.masked_fill(~mask, float("-inf")).max(dim=1).values
        mean = padded.sum(dim=1) / lengths[:, None]
        H = padded.shape[2] // 2
        last = torch.cat([padded[torch.arange(len(batch)), lengths - 1, :H], padded[:, 0, H:]], dim=1)
        pooled = {"max": maxed, "mean": mean, "last": last, "max+mean": torch.cat([maxed, mean], dim=1)}[self.pooling]
        return self.output(pooled)


def main():
    os.makedirs(OUT, exist_ok=True)
    for k, pooling in enumerate(["max+mean", "max", "mean", "last"]):
        torch.manual_seed(100 + k)
        model = Tiny(pooling)
        sequences = [[3, 1, 4, 1, 5], [2, 6], [5, 3, 5, 8, 7, 2, 6], [8, 4, 6], [7]]
        targets = torch.tensor([0, 2, 1, 2, 0])
        weights = torch.tensor([1.0, 0.5, 2.0])
        batch = [torch.tensor(s) for s in sequences]
        logits = model(batch)
        loss = nn.CrossEntropyLoss(weight=weights)(logits, targets)
        loss.backward()
        tensors = {name: p.detach().clone() for name, p in model.named_parameters()}
        tensors.update({"grad." + name: p.grad.detach().clone() for name, p in model.named_parameters()})
        tensors["ids"] = torch.tensor([i for s in sequences for i in s], dtype=torch.int64)
        tensors["lengths"] = torch.tensor([len(s) for s in sequences], dtype=torch.int64)
        tensors["targets"] = targets.to(torch.int64)
        tensors["class_weights"] = weights
        tensors["logits"] = logits.detach()
        tensors["loss"] = loss.detach().reshape(1)
        name = "parity_" + pooling.replace("+", "_") + ".safetensors"
        save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, name),
                  metadata={"pooling": pooling, "torch": torch.__version__})
        print(name, f"loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
