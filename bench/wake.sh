#!/usr/bin/env bash
# Wake latency (running app, launched JVM app beside bare java start-up) and idle cost of tetherd.
# Usage: bench/wake.sh [runningIterations] [launchIterations] [idleSeconds]   (defaults 500 20 60)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./mvnw -q -B -DskipTests -pl tether-cli -am package
cp="$(ls tether-cli/target/tether-cli-*.jar | grep -v sources | head -n 1):$(cat tether-cli/target/classpath.txt)"
out="$root/bench/target/wake-classes"
mkdir -p "$out"
javac -d "$out" -cp "$cp" bench/src/dev/tether/bench/*.java
(cd "$out" && jar cf ../wake-bench.jar .)
# The launched app gets only what it links: the client library, the protocol, Jackson, and the bench classes.
appcp="$root/bench/target/wake-bench.jar:$(tr ':' '\n' < tether-cli/target/classpath.txt | grep -E 'tether-client|tether-protocol|jackson' | paste -sd:)"
work="$(mktemp -d /tmp/tether-wake-bench.XXXXXX)"
trap '[ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(java -version 2>&1 | head -n 1)"
java -XX:+UseSerialGC ${BENCH_VERBOSE:+-Dbench.verbose=1} -Dbench.appcp="$appcp" -cp "$out:$cp" dev.tether.bench.WakeBench "$work/home" "${1:-500}" "${2:-20}" "${3:-60}"
