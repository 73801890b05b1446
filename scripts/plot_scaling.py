#!/usr/bin/python3
"""Thread scaling plots from `tmlp bench --json` files.

One PNG with three panels: training samples/s against threads (median with min-max bars, and
the single-thread GEMM limit times min(threads, cores) dashed), parallel efficiency against the
smallest thread count, and inference samples/s at batch 4096. Several JSON files (e.g. configs
A, B, C) are drawn as one line each.

    tmlp bench A --json a.json; tmlp bench C --json c.json
    /usr/bin/python3 scripts/plot_scaling.py a.json c.json -o scaling.png [--log]
"""
import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def series(report, section):
    """(threads, median, low error, high error) of a section's samples/s, rows that have it."""
    t, med, lo, hi = [], [], [], []
    for row in report["threads"]:
        s = row.get(section)
        if not s or s["samples_per_s"]["median"] is None:
            continue
        st = s["samples_per_s"]
        t.append(row["n_threads"])
        med.append(st["median"])
        lo.append(st["median"] - st["min"])
        hi.append(st["max"] - st["median"])
    return t, med, [lo, hi]


def label(report, path):
    c = report["config"]
    widths = "-".join(str(w) for w in c["widths"])
    return f"{c['name']} ({widths}, batch {c['batch_size']})" if c else path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", nargs="+", help="files written by tmlp bench --json")
    ap.add_argument("-o", "--out", default="scaling.png", help="PNG to write")
    ap.add_argument("--log", action="store_true",
                    help="logarithmic samples/s axes (the default when the medians span 20x)")
    args = ap.parse_args()

    reports = []
    for path in args.json:
        try:
            with open(path) as f:
                reports.append((path, json.load(f)))
        except (OSError, json.JSONDecodeError) as e:
            sys.exit(f"plot_scaling: cannot read '{path}': {e}")

    fig, (ax_train, ax_eff, ax_inf) = plt.subplots(1, 3, figsize=(16, 4.8))
    for path, r in reports:
        name = label(r, path)
        t, med, err = series(r, "train")
        if t:
            line = ax_train.errorbar(t, med, yerr=err, marker="o", capsize=3, label=name)
            limit = [row["train"]["gemm_limit_samples_per_s"] for row in r["threads"]
                     if row.get("train")]
            if all(v is not None for v in limit):
                ax_train.plot(t, limit, linestyle="--", color=line[0].get_color(), alpha=0.6,
                              label=f"{r['config']['name']} GEMM limit")
            eff = [100 * row["train"]["efficiency"] for row in r["threads"] if row.get("train")]
            ax_eff.plot(t, eff, marker="o", label=name)
        t, med, err = series(r, "inference")
        if t:
            ax_inf.errorbar(t, med, yerr=err, marker="o", capsize=3, label=name)

    cores = max(r["machine"]["n_cores"] for _, r in reports)
    threads = sorted({row["n_threads"] for _, r in reports for row in r["threads"]})
    medians = [v for ax in (ax_train, ax_inf) for line in ax.get_lines() for v in line.get_ydata()
               if v > 0]
    log = args.log or (medians and max(medians) > 20 * min(medians))
    for ax, title, ylabel in (
            (ax_train, "training", "samples/s (median, min-max)"),
            (ax_eff, "parallel efficiency", "% of linear scaling"),
            (ax_inf, "inference, batch 4096", "samples/s (median, min-max)")):
        ax.set_title(title)
        ax.set_xlabel("threads")
        ax.set_ylabel(ylabel)
        ax.axvline(cores, color="grey", linewidth=0.8, linestyle=":")
        ax.grid(True, alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize="small")
        if log and ax is not ax_eff:
            ax.set_yscale("log")
        if threads[-1] >= 8:
            ax.set_xscale("log", base=2)
        ax.set_xticks(threads, [str(t) for t in threads])
    ax_eff.axhline(100, color="grey", linewidth=0.8)
    ax_eff.set_ylim(bottom=0)
    fig.suptitle(f"tmlp thread scaling ({cores} cores, "
                 f"{reports[0][1]['machine']['simd']}; dotted line: core count)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"plot_scaling: wrote {args.out}")


if __name__ == "__main__":
    main()
