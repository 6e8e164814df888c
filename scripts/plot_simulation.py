"""Plots the simulator's CSV: one panel per trace, max_wal_size per strategy
against the oracle, with the intervals that forced checkpoints marked."""

import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

source, target = sys.argv[1], sys.argv[2]
series = defaultdict(lambda: defaultdict(list))
with open(source) as f:
    for row in csv.DictReader(f):
        s = series[row["trace"]][row["strategy"]]
        s.append((int(row["interval"]), int(row["size_mb"]), int(row["forced"])))

traces = list(series)
fig, axes = plt.subplots(len(traces), 1, figsize=(11, 3.2 * len(traces)), sharex=False)
for ax, trace in zip(axes, traces, strict=True):
    for strategy, points in series[trace].items():
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        style = {"color": "black", "linestyle": "--", "linewidth": 1.2} if strategy == "oracle" else {"linewidth": 1.4}
        (line,) = ax.step(xs, ys, where="post", label=strategy, **style)
        loud = [(p[0], p[1]) for p in points if p[2] > 0]
        if loud and strategy != "oracle":
            ax.scatter([p[0] for p in loud], [p[1] for p in loud], s=14, color=line.get_color(), marker="x")
    ax.set_title(f"{trace} (x: intervals with forced checkpoints)")
    ax.set_ylabel("max_wal_size (MB)")
    ax.grid(alpha=0.3)
axes[0].legend(ncol=5, fontsize=8, loc="upper left")
axes[-1].set_xlabel("interval (checkpoint_timeout = 5 min)")
fig.tight_layout()
fig.savefig(target, dpi=90)
print(f"wrote {target}")
