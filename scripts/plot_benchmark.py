"""Plots docs/benchmark.json: max_wal_size and forced checkpoints per 30 s
interval, one line per configuration (first repeat of each)."""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

with open(sys.argv[1]) as f:
    data = json.load(f)
# Runs saved before the start size was a knob started at 64 MB.
start_mb = data.get("start_mb", 64)
fig, (sizes, forced) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
for config, runs in data["results"].items():
    intervals = runs[0]["intervals"]
    xs = list(range(1, len(intervals) + 1))
    start = data["oracle_mb"] if config == "oracle" else start_mb
    # A size read at the end of interval k holds from k on; the last one gets
    # half an interval of width so that a change at the final wake shows.
    ys = [start] + [i["max_wal_size_mb"] for i in intervals]
    sizes.step([0] + xs + [xs[-1] + 0.5], ys + ys[-1:], where="post", label=config, marker=".")
    forced.plot(xs, [i["forced"] for i in intervals], marker="o", label=config)
sizes.set_ylabel("max_wal_size (MB; 0 = load start)")
sizes.set_yscale("log")
sizes.axhline(data["oracle_mb"], color="black", linestyle="--", linewidth=1)
sizes.legend(fontsize=8, ncol=3)
forced.set_ylabel("forced checkpoints in interval")
forced.set_xlabel(f"interval ({data['seconds'] // len(intervals)} s each) from the load start")
for ax in (sizes, forced):
    ax.grid(alpha=0.3)
fig.suptitle(
    f"pgbench TPC-B, PostgreSQL {data['version']}, fsync {data.get('fsync', 'off')}, start {start_mb} MB "
    f"(dashed: oracle {data['oracle_mb']} MB)"
)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=90)
print(f"wrote {sys.argv[2]}")
