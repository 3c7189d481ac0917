#!/usr/bin/env bash
# `hpctrain info --topology`: prints the placement plan for --threads and
# --batch on this machine, and refuses an oversubscribing thread count or a
# malformed OMP_NUM_THREADS with one line naming it; with HWLOC_XMLFILE, the
# plan for the machine the file describes.
# usage: bash cli_topology.sh /path/to/hpctrain TMPDIR
set -u
H=${1:?usage: cli_topology.sh HPCTRAIN TMPDIR}
T=${2:?usage: cli_topology.sh HPCTRAIN TMPDIR}
rm -rf "$T" && mkdir -p "$T" || { echo "cannot create $T"; exit 1; }
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; sed 's/^/     out: /' "$T/out" "$T/err"; }
# the plan must not depend on whatever binding the caller's shell asked for
unset OMP_PROC_BIND OMP_PLACES GOMP_CPU_AFFINITY HWLOC_XMLFILE HWLOC_SYNTHETIC

"$H" info --topology --threads 1 --batch 100 >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -ne 0 ]; then bad "plan 1 thread" "exit $rc"
elif ! grep -q '^plan: 1 thread on 1 NUMA domain, 100 batch rows' "$T/out"; then bad "plan 1 thread" "no plan line"
elif ! grep -Eq '^  domain 0: node P#[0-9]+, threads \[0,1\), rows \[0,100\), PUs [0-9]+$' "$T/out"; then bad "plan 1 thread" "no domain line"
elif ! grep -Eq '^  thread 0: PU P#[0-9]+ \(core L#[0-9]+\), node P#[0-9]+, rows \[0,100\)$' "$T/out"; then bad "plan 1 thread" "no thread line"
elif ! grep -q '^topology: this system' "$T/out"; then bad "plan 1 thread" "no topology line"
else ok "plan 1 thread"; fi

"$H" info --topology >"$T/out" 2>"$T/err"
rc=$?
pus=$(grep -Eo '[0-9]+ PUs usable' "$T/out" | head -1 | cut -d' ' -f1)
cores=$(grep -Eo '[0-9]+ physical cores' "$T/out" | head -1 | cut -d' ' -f1)
if [ $rc -ne 0 ] || [ -z "$pus" ] || [ -z "$cores" ]; then bad "default threads" "exit $rc"
elif [ -z "${OMP_NUM_THREADS:-}" ] && ! grep -q "^plan: $cores thread" "$T/out"; then bad "default threads" "not the $cores physical cores"
else ok "default threads"; fi

OMP_NUM_THREADS=1 "$H" info --topology >"$T/out" 2>"$T/err"
if ! grep -q '^plan: 1 thread on' "$T/out"; then bad "OMP_NUM_THREADS=1" "not honoured"
else ok "OMP_NUM_THREADS=1"; fi

"$H" info --topology --threads $((pus + 1)) >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ]; then bad "oversubscribe" "exit 0"
elif [ "$(wc -l <"$T/err")" -ne 1 ] || ! grep -q -- '--threads.*oversubscribe' "$T/err"; then bad "oversubscribe" "not one line naming --threads"
elif grep -q '^plan:' "$T/out"; then bad "oversubscribe" "printed a plan"
else ok "oversubscribe"; fi

OMP_NUM_THREADS=lots "$H" info --topology >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ]; then bad "bad OMP_NUM_THREADS" "exit 0"
elif [ "$(grep -c '^hpctrain:' "$T/err")" -ne 1 ] || ! grep -q '^hpctrain: OMP_NUM_THREADS="lots"' "$T/err"; then bad "bad OMP_NUM_THREADS" "not one line naming it"
else ok "bad OMP_NUM_THREADS"; fi

# CPUID pads the brand string with spaces, and hwloc passes them on (this
# Zen 5 guest's "Oxide Virtual Turin-like Processor" has 13): the cpu line
# ends at the name
sed 's#<object type="Package" os_index="0"\([^>]*\)>#&\n      <info name="CPUModel" value="Padded CPU   "/>#' \
    "$(dirname "$0")/data/2socket.xml" >"$T/padded.xml"
HWLOC_XMLFILE="$T/padded.xml" "$H" info >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -ne 0 ]; then bad "cpu line" "exit $rc"
elif ! grep -q '^cpu: *Padded CPU$' "$T/out"; then bad "cpu line" "not the name without its padding"
else ok "cpu line"; fi

# another machine's plan: its PUs bound the threads, not this one's
HWLOC_XMLFILE="$(dirname "$0")/data/2socket.xml" "$H" info --topology --threads 4 --batch 128 >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -ne 0 ]; then bad "HWLOC_XMLFILE plan" "exit $rc"
elif ! grep -q '^topology: not this system (HWLOC_XMLFILE=.*2socket.xml)$' "$T/out"; then bad "HWLOC_XMLFILE plan" "no topology line naming HWLOC_XMLFILE"
elif ! grep -q '^plan: 4 threads on 2 NUMA domains, 128 batch rows' "$T/out"; then bad "HWLOC_XMLFILE plan" "no 4-thread plan"
elif ! grep -q '^  parameters, gradients, optimiser state: interleaved over nodes 0,1$' "$T/out"; then bad "HWLOC_XMLFILE plan" "no parameter line"
else ok "HWLOC_XMLFILE plan"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
