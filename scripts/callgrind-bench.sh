#!/bin/bash
# Counts the instructions the plugin spends per publish/unpublish RPC: runs rds-csi-bench
# (--publish-only) with the plugin under callgrind, counting from the first round, and prints the
# instructions per RPC by library and the functions that cost most. Instruction counts are exact
# where times are noisy, so two builds compare with one run each.
#
# usage: scripts/callgrind-bench.sh [PLUGIN] [OUTDIR]   (needs valgrind; build/ built)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
plugin=$(realpath "${1:-$here/build/rds-csi-plugin}")
out=$(realpath -m "${2:-/tmp/rds-csi-callgrind}")
volumes=300
mkdir -p "$out"
rm -f "$out"/callgrind.out.*
cat > "$out/plugin.sh" <<WRAP
#!/bin/bash
exec valgrind --tool=callgrind --callgrind-out-file=$out/callgrind.out.%p --dump-instr=no $plugin "\$@"
WRAP
chmod +x "$out/plugin.sh"
RDS_CSI_PLUGIN="$out/plugin.sh" stdbuf -oL "$here/build/rds-csi-bench" --publish-only \
  --volumes "$volumes" --rounds 1 > "$out/bench.txt" 2>&1 &
bench=$!
until grep -q "round 1" "$out/bench.txt" 2>/dev/null; do
  kill -0 "$bench" 2>/dev/null || { cat "$out/bench.txt"; exit 1; }
  sleep 0.2
done
# Zero the counters: what follows is the two rounds of publish/unpublish (1 and 32 clients).
callgrind_control -z > /dev/null 2>&1
wait "$bench"
# The plugin's own file: the largest, should a child process have left one too.
profile=$(ls -S "$out"/callgrind.out.* | head -1)
python3 "$here/scripts/callgrind_summary.py" "$profile" $((4 * volumes)) 40
