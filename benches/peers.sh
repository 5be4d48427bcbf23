#!/usr/bin/env bash
# Speed of `switchboard simulate --stationary` against SimPy, Ciw and a bare Python loop on the
# same scenario (λ = 600/h, exponential AHT 300 s, 55 agents, exponential patience 120 s), all
# measured in this one run: medians over seeds, and Switchboard's speed as a ratio of each.
#   benches/peers.sh [CALLS_PEERS=200000] [CALLS_OURS=10000000] [SEEDS="1 2 3"]
set -euo pipefail
cd "$(dirname "$0")/.."
calls_peers=${1:-200000}
calls_ours=${2:-10000000}
seeds=${SEEDS:-1 2 3}
peer_sim=${PEER_SIM:-../shared/bench/peer_sim.py}
venv=${PEERS_VENV:-/tmp/peers}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q simpy==4.1.2 ciw==3.2.7
fi
cargo build --release -q
out=$(mktemp -d)
for seed in $seeds; do
  "$venv/bin/python" "$peer_sim" --calls "$calls_peers" --lib simpy,ciw,bare --seed "$seed" > "$out/peers-$seed.json" 2>/dev/null
  ./target/release/switchboard simulate --stationary --calls-per-hour 600 --handle-time 300s --agents 55 \
    --patience 120s --calls "$calls_ours" --seed "$seed" --replications 1 --json > "$out/ours-$seed.json"
done
./target/release/switchboard simulate --stationary --calls-per-hour 600 --handle-time 300s --agents 55 \
  --patience 120s --calls "$calls_ours" --seed 1 --replications 2 --json > "$out/ours-parallel.json"
python3 - "$out" <<'PY'
import json, statistics, sys, glob, os
d = sys.argv[1]
rate = {"simpy": [], "ciw": [], "bare": [], "switchboard": []}
for f in sorted(glob.glob(os.path.join(d, "peers-*.json"))):
    runs = json.load(open(f))["runs"]
    for k in ("simpy", "ciw", "bare"):
        rate[k].append(runs[k]["calls_per_s"])
for f in sorted(glob.glob(os.path.join(d, "ours-[0-9]*.json"))):
    rate["switchboard"].append(json.load(open(f))["calls_per_s"])
par = json.load(open(os.path.join(d, "ours-parallel.json")))["calls_per_s"]
med = {k: statistics.median(v) for k, v in rate.items()}
for k, v in med.items():
    print(f"{k:12s} median {v:14,.0f} calls/s  (runs: {', '.join(f'{x:,.0f}' for x in rate[k])})")
for k in ("simpy", "ciw", "bare"):
    print(f"switchboard / {k:6s} = {med['switchboard'] / med[k]:10,.1f}x")
print(f"2 replications in parallel: {par:,.0f} calls/s = {par / med['switchboard']:.2f}x one thread")
PY
