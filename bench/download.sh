#!/usr/bin/env bash
# Benchmark: Tether background downloads against curl, both fetching from a real nginx on loopback.
#   1. one 1 GiB file: `tether download URL -o FILE` vs `curl -o FILE URL` (wall time ratio; tetherd's RSS growth), and
#      vs `curl -o FILE URL` followed by an fsync of FILE, timed together (a peer as durable as tetherd, which syncs)
#   2. 1,000 files of 64 KiB queued at once: `tether download --list` (16 connections) vs `curl --parallel --parallel-max 16`
# Usage: bench/download.sh [RUNS]   (default 3 runs of each; the median is reported). Not a test; prints figures.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-3}"

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "installing nginx (Debian package nginx-light)..." >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get install -y nginx-light >/dev/null 2>&1 || { $sudo_cmd apt-get update >/dev/null && $sudo_cmd apt-get install -y nginx-light >/dev/null; }
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

work="$(mktemp -d /tmp/tether-bench.XXXXXX)"
chmod 755 "$work"
home="$work/home"
cleanup() {
  "$root/tether" --home "$home" daemon stop >/dev/null 2>&1 || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www/small" "$work/out" "$work/logs"
echo "generating test files in $work ..." >&2
head -c $((1024 * 1024 * 1024)) /dev/urandom > "$work/www/big.bin"
head -c $((64 * 1024 * 1000)) /dev/urandom > "$work/smallsrc"
split -b 65536 -d -a 4 "$work/smallsrc" "$work/www/small/f"
rm "$work/smallsrc"
chmod -R a+rX "$work/www"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat > "$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path $work/logs/body;
  proxy_temp_path $work/logs/proxy;
  fastcgi_temp_path $work/logs/fastcgi;
  uwsgi_temp_path $work/logs/uwsgi;
  scgi_temp_path $work/logs/scgi;
  server { listen 127.0.0.1:$port; root $work/www; }
}
CONF
"$nginx_bin" -c "$work/nginx.conf" -p "$work" 2>/dev/null || "$nginx_bin" -c "$work/nginx.conf" -p "$work"
base="http://127.0.0.1:$port"
curl -sf -o /dev/null "$base/small/f0000" || { echo "nginx did not start" >&2; exit 1; }

# build the CLI first so that building is not timed, then start tetherd
"$root/tether" --version >/dev/null
"$root/tether" --home "$home" daemon start >/dev/null
pid="$(cat "$home/tetherd.pid")"
"$root/tether" --home "$home" download "$base/small/f0000" -o "$work/out/warmup" >/dev/null   # warm the daemon's JIT and pool

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }

fsync_file() { python3 -c 'import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); os.fsync(fd); os.close(fd)' "$1"; }

rss_before="$(rss_kib)"
curl_big=(); curlsync_big=(); tether_big=()
for i in $(seq 1 "$runs"); do
  rm -f "$work/out/big.curl" "$work/out/big.curlsync" "$work/out/big.tether"; sync
  t0="$(now)"; curl -sf -o "$work/out/big.curl" "$base/big.bin"; t1="$(now)"
  curl_big+=("$(elapsed "$t0" "$t1")")
  sync
  t0="$(now)"; curl -sf -o "$work/out/big.curlsync" "$base/big.bin"; fsync_file "$work/out/big.curlsync"; t1="$(now)"
  curlsync_big+=("$(elapsed "$t0" "$t1")")
  rm -f "$work/out/big.curl" "$work/out/big.curlsync"; sync
  t0="$(now)"; "$root/tether" --home "$home" download "$base/big.bin" -o "$work/out/big.tether" >/dev/null; t1="$(now)"
  tether_big+=("$(elapsed "$t0" "$t1")")
  cmp -s "$work/www/big.bin" "$work/out/big.tether" || { echo "tether's copy differs" >&2; exit 1; }
done
rss_peak="$(hwm_kib)"
rss_after="$(rss_kib)"

# 1,000 x 64 KiB
: > "$work/list.txt"; : > "$work/curl.cfg"
for f in "$work"/www/small/f*; do
  n="$(basename "$f")"
  echo "$base/small/$n $work/out/t-$n" >> "$work/list.txt"
  printf 'url = "%s"\noutput = "%s"\n' "$base/small/$n" "$work/out/c-$n" >> "$work/curl.cfg"
done
# one untimed batch first: tetherd is a long-running daemon, and its JIT's first pass over the small-download path
# (C2 compiles for a few thousand transfers) would otherwise land in the first timed runs
"$root/tether" --home "$home" download --list "$work/list.txt" --connections 16 --session warm >/dev/null
rm -f "$work"/out/t-*
curl_small=(); tether_small=()
for i in $(seq 1 "$runs"); do
  rm -f "$work"/out/c-* "$work"/out/t-*; sync
  t0="$(now)"; curl -sf --no-progress-meter --parallel --parallel-max 16 -K "$work/curl.cfg" 2>/dev/null; t1="$(now)"
  curl_small+=("$(elapsed "$t0" "$t1")")
  sync
  t0="$(now)"; "$root/tether" --home "$home" download --list "$work/list.txt" --connections 16 --session "bench$i" >/dev/null; t1="$(now)"
  tether_small+=("$(elapsed "$t0" "$t1")")
  [ "$(ls "$work"/out/t-* | wc -l)" -eq 1000 ] || { echo "tether did not deliver 1000 files" >&2; exit 1; }
done

cb="$(printf '%s\n' "${curl_big[@]}" | median)"; tb="$(printf '%s\n' "${tether_big[@]}" | median)"
cfb="$(printf '%s\n' "${curlsync_big[@]}" | median)"
cs="$(printf '%s\n' "${curl_small[@]}" | median)"; ts="$(printf '%s\n' "${tether_small[@]}" | median)"
echo "machine: $(nproc) cores, $(uname -r), $(java -version 2>&1 | head -1)"
echo "1 GiB:        curl ${curl_big[*]} s | tether ${tether_big[*]} s (median curl $cb s, tether $tb s)"
echo "              curl + fsync ${curlsync_big[*]} s (median $cfb s)"
echo "              ratio tether/curl = $(python3 -c "print(f'{$tb/$cb:.2f}')") (target <= 0.80); tether/(curl + fsync) = $(python3 -c "print(f'{$tb/$cfb:.2f}')")"
echo "              tetherd RSS before ${rss_before} KiB, peak ${rss_peak} KiB, after ${rss_after} KiB: growth $(( (rss_peak - rss_before) / 1024 )) MiB (target <= 64)"
echo "1000x64 KiB:  curl ${curl_small[*]} s | tether ${tether_small[*]} s (median curl $cs s, tether $ts s)"
echo "              ratio tether/curl = $(python3 -c "print(f'{$ts/$cs:.2f}')") (target <= 2.00)"
