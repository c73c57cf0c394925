#!/usr/bin/env bash
# Regenerate the bags in test/fixtures/bags/ (used by test/test_bags.py): 5 s of five behaviours of
# the catalog (robotxr1_ros/evaluation/behaviours.py, which the decision datasets also use) on the
# evaluation track, driven in the simulator offline, LiDAR down-sampled to every 8th beam to keep
# them small. Deterministic: the simulator runs from seed 0.
#
# Usage: scripts/make_fixture_bags.sh [OUT_DIR]     (run with scripts/env.sh sourced)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/test/fixtures/bags}
mkdir -p "$OUT"
for behaviour in forward reversing stopped oscillating close_to_left_wall; do
    rm -rf "${OUT:?}/$behaviour"
    robotxr1 record "$OUT/$behaviour" --behaviour "$behaviour" --seconds 5 --beam-stride 8 --storage mcap
done
du -sh "$OUT"
