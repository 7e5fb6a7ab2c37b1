#!/usr/bin/env bash
# Relay benchmark: two tetherd processes paired on loopback whose direct path is then cut, so that their link runs
# through a Mosquitto broker (Debian's package) with `tether relay set`, the pinned mutual TLS end to end inside it.
#  1. N stored, acknowledged user info transfers app to app through the relay (tether send userinfo --from ->
#     tether receive --out), every SQLite commit fsync'd, against the same N lines published to the same broker with
#     mosquitto_pub QoS 1 to mosquitto_sub (no storage, no end-to-end encryption).
#  2. A FILE_MIB MiB file through the relay (snapshot, chunks, SHA-256 both sides), against the same bytes published
#     to the broker as 32 KiB QoS 1 messages by mosquitto_pub (one message per line of a hex dump) and counted by a
#     subscriber.
# With TLS=1 the broker is the production shape: Mosquitto takes only TLS (a CA and server certificate made here with
# openssl) and only a user with a password; the daemons relay through mqtts://localhost:PORT with --ca-file,
# --username and --password-file, and mosquitto_pub/sub use the same TLS and login.
# Usage: [TLS=1] bench/relay.sh [N=20000] [FILE_MIB=64]      (needs root or sudo for apt-get the first time)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${1:-20000}"
FILE_MIB="${2:-64}"
cd "$root"

need=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
MOSQUITTO="$(command -v mosquitto || echo /usr/sbin/mosquitto)"

./mvnw -q -B -DskipTests -pl tether-cli -am package
tether() { "$root/tether" "$@"; }
tether --version >/dev/null

work="$(mktemp -d /tmp/tether-relay-bench.XXXXXX)"
pids=()
cleanup() {
  tether --home "$work/primary" daemon stop >/dev/null 2>&1 || true
  tether --home "$work/companion" daemon stop >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
rate() { python3 -c "import sys; print('%.0f' % (float(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2]))))" "$@"; }
freeport() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
waitfor() { for _ in $(seq 300); do eval "$1" && return 0; sleep 0.2; done; echo "timed out waiting for: $1" >&2; exit 1; }

echo "== machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
mport="$(freeport)"
printf 'listener %s 127.0.0.1\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n' "$mport" > "$work/mosquitto.conf"
if [ "${TLS:-0}" = 1 ]; then
  # the broker's files must be readable after Mosquitto drops root for its own user
  chmod 755 "$work"
  ( cd "$work"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 \
      -subj /CN=bench-relay-ca 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr \
      -subj /CN=localhost 2>/dev/null
    printf 'subjectAltName=DNS:localhost\n' > san.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
      -extfile san.ext 2>/dev/null
    chmod 644 server.key
    printf 'bench-relay-password\n' > password
    mosquitto_passwd -b -c passwd bench bench-relay-password 2>/dev/null
    chmod 644 passwd )
  printf 'allow_anonymous false\npassword_file %s\ncafile %s\ncertfile %s\nkeyfile %s\n' "$work/passwd" "$work/ca.pem" \
    "$work/server.pem" "$work/server.key" >> "$work/mosquitto.conf"
  broker="mqtts://localhost:$mport"
  relay_args=(--ca-file "$work/ca.pem" --username bench --password-file "$work/password")
  mq_args=(-h localhost -p "$mport" --cafile "$work/ca.pem" -u bench -P bench-relay-password)
else
  printf 'allow_anonymous true\n' >> "$work/mosquitto.conf"
  broker="mqtt://127.0.0.1:$mport"
  relay_args=()
  mq_args=(-h 127.0.0.1 -p "$mport")
fi
echo "== broker: $broker"
"$MOSQUITTO" -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
pids+=($!)

tether --home "$work/primary" daemon start >/dev/null
tether --home "$work/companion" daemon start >/dev/null
tether --home "$work/primary" pair listen --host 127.0.0.1 > "$work/listen.out" 2>&1 &
pids+=($!)
waitfor "grep -q '^code:' '$work/listen.out' 2>/dev/null"
addr="$(awk '/^address:/ {print $2}' "$work/listen.out")"
code="$(awk '/^code:/ {print $2}' "$work/listen.out")"
# the companion pairs through a forwarder, which is then stopped: the stored address no longer answers
pport="$(freeport)"
python3 -c "
import socket, sys, threading
target = (sys.argv[1].rsplit(':', 1)[0], int(sys.argv[1].rsplit(':', 1)[1]))
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); srv.bind(('127.0.0.1', int(sys.argv[2]))); srv.listen()
def pump(a, b):
    try:
        while True:
            d = a.recv(1 << 16)
            if not d: break
            b.sendall(d)
    except OSError: pass
    finally:
        for s in (a, b):
            try: s.close()
            except OSError: pass
while True:
    c, _ = srv.accept(); u = socket.create_connection(target)
    threading.Thread(target=pump, args=(c, u), daemon=True).start(); threading.Thread(target=pump, args=(u, c), daemon=True).start()
