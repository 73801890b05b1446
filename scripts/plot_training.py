#!/usr/bin/python3
"""Plots a `tmlp train --log FILE.jsonl` epoch log as a PNG: training and validation loss,
the validation metric, and the learning rate, each against the epoch.

    scripts/plot_training.py run.jsonl               # writes run.png
    scripts/plot_training.py run.jsonl -o curves.png --title "letter, adam"

Needs matplotlib (Debian: python3-matplotlib, installed by scripts/setup.sh --peers); run it with
/usr/bin/python3. Epochs with a gradient-health warning are marked on the loss curve.
"""
import argparse
import json
import math
import sys
from pathlib import Path


def read_log(path):
    """The epoch records of a log, one JSON object per line; exits with one line on a bad one."""
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"plot_training: {path}:{number}: not a JSON line ({e.msg})")
            if not isinstance(record, dict) or "epoch" not in record:
                sys.exit(f"plot_training: {path}:{number}: not an epoch record of tmlp train --log")
            records.append(record)
    if not records:
        sys.exit(f"plot_training: {path}: no epochs")
    return records


def series(records, key):
    """The values of key per epoch, NaN where absent or null (matplotlib leaves a gap)."""
    return [math.nan if r.get(key) is None else float(r[key]) for r in records]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", help="JSON-lines file written by tmlp train --log")
    parser.add_argument("-o", "--out", help="PNG to write (default: LOG with extension .png)")
    parser.add_argument("--title", help="title above the plots (default: the log's file name)")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    records = read_log(args.log)
    epochs = [int(r["epoch"]) for r in records]
    metric = next((r["metric_name"] for r in records if r.get("metric_name")), "metric")
    train_loss, valid_loss = series(records, "train_loss"), series(records, "valid_loss")
    valid_metric, lr = series(records, "valid_metric"), series(records, "lr")
    warned = [r["epoch"] for r in records if r.get("vanishing") or r.get("exploding")]

    fig, (ax_loss, ax_metric, ax_lr) = plt.subplots(3, 1, figsize=(8, 9), sharex=True)
    fig.suptitle(args.title or Path(args.log).name)

    ax_loss.plot(epochs, train_loss, label="train loss", marker=".")
    if not all(math.isnan(v) for v in valid_loss):
        ax_loss.plot(epochs, valid_loss, label="validation loss", marker=".")
        best = min(range(len(epochs)), key=lambda i: (math.isnan(valid_loss[i]), valid_loss[i]))
        ax_loss.axvline(epochs[best], color="grey", linestyle=":", label=f"best epoch {epochs[best]}")
    for i, e in enumerate(warned):
        ax_loss.axvline(e, color="red", alpha=0.3, label="gradient warning" if i == 0 else None)
    if all(v > 0 for v in train_loss + valid_loss if not math.isnan(v)):
        ax_loss.set_yscale("log")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_loss.grid(True, alpha=0.3)

    if all(math.isnan(v) for v in valid_metric):
        ax_metric.text(0.5, 0.5, "no validation", ha="center", va="center",
                       transform=ax_metric.transAxes)
    else:
        ax_metric.plot(epochs, valid_metric, color="C2", marker=".")
    ax_metric.set_ylabel(f"validation {metric}")
    ax_metric.grid(True, alpha=0.3)

    ax_lr.plot(epochs, lr, color="C3", marker=".")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_xlabel("epoch")
    ax_lr.grid(True, alpha=0.3)
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))

    out = args.out or str(Path(args.log).with_suffix(".png"))
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(out)


if __name__ == "__main__":
    main()
