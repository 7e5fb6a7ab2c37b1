#!/usr/bin/env bash
# Paired-device connectivity benchmark: two tetherd processes paired on loopback.
#  1. N stored, acknowledged user info transfers app to app (tether send userinfo --from -> tether receive --out),
#     every SQLite commit fsync'd (synchronous=FULL): transfers per second, wall clock from the sender's start to
#     the receiving app's last acknowledgement (JVM start-ups included, so the figure is conservative).
#  2. The same N messages through Mosquitto (Debian's package) QoS 1 on loopback, publisher to subscriber.
#  3. A FILE_MIB MiB file: tether send file -> tether receive --files, against curl fetching the same file over HTTPS
#     from nginx (Debian's package) on loopback.
# Usage: bench/connectivity.sh [N=100000] [FILE_MIB=1024]      (needs root or sudo for apt-get the first time)
# WARM_N (default N) sizes the warm-up round of section 1 that runs before the measured one (WARM_N=0 skips it);
# WARM_MIB (default 256) sizes the untimed warm-up file of section 3; ONLY=file runs only section 3 (ONLY=userinfo only sections 1 and 2); the default runs everything.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${1:-100000}"
FILE_MIB="${2:-1024}"
ONLY="${ONLY:-all}"
case "$ONLY" in all|file|userinfo) ;; *) echo "ONLY must be all, file or userinfo, not $ONLY" >&2; exit 2 ;; esac
cd "$root"

need=()
command -v mosquitto >/dev/null || need+=(mosquitto)
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
. "$root/bench/nginx-https.sh"
MOSQUITTO="$(command -v mosquitto || echo /usr/sbin/mosquitto)"

./mvnw -q -B -DskipTests -pl tether-cli -am package
# the CLI exactly as a user runs it from the checkout (its JVM flags and class-data archive)
tether() { "$root/tether" "$@"; }
tether --version >/dev/null

work="$(mktemp -d /tmp/tether-bench.XXXXXX)"
pids=()
cleanup() {
  tether --home "$work/primary" daemon stop >/dev/null 2>&1 || true
  tether --home "$work/companion" daemon stop >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${mpid:-}" ] && kill "$mpid" 2>/dev/null || true
  [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
rate() { python3 -c "import sys; print('%.0f' % (float(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2]))))" "$@"; }
# CPU seconds (user + system) a process has used so far, from /proc/PID/stat
cpu() { python3 -c "import os,sys; f=open('/proc/%s/stat'%sys.argv[1]).read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))" "$1"; }
freeport() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }

echo "== machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
tether --home "$work/primary" daemon start >/dev/null
tether --home "$work/companion" daemon start >/dev/null
tether --home "$work/primary" pair listen --host 127.0.0.1 > "$work/listen.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^code:' "$work/listen.out" 2>/dev/null && break; sleep 0.1; done
addr="$(awk '/^address:/ {print $2}' "$work/listen.out")"
code="$(awk '/^code:/ {print $2}' "$work/listen.out")"
tether --home "$work/companion" pair connect "$addr" "$code" >/dev/null
for _ in $(seq 100); do tether --home "$work/companion" peers --json | grep -q '"connected":true' && break; sleep 0.2; done

if [ "$ONLY" != file ]; then
# ---- 1. user info, app to app
python3 -c "
import sys
for i in range(int(sys.argv[1])): print('{\"n\":%d,\"reading\":%d.5,\"city\":\"Oslo\"}' % (i, i % 40))" "$N" > "$work/userinfo.jsonl"
# run ROUND_N transfers for app APP: sender CLI -> two daemons -> receiving CLI acting as the app
userinfo_round() {
  local label="$1" app="$2" count="$3"
  head -n "$count" "$work/userinfo.jsonl" > "$work/$app.jsonl"
  tether --home "$work/companion" receive --app "$app" --count "$count" --out "$work/$app.received" --timeout 600 &
  local rp=$!
  # the receiving app's progress every 20 ms, for the sustained rate (10% to 90% of the deliveries)
  python3 -c "
import sys, time, os
path, n, out = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], 'w')
# reads only what was appended since the last look, so the monitor itself costs next to no CPU
f, c = None, 0
def count():
    global f, c
    if f is None:
        try:
            f = open(path, 'rb')
        except FileNotFoundError:
            return 0
    while True:
        block = f.read(1 << 20)
        if not block:
            return c
        c += block.count(b'\\n')