" "$addr" "$pport" &
fwd=$!
pids+=($fwd)
sleep 0.5
tether --home "$work/companion" pair connect "127.0.0.1:$pport" "$code" >/dev/null
waitfor "tether --home '$work/companion' peers --json | grep -q '\"connected\":true'"
tether --home "$work/primary" relay set "$broker" "${relay_args[@]}" >/dev/null
tether --home "$work/companion" relay set "$broker" "${relay_args[@]}" >/dev/null
kill "$fwd"; wait "$fwd" 2>/dev/null || true
waitfor "tether --home '$work/companion' peers --json | grep -q '\"via\":\"relay\"'"
echo "link: $(tether --home "$work/companion" peers | tail -n +2 | head -1)"

# ---- 1. user info through the relay, against mosquitto QoS 1 on the same broker
python3 -c "
import sys
for i in range(int(sys.argv[1])): print('{\"n\":%d,\"reading\":%d.5,\"city\":\"Oslo\"}' % (i, i % 40))" "$N" > "$work/userinfo.jsonl"
round() {
  local label="$1" app="$2" count="$3"
  head -n "$count" "$work/userinfo.jsonl" > "$work/$app.jsonl"
  tether --home "$work/companion" receive --app "$app" --count "$count" --out "$work/$app.received" --timeout 600 &
  local rp=$!
  sleep 2
  local t0 t1
  t0="$(now)"
  tether --home "$work/primary" send userinfo --app "$app" --from "$work/$app.jsonl" >/dev/null
  wait "$rp"
  t1="$(now)"
  local got unique
  got="$(wc -l < "$work/$app.received")"
  unique="$(python3 -c "import json,sys; n=[json.loads(l)['payload']['n'] for l in open(sys.argv[1])]; print(len(set(n)), 'distinct,', 'in order' if n == sorted(n) else 'OUT OF ORDER')" "$work/$app.received")"
  tr_rate="$(rate "$count" "$t0" "$t1")"
  echo "tether user info through the relay ($label): $count sent, $got received ($unique), $tr_rate/s app to app (both CLI start-ups included)"
}
round "first" bench.relay1 "$N"
round "second, warm" bench.relay2 "$N"

mosquitto_sub "${mq_args[@]}" -q 1 -t bench/plain -C "$N" > "$work/mqtt.out" &
sp=$!
pids+=($sp)
sleep 1
t0="$(now)"
mosquitto_pub "${mq_args[@]}" -q 1 -t bench/plain -l < "$work/userinfo.jsonl" 2> "$work/mqtt-pub.err" || true
last=-1; t1="$(now)"; quiet=0
while [ "$quiet" -lt 30 ]; do
  c="$(wc -l < "$work/mqtt.out")"
  if [ "$c" != "$last" ]; then last="$c"; t1="$(now)"; quiet=0; else quiet=$((quiet + 1)); fi
  [ "$c" -ge "$N" ] && break
  sleep 0.1
done
kill "$sp" 2>/dev/null || true
mgot="$(wc -l < "$work/mqtt.out")"
m_rate="$(rate "$mgot" "$t0" "$t1")"
echo "mosquitto QoS 1 on the same broker: $N published, $mgot received, $m_rate/s (no storage, no end-to-end encryption)"
echo "ratio tether through the relay / mosquitto alone = $(python3 -c "print('%.2f' % ($tr_rate / $m_rate))")"

# ---- 2. a file through the relay, against the same bytes as QoS 1 messages through the broker
head -c "$((FILE_MIB * 1024 * 1024))" /dev/urandom > "$work/file.bin"
mkdir -p "$work/kept"
tether --home "$work/companion" receive --app bench.relayfile --count 1 --files "$work/kept" --out "$work/file.jsonl" --timeout 600 &
rp=$!
sleep 2
t0="$(now)"
tether --home "$work/primary" send file --app bench.relayfile "$work/file.bin" >/dev/null
wait "$rp"
t1="$(now)"
[ "$(sha256sum < "$work/file.bin")" = "$(sha256sum < "$work/kept/file.bin")" ] || { echo "the relayed file differs"; exit 1; }
f_rate="$(python3 -c "print('%.1f' % ($FILE_MIB / ($t1 - $t0)))")"
echo "tether file through the relay: $FILE_MIB MiB in $(python3 -c "print('%.2f' % ($t1 - $t0))") s, $f_rate MiB/s (snapshot, TLS inside MQTT, SHA-256 both sides, fsync; SHA-256 equal)"
# 32 KiB of payload per message: 64 KiB of hex per line
python3 -c "
import sys
with open(sys.argv[1], 'rb') as f:
    while True:
        b = f.read(32768)
        if not b: break
        print(b.hex())" "$work/file.bin" > "$work/file.hex"
msgs="$(wc -l < "$work/file.hex")"
mosquitto_sub "${mq_args[@]}" -q 1 -t bench/file -C "$msgs" -W 300 > /dev/null &
sp=$!
pids+=($sp)
sleep 1
t0="$(now)"
mosquitto_pub "${mq_args[@]}" -q 1 -t bench/file -l < "$work/file.hex" 2>/dev/null || true
wait "$sp" || true
t1="$(now)"
m_mib="$(python3 -c "print('%.1f' % ($FILE_MIB / ($t1 - $t0)))")"
echo "mosquitto QoS 1, the same $FILE_MIB MiB as $msgs hex lines of 64 KiB (32 KiB of payload each): $m_mib MiB/s of payload"
echo "ratio tether file through the relay / mosquitto alone = $(python3 -c "print('%.2f' % ($f_rate / $m_mib))")"
