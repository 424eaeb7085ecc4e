"""Benchmark (not a test): training and decoding speed of the sequence-labelling toolkit.

Trains a word BiLSTM, a word BiLSTM-CRF and a character+word BiLSTM-CRF (the shapes of the
concept_extraction and deidentification chapters) for one epoch on synthetic sentences and prints
training tokens per second, decoding tokens per second and peak memory, on the CPU and, where
there is one, on the GPU. Sizes default to the chapters' `paper` profiles. The last row is the
deidentification chapter's own model (`deid.CharWordBiLSTMCRF`: its character LSTM reads each
distinct word of a batch once, in length groups), on words drawn from a Zipf-like vocabulary of
realistic lengths, so repeated words occur as in text. Run it on the main branch and on a change
to compare tokens per second before and after.

    .venv/bin/python benchmarks/tagger_speed.py
    .venv/bin/python benchmarks/tagger_speed.py --sentences 4000 --hidden 100 --device cuda
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np
import torch
from torch import nn

from precmed_utils.studies import deid
from precmed_utils.text import tag_set
from precmed_utils.text.tagger import CRF, Tagger, batches, pad_batch, predict, transition_constraints


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Net(Tagger):
    def __init__(self, n_words, n_chars, n_tags, hidden, char_dim, crf):
        super().__init__(n_tags, crf)
        self.words = nn.Embedding(n_words, 100, padding_idx=0)
        self.char_dim = char_dim
        if char_dim:
            self.chars = nn.Embedding(n_chars, char_dim, padding_idx=0)
            self.char_lstm = nn.LSTM(char_dim, char_dim, batch_first=True, bidirectional=True)
        self.lstm = nn.LSTM(100 + 2 * char_dim, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, n_tags)

    def emissions(self, batch):
        x = self.words(batch["words"])
        if self.char_dim:
            B, T, C = batch["chars"].shape
            _, (h, _) = self.char_lstm(self.chars(batch["chars"].view(B * T, C)))
            x = torch.cat([x, h.transpose(0, 1).reshape(B, T, -1)], -1)
        return self.out(self.lstm(x)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sentences", type=int, default=2000)
    ap.add_argument("--length", type=int, default=25, help="mean sentence length in tokens")
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    names = tag_set(["A", "B", "C", "D"], "BIOES")
    data = []
    for _ in range(args.sentences):
        n = max(2, int(rng.poisson(args.length)))
        data.append({"words": rng.integers(2, 5000, n).tolist(),
                     "chars": rng.integers(2, 80, (n, 8)).tolist(),
                     "tags": rng.integers(0, len(names), n).tolist()})
    n_tokens = sum(len(d["words"]) for d in data)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {args.device}; "
          f"{args.sentences} sentences, {n_tokens} tokens")
    # words for the deid model: Zipf-distributed ids, each with a fixed spelling of 1-12 characters
    spell = [rng.integers(2, 80, int(rng.integers(1, 13))).tolist() for _ in range(5000)]
    for d in data:
        d["words"] = [min(int(w), 4999) for w in rng.zipf(1.3, len(d["words"]))]
        d["chars"] = [spell[w] for w in d["words"]]
    rows = (("word BiLSTM", 0, False), ("word BiLSTM-CRF", 0, True), ("char+word BiLSTM-CRF", 25, True),
            ("deid char+word BiLSTM-CRF", "deid", True))
    for label, char_dim, use_crf in rows:
        crf = CRF(len(names), transition_constraints(names, "BIOES")) if use_crf else None
        if char_dim == "deid":
            config = {"n_words": 5000, "n_chars": 80, "tags": names, "word_hidden": args.hidden}
            model = deid.build_model(config).to(args.device)
        else:
            model = Net(5000, 80, len(names), args.hidden, char_dim, crf).to(args.device)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        model.train()
        t0, c0 = time.perf_counter(), time.process_time()
        for ids in batches(data, args.batch_size, shuffle=True, seed=0):
            loss = model.loss(pad_batch([data[i] for i in ids], args.device))
            opt.zero_grad()
            loss.backward()
            opt.step()
        train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0 = time.perf_counter()
        predict(model, data, device=args.device)
        dec_s = time.perf_counter() - t0
        print(f"  {label:<26} train {n_tokens / train_s:9.0f} tok/s ({n_tokens / train_cpu:6.0f} per CPU s)  "
              f"decode {n_tokens / dec_s:9.0f} tok/s   peak RSS {peak_mb():6.0f} MB")


if __name__ == "__main__":
    main()