while True:
    c = count()
    out.write('%.3f %d\\n' % (time.time(), c)); out.flush()
    if c >= n:
        break
    time.sleep(0.02)
" "$work/$app.received" "$count" "$work/$app.progress" &
  local pp=$!
  sleep 2
  local t0 t_sent t1
  t0="$(now)"
  tether --home "$work/primary" send userinfo --app "$app" --from "$work/$app.jsonl" >/dev/null
  t_sent="$(now)"
  wait "$rp"
  t1="$(now)"
  wait "$pp" 2>/dev/null || true
  local sustained
  sustained="$(python3 -c "
import sys
n = int(sys.argv[2]); pts = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
def at(k): return next(t for t, c in pts if c >= k)
lo, hi = at(n * 0.1), at(n * 0.9)
print('%.0f' % (0.8 * n / (hi - lo)) if hi > lo else 'n/a')" "$work/$app.progress" "$count")"
  local got unique inorder
  got="$(wc -l < "$work/$app.received")"
  unique="$(python3 -c "import json,sys; print(len({json.loads(l)['payload']['n'] for l in open(sys.argv[1])}))" "$work/$app.received")"
  inorder="$(python3 -c "import json,sys; n=[json.loads(l)['payload']['n'] for l in open(sys.argv[1])]; print('in order' if n == sorted(n) else 'OUT OF ORDER')" "$work/$app.received")"
  echo "tether user info ($label): $count sent, $got received ($unique distinct, $inorder), stored by sender in $(python3 -c "print('%.2f' % ($t_sent-$t0))") s, app to app $(rate "$count" "$t0" "$t1")/s over the whole run (both CLI start-ups included), sustained $sustained/s (10% to 90% of the deliveries)"
}
# The first transfers after a daemon starts run while its JIT compiles the path (several CPU-seconds on each daemon);
# a daemon runs for days, so the figure that counts is the second round, on warm daemons. Both are reported.
userinfo_round "fresh daemons" bench.cold "$(( N < 20000 ? N : 20000 ))"
# C2 keeps compiling the path for the first ~100,000 transfers of a fresh daemon: a warm-up round of WARM_N transfers
# (default N; reported like the others, WARM_N=0 skips it) goes first, so the last round measures compiled code.
WARM_N="${WARM_N:-$N}"
if [ "$WARM_N" -gt 0 ]; then userinfo_round "warming up" bench.warm "$(( WARM_N < N ? WARM_N : N ))"; fi
userinfo_round "warm daemons" bench.counter "$N"
# what the rounds left in the stores: a daemon that runs for days must not keep every id it ever received
store_report() {
  python3 - "$1" "$2" <<'PY'
import os, sqlite3, sys
db = os.path.join(sys.argv[2], "tether.db")
size = lambda f: os.path.getsize(f) / 2**20 if os.path.exists(f) else 0.0
c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
rows = {t: c.execute("SELECT count(*) FROM %s" % t).fetchone()[0] for t in ("cx_outbox", "cx_inbox", "cx_seen")}
status = dict(l.split(":", 1) for l in open("/proc/%s/status" % open(os.path.join(sys.argv[2], "tetherd.pid")).read().strip()) if ":" in l)
mib = lambda k: int(status[k].split()[0]) / 1024
print("store of the %s after the rounds: tether.db %.1f MiB, WAL %.1f MiB; rows: %s; tetherd resident %.0f MiB (peak %.0f MiB)" % (
      sys.argv[1], size(db), size(db + "-wal"), ", ".join("%s %d" % kv for kv in rows.items()), mib("VmRSS"), mib("VmHWM")))
PY
}
# the receiver forgets seen ids below the bound the sender announced the time before (every 5 s at most, and once more
# after the last change): 11 s after the last acknowledgement it keeps none
sleep 11
store_report sender "$work/primary"
store_report receiver "$work/companion"

