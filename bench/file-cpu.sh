#!/usr/bin/env bash
# CPU per GiB of a file sent between two paired daemons, for A/B comparisons of the file path on a shared machine.
# Starts two tetherd processes (the flags `tether daemon start` uses) with TETHERD_JAR as the daemon's jar (default:
# this checkout's build), pairs them on loopback, sends an untimed 256 MiB and an untimed 1 GiB file (JIT warm-up),
# then ROUNDS files of 1 GiB (`tether send file` -> `tether receive --files`), printing for each the CPU seconds of
# the sending and the receiving daemon over the transfer (/proc/PID/stat) and the load average.
# Usage: bench/file-cpu.sh [ROUNDS=3] [TETHERD_JAR]
#   THREADS=1 also prints each daemon's CPU per thread (sampled from /proc/PID/task every 0.1 s, named with jcmd)
#   SYSCALLS=1 also counts each daemon's system calls and context switches over the transfer (perf stat)
# A/B: build main, copy tetherd/target/tetherd-*.jar aside, build the change, then alternate
#   bench/file-cpu.sh 3 /tmp/a/tetherd.jar; bench/file-cpu.sh 3; ...  (compare the totals, not the wall times).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${1:-3}"
cd "$root"
./mvnw -q -B -DskipTests -pl tether-cli -am package
built="$(ls "$root"/tetherd/target/tetherd-*.jar | grep -v sources | head -n 1)"
JAR="${2:-$built}"
work="$(mktemp -d /tmp/tether-file-cpu.XXXXXX)"
# the daemons run from copies of this checkout's jars (and of JAR), so that a rebuild meanwhile cannot pull their
# classes from under them
mkdir -p "$work/jars"
cp=""
while read -r j; do
  if [ "$j" = "$built" ]; then cp -p "$JAR" "$work/jars/tetherd.jar"; j="$work/jars/tetherd.jar"
  elif [[ "$j" == "$root"/* ]]; then cp -p "$j" "$work/jars/"; j="$work/jars/$(basename "$j")"; fi
  cp="${cp:+$cp:}$j"
done < <(tr ':' '\n' < "$root/tether-cli/target/classpath.txt")
export TETHER_DAEMON_COMMAND="java -Xss512k -Xms16m -XX:+UseSerialGC -XX:+IgnoreUnrecognizedVMOptions -XX:MaxInlineLevel=6 -XX:InlineSmallCode=1000 -XX:FreqInlineSize=100 -cp $cp dev.tether.daemon.Tetherd"
tether() { "$root/tether" "$@"; }
cleanup() {
  tether --home "$work/primary" daemon stop >/dev/null 2>&1 || true
  tether --home "$work/companion" daemon stop >/dev/null 2>&1 || true
  [ -n "${lp:-}" ] && kill "$lp" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cpu() { python3 -c "import os,sys; f=open('/proc/%s/stat'%sys.argv[1]).read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))" "$1"; }
cat > "$work/threads.py" <<'PY'
# per-thread CPU of the given daemons until the file STOP exists; threads are named with jcmd 2 s in
import collections, os, re, subprocess, sys, time
stop, pids = sys.argv[1], sys.argv[2:]
hz = os.sysconf('SC_CLK_TCK')
first, last, names, java = {}, {}, {}, {}
def sample(started):
    for p in pids:
        for t in os.listdir(f'/proc/{p}/task'):
            try:
                s = open(f'/proc/{p}/task/{t}/stat').read()
            except OSError:
                continue
            f = s.rsplit(')', 1)[1].split()
            c = (int(f[11]) + int(f[12])) / hz
            first.setdefault((p, t), 0.0 if started else c)
            last[(p, t)] = c
            names[(p, t)] = s[s.index('(') + 1:s.rindex(')')]
def name_threads():
    for p in pids:
        out = subprocess.run(['jcmd', p, 'Thread.print'], capture_output=True, text=True).stdout
        for m in re.finditer(r'^"([^"]+)".*? nid=0x([0-9a-f]+)', out, re.M):
            java[(p, str(int(m.group(2), 16)))] = m.group(1)
sample(False)
t0, named = time.time(), False
while not os.path.exists(stop):
    time.sleep(0.1)
    sample(True)
    if not named and time.time() - t0 > 2:
        named = True
        name_threads()
sample(True)
name_threads()
agg = collections.defaultdict(float)
for k in last:
    agg[(k[0], re.sub(r'-[0-9a-f]{8}$', '', java.get(k, names[k])))] += last[k] - first[k]
for p, role in zip(pids, ('sending', 'receiving')):
    print(f'  {role} daemon, per thread:', ', '.join(f'{n} {v:.2f}' for (q, n), v in sorted(agg.items(), key=lambda x: -x[1]) if q == p and v >= 0.02))
PY
tether --home "$work/primary" daemon start >/dev/null
tether --home "$work/companion" daemon start >/dev/null
tether --home "$work/primary" pair listen --host 127.0.0.1 > "$work/listen.out" 2>&1 &
lp=$!
for _ in $(seq 100); do grep -q '^code:' "$work/listen.out" 2>/dev/null && break; sleep 0.1; done
tether --home "$work/companion" pair connect "$(awk '/^address:/ {print $2}' "$work/listen.out")" "$(awk '/^code:/ {print $2}' "$work/listen.out")" >/dev/null
for _ in $(seq 100); do tether --home "$work/companion" peers --json | grep -q '"connected":true' && break; sleep 0.2; done
head -c $((256 * 1024 * 1024)) /dev/urandom > "$work/warm.bin"
head -c $((1024 * 1024 * 1024)) /dev/urandom > "$work/big.bin"
mkdir -p "$work/kept"
P="$(cat "$work/primary/tetherd.pid")"; C="$(cat "$work/companion/tetherd.pid")"
echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), daemon jar $JAR"
send() { # FILE LABEL MEASURED
  rm -f "$work/kept/"*
  tether --home "$work/companion" receive --app bench.files --count 1 --files "$work/kept" --out "$work/r.jsonl" --timeout 600 &
  local rp=$! sp="" s1="" s2=""
  sleep 1.5
  if [ "$3" = 1 ] && [ -n "${THREADS:-}" ]; then rm -f "$work/stop"; python3 "$work/threads.py" "$work/stop" "$P" "$C" > "$work/threads.out" & sp=$!; sleep 0.3; fi
  if [ "$3" = 1 ] && [ -n "${SYSCALLS:-}" ]; then
    perf stat -e raw_syscalls:sys_enter,context-switches -p "$P" -o "$work/sc-p.txt" & s1=$!
    perf stat -e raw_syscalls:sys_enter,context-switches -p "$C" -o "$work/sc-c.txt" & s2=$!
    sleep 0.3
  fi
  local p0 c0 t0 p1 c1 t1
  p0="$(cpu "$P")"; c0="$(cpu "$C")"; t0="$(date +%s.%N)"
  tether --home "$work/primary" send file --app bench.files "$1" >/dev/null
  wait "$rp"
  t1="$(date +%s.%N)"; p1="$(cpu "$P")"; c1="$(cpu "$C")"
  cmp -s "$1" "$work/kept/$(basename "$1")" || { echo "the received file differs from the sent one"; exit 1; }
  [ "$3" = 1 ] || return 0
  python3 -c "import sys; p0,p1,c0,c1,t0,t1=map(float,sys.argv[1:7]); print('%s: sending daemon %.2f, receiving daemon %.2f, both %.2f CPU-s per GiB; wall %.2f s; load %s' % (sys.argv[7], p1-p0, c1-c0, p1-p0+c1-c0, t1-t0, open('/proc/loadavg').read().split()[0]))" "$p0" "$p1" "$c0" "$c1" "$t0" "$t1" "$2"
  if [ -n "$s1" ]; then
    kill -INT "$s1" "$s2"; wait "$s1" "$s2" || true
    echo "  system calls / context switches: sending daemon $(awk '/sys_enter/ {print $1}' "$work/sc-p.txt") / $(awk '/context-switches/ {print $1}' "$work/sc-p.txt"), receiving daemon $(awk '/sys_enter/ {print $1}' "$work/sc-c.txt") / $(awk '/context-switches/ {print $1}' "$work/sc-c.txt")"
  fi
  if [ -n "$sp" ]; then touch "$work/stop"; wait "$sp"; cat "$work/threads.out"; fi
}
send "$work/warm.bin" "warm-up 256 MiB" 0
send "$work/big.bin" "warm-up 1 GiB" 0
for i in $(seq "$ROUNDS"); do send "$work/big.bin" "round $i" 1; done
