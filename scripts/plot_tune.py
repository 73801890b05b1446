#!/usr/bin/python3
"""Plots a `tmlp tune` journal (OUT.journal.jsonl) as a PNG: each trial's metric against the
epochs it trained, one line per trial; trials promoted past their first rung are drawn bold and
labelled, the others thin and grey; the best trial is marked.

    scripts/plot_tune.py best.tmlp.journal.jsonl               # writes best.tmlp.journal.png
    scripts/plot_tune.py best.tmlp.journal.jsonl -o search.png --title "iris"

Needs matplotlib (Debian: python3-matplotlib, installed by scripts/setup.sh); run it with
/usr/bin/python3.
"""
import argparse
import json
import math
import sys
from pathlib import Path


def read_journal(path):
    """The search line and the runs of a journal; a last line cut short (a killed write) is
    skipped; any other bad line exits with one line."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    cut = lines[-1] != ""
    lines = [line for line in lines if line.strip()]
    if not lines:
        sys.exit(f"plot_tune: {path}: empty")
    try:
        search = json.loads(lines[0])["search"]
    except (json.JSONDecodeError, KeyError, TypeError):
        sys.exit(f"plot_tune: {path}:1: not a journal of tmlp tune")
    runs = []
    for number, line in enumerate(lines[1:], 2):
        try:
            run = json.loads(line)
            if not isinstance(run, dict) or "trial" not in run or "curve" not in run:
                raise ValueError("not a run")
        except (json.JSONDecodeError, ValueError) as e:
            if cut and number == len(lines):
                break
            sys.exit(f"plot_tune: {path}:{number}: not a run of tmlp tune ({e})")
        runs.append(run)
    if not runs:
        sys.exit(f"plot_tune: {path}: no runs yet")
    return search, runs


def curves(runs):
    """Per trial: {epoch: metric} over all its runs (with --folds, the folds' mean), and its
    furthest run (with --folds, its metric the folds' mean)."""
    folds, last = {}, {}
    for r in runs:
        t, f = r["trial"], r.get("fold", 0)
        for k, v in enumerate(r["curve"]):
            folds.setdefault(t, {}).setdefault(r["first_epoch"] + k, {})[f] = (
                math.nan if v is None else float(v))
        if t not in last or r["rung"] > last[t]["rung"]:
            last[t] = dict(r, fold_metrics={f: r["metric"]})
        elif r["rung"] == last[t]["rung"]:
            last[t]["fold_metrics"][f] = r["metric"]
    points = {t: {e: sum(v.values()) / len(v) for e, v in epochs.items()}
              for t, epochs in folds.items()}
    for r in last.values():
        values = list(r["fold_metrics"].values())
        r["metric"] = None if None in values else sum(values) / len(values)
    return points, last


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("journal", help="the journal of tmlp tune (JSON lines)")
    parser.add_argument("-o", "--out", help="PNG to write (default: JOURNAL with .png)")
    parser.add_argument("--title", help="the figure's title")
    args = parser.parse_args()
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_tune: needs matplotlib (Debian: apt-get install python3-matplotlib)")

    search, runs = read_journal(args.journal)
    points, last = curves(runs)
    metric = "validation loss" if search.get("metric") == "valid_loss" else "task metric"
    higher = False
    # The task metric's direction: accuracy (higher is better) lies in [0, 1]; rmse does not
    # tell, so the journal's search says which was asked for and the plot says which is best.
    finite = [r["metric"] for r in last.values() if r.get("metric") is not None]
    if search.get("metric") == "score" and finite and all(0 <= v <= 1 for v in finite):
        higher = True
    ranked = sorted(
        (t for t in last if last[t].get("metric") is not None),
        key=lambda t: ((-1 if higher else 1) * last[t]["metric"], t),
    )
    best = ranked[0] if ranked else None

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for t in sorted(points):
        xs = sorted(points[t])
        ys = [points[t][x] for x in xs]
        promoted = last[t]["rung"] > 0
        if promoted:
            ax.plot(xs, ys, lw=2.0, marker="o", ms=3, label=f"trial {t}", zorder=3)
        else:
            ax.plot(xs, ys, lw=0.8, color="0.65", alpha=0.8, zorder=1)
    if best is not None:
        x = last[best]["model_epoch"]
        y = points[best].get(x, last[best]["metric"])
        ax.plot([x], [y], marker="*", ms=16, color="gold", mec="black", zorder=4,
                label=f"best: trial {best}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric + (" (higher is better)" if higher else " (lower is better)"))
    ax.set_title(args.title or f"tmlp tune on {search.get('data', '?')}: "
                 f"{len(last)} trials, {len(runs)} runs (bold: promoted)")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=8, ncol=2 if len(handles) > 10 else 1)
    out = Path(args.out) if args.out else Path(args.journal).with_suffix(".png")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