# ---- 2. Mosquitto QoS 1
mport="$(freeport)"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mport" > "$work/mosquitto.conf"
"$MOSQUITTO" -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
mpid=$!
sleep 1
mosquitto_sub -h 127.0.0.1 -p "$mport" -q 1 -t bench/counter -C "$N" > "$work/mqtt.out" &
sp=$!
pids+=($sp)
sleep 1
t0="$(now)"
mosquitto_pub -h 127.0.0.1 -p "$mport" -q 1 -t bench/counter -l < "$work/userinfo.jsonl" 2> "$work/mqtt-pub.err" || true
# Mosquitto may drop messages (queue limits): wait until all arrived or nothing arrived for 3 s.
last=-1; t1="$(now)"; quiet=0
while [ "$quiet" -lt 30 ]; do
  c="$(wc -l < "$work/mqtt.out")"
  if [ "$c" != "$last" ]; then last="$c"; t1="$(now)"; quiet=0; else quiet=$((quiet + 1)); fi
  [ "$c" -ge "$N" ] && break
  sleep 0.1
done
kill "$sp" 2>/dev/null || true
mgot="$(wc -l < "$work/mqtt.out")"
echo "mosquitto QoS 1: $N published, $mgot received ($((N - mgot)) lost), $(rate "$mgot" "$t0" "$t1")/s delivered (no persistence, no fsync)"
fi
[ "$ONLY" = userinfo ] && exit 0

# ---- 3. file vs curl over HTTPS from nginx
mkdir -p "$work/www" "$work/nginx" "$work/kept"
head -c "$((FILE_MIB * 1024 * 1024))" /dev/urandom > "$work/www/big.bin"
chmod 755 "$work" "$work/www"; chmod 644 "$work/www/big.bin"   # nginx workers run as nobody
nginx_https "$work/nginx" "$work/www"
nport="$nginx_port"
t0="$(now)"
got_bytes="$(curl -fsk -o "$work/curl.bin" -w '%{size_download}' "https://127.0.0.1:$nport/big.bin")"
t1="$(now)"
[ "$got_bytes" -eq "$((FILE_MIB * 1024 * 1024))" ] || { echo "curl fetched $got_bytes bytes, not the whole file"; exit 1; }
curl_mibs="$(python3 -c "print('%.0f' % ($FILE_MIB / ($t1 - $t0)))")"
rm -f "$work/curl.bin"
# warm-up, not timed: a WARM_MIB (default 256) MiB file first, so that both daemons run the file path compiled (JIT)
# as a long-running daemon does; nginx and curl are native code and need no warm-up. WARM_MIB=0 measures a cold daemon.
WARM_MIB="${WARM_MIB:-256}"
if [ "$WARM_MIB" -gt 0 ]; then
  head -c "$((WARM_MIB * 1024 * 1024))" /dev/urandom > "$work/warm.bin"
  tether --home "$work/companion" receive --app bench.files --count 1 --files "$work/kept" --out "$work/warm.jsonl" --timeout 300 &
  wp=$!
  tether --home "$work/primary" send file --app bench.files "$work/warm.bin" >/dev/null
  wait "$wp"
  rm -f "$work/warm.bin" "$work/kept/warm.bin"
fi
tether --home "$work/companion" receive --app bench.files --count 1 --files "$work/kept" --out "$work/files.jsonl" --timeout 900 &
rp=$!
sleep 2
ppid_="$(cat "$work/primary/tetherd.pid")"; cpid_="$(cat "$work/companion/tetherd.pid")"
pc0="$(cpu "$ppid_")"; cc0="$(cpu "$cpid_")"
t0="$(now)"
tether --home "$work/primary" send file --app bench.files "$work/www/big.bin" >/dev/null
wait "$rp"
t1="$(now)"
pc1="$(cpu "$ppid_")"; cc1="$(cpu "$cpid_")"
ok="$( [ "$(sha256sum < "$work/kept/big.bin")" = "$(sha256sum < "$work/www/big.bin")" ] && echo "SHA-256 equal" || echo "SHA-256 DIFFERS")"
tether_mibs="$(python3 -c "print('%.0f' % ($FILE_MIB / ($t1 - $t0)))")"
echo "file $FILE_MIB MiB: curl over HTTPS from nginx $curl_mibs MiB/s; tether send file -> receive $tether_mibs MiB/s (snapshot, TLS, SHA-256 both sides, fsync; $ok); ratio $(python3 -c "print('%.2f' % ($tether_mibs / $curl_mibs))")"
echo "  CPU during the file transfer: sending daemon $(python3 -c "print('%.2f' % ($pc1-$pc0))") s, receiving daemon $(python3 -c "print('%.2f' % ($cc1-$cc0))") s, wall $(python3 -c "print('%.2f' % ($t1-$t0))") s; load $(cut -d' ' -f1-3 /proc/loadavg) (window $t0 $t1)"
