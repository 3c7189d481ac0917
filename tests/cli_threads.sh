#!/usr/bin/env bash
# Thread counts, as every command takes and reports them:
# - the default is the physical cores of the PUs the process may use,
#   whatever OpenMP binding variables are set (taskset with OMP_PROC_BIND
#   or OMP_PLACES), never more than the OpenMP places, and the start-up
#   lines say how many ran and where;
# - more threads than those PUs (--threads, OMP_NUM_THREADS) or a malformed
#   OMP_NUM_THREADS is one line naming the flag or variable and exit 1, for
#   train, eval, predict, bench and info alike;
# - under HWLOC_XMLFILE / HWLOC_SYNTHETIC (another machine's topology)
#   training runs unbound on plain pages, with one warning line naming the
#   variable, and the default is still this machine's cores.
# usage: bash cli_threads.sh /path/to/hpctrain TMPDIR
set -u
. "$(dirname "$0")/testlib.sh"
unset OMP_PROC_BIND OMP_PLACES GOMP_CPU_AFFINITY OMP_NUM_THREADS HWLOC_XMLFILE HWLOC_SYNTHETIC
XML="$(dirname "$0")/data/2socket.xml"

"$PY" - "$T" <<'PYEOF' || { echo "FAIL: generating data"; exit 1; }
import os, random, sys
t, rnd = sys.argv[1], random.Random(5)
def rows(n, label=True):
    out = []
    for _ in range(n):
        c = rnd.randrange(3)
        x = ",".join("%.4f" % (rnd.gauss(0, 0.5) + (j == c)) for j in range(6))
        out.append("%d,%s" % (c, x) if label else x)
    return "\n".join(out) + "\n"
open(os.path.join(t, "train.csv"), "w").write(rows(96))
open(os.path.join(t, "feat.csv"), "w").write(rows(8, False))
PYEOF
s() { [ "$1" -eq 1 ] && echo "" || echo s; }
# the PUs this process may use (taskset, cgroups), and the first of them
read -r pus pu0 < <("$PY" -c 'import os; s = os.sched_getaffinity(0); print(len(s), min(s))')
too=$((pus + 1))
"$H" info --topology >"$T/info.out" 2>"$T/err"
cores=$(grep -Eo '[0-9]+ physical cores' "$T/info.out" | head -1 | cut -d' ' -f1)
[ -n "$cores" ] || { echo "FAIL: no core count from info --topology"; cat "$T/err"; exit 1; }
may="this process may use $pus PU$(s "$pus");"
TR=(train --train "$T/train.csv" --arch 6-8-3 --epochs 1 --batch 16 --quiet)

# one line naming $2, nothing else from hpctrain, exit 1
refused() {
    local name=$1 what=$2 rc=$3
    if [ "$rc" -ne 1 ]; then bad "$name" "exit $rc, not 1"; sed 's/^/     out: /' "$T/out" "$T/err"
    elif [ "$(grep -c '^hpctrain:' "$T/err")" -ne 1 ] || ! grep -q "^hpctrain: $what" "$T/err"; then
        bad "$name" "not one line naming $what"; sed 's/^/     err: /' "$T/err"
    elif grep -q '^hpctrain [a-z]*: isa' "$T/out"; then bad "$name" "started anyway"
    else ok "$name"; fi
}

run "train --save" "$T/m.out" "$H" "${TR[@]}" --threads 1 --save "$T/m.ckpt" && ok "train --save"
cmds=("${TR[*]}" "eval --test $T/train.csv --model $T/m.ckpt --quiet"
      "predict --model $T/m.ckpt --input $T/feat.csv --output $T/p.csv"
      "bench --arch 6-8-3 --batch 8 --steps 2 --quiet" "info")
for c in "${cmds[@]}"; do
    read -r -a argv <<<"$c"
    cmd=${argv[0]}
    "$H" "${argv[@]}" --threads "$too" >"$T/out" 2>"$T/err"
    refused "$cmd --threads $too" "--threads $too: $may" $?
    OMP_NUM_THREADS=$too "$H" "${argv[@]}" >"$T/out" 2>"$T/err"
    refused "$cmd, OMP_NUM_THREADS=$too" "OMP_NUM_THREADS=\"$too\": $may" $?
    OMP_NUM_THREADS=abc "$H" "${argv[@]}" >"$T/out" 2>"$T/err"
    refused "$cmd, OMP_NUM_THREADS=abc" 'OMP_NUM_THREADS="abc": expected a positive integer' $?
done
# the flag wins over the variable, both ways
OMP_NUM_THREADS=1 "$H" "${TR[@]}" --threads "$too" >"$T/out" 2>"$T/err"
refused "--threads $too over OMP_NUM_THREADS=1" "--threads $too:" $?
if run "--threads $pus over OMP_NUM_THREADS=$too" "$T/out" env OMP_NUM_THREADS=$too "$H" "${TR[@]}" --threads "$pus"; then
    grep -q "^threads: $pus, " "$T/out" && ok "--threads $pus over OMP_NUM_THREADS=$too" ||
        bad "--threads $pus over OMP_NUM_THREADS=$too" "$(grep '^threads:' "$T/out")"
fi

# the default: one thread per physical core of the PUs the process may use
if run "default threads" "$T/out" "$H" "${TR[@]}"; then
    grep -q "^hpctrain train: isa [a-z0-9]*, $cores thread$(s "$cores"), seed" "$T/out" &&
        grep -q "^threads: $cores, " "$T/out" && ok "default threads: $cores (the cores)" ||
        bad "default threads" "not $cores: $(grep thread "$T/out" | head -2)"
fi

# one PU allowed (taskset), or one place, under each OpenMP binding
# variable: one thread, on that PU, never two threads on it
one_pu() {
    local name=$1
    shift
    if ! run "$name" "$T/out" "$@" "$H" "${TR[@]}"; then return; fi
    if ! grep -q "^hpctrain train: isa [a-z0-9]*, 1 thread, seed" "$T/out"; then
        bad "$name" "start line: $(grep '^hpctrain train' "$T/out")"
    elif ! grep -Eq "^threads: 1, .*: t0 on PUs $pu0\$" "$T/out"; then
        bad "$name" "placement line: $(grep '^threads:' "$T/out")"
    else ok "$name: 1 thread, on PU $pu0"; fi
}
if command -v taskset >/dev/null; then
    for e in OMP_PROC_BIND=false OMP_PROC_BIND=true OMP_PLACES=cores GOMP_CPU_AFFINITY=$pu0; do
        one_pu "taskset -c $pu0, $e" taskset -c "$pu0" env "$e"
    done
else
    echo "skip taskset checks: no taskset"
fi
one_pu "OMP_PLACES={$pu0} OMP_PROC_BIND=true" env "OMP_PLACES={$pu0}" OMP_PROC_BIND=true

# why_unbound FILE THREADS MEMORY WARNING: what is wrong with the start-up
# lines of an unbound run in FILE (extended regexes for its threads: and
# memory: lines and for its one warning: line); nothing if all hold
FT="first-touch by their threads"
why_unbound() {
    if ! grep -Eq "$2" "$1"; then grep '^threads:' "$1" || echo "no threads: line"
    elif ! grep -Eq "$3" "$1"; then grep '^memory:' "$1" || echo "no memory: line"
    elif [ "$(grep -c '^warning:' "$1")" -ne 1 ] || ! grep -Eq "$4" "$1"; then
        echo "warning: $(grep '^warning:' "$1")"
    fi
}

# another machine's topology: runs, unbound, plain pages, one warning
fake() {
    local name=$1 var=$2 why
    shift 2
    if ! run "$name" "$T/out" env "$@" "$H" "${TR[@]}"; then return; fi
    why=$(why_unbound "$T/out" "^threads: $cores, not bound\$" \
          "^memory: parameters first-touch, work rows $FT, GEMM packing buffers $FT\$" \
          "^warning: .*$var=.*not bound.*not placed")
    if [ -n "$why" ]; then
        bad "$name" "$why"
    elif ! run "$name: info" "$T/info" env "$@" "$H" info; then :
    elif ! grep -q "^threads:  $cores\$" "$T/info"; then
        bad "$name: info" "$(grep '^threads:' "$T/info"), this machine has $cores cores"
    # the GEMM blocking (and with KC the bits) comes from this machine's
    # caches, not from the described machine's
    elif [ "$(grep '^kernel:' "$T/info")" != "$(grep '^kernel:' "$T/info0")" ]; then
        bad "$name: info" "blocking $(grep '^kernel:' "$T/info") here, $(grep '^kernel:' "$T/info0") without $var"
    else ok "$name: $cores threads, unbound, first touch, one warning, this machine's blocking"; fi
}
run "info" "$T/info0" "$H" info || :
fake "HWLOC_XMLFILE" HWLOC_XMLFILE "HWLOC_XMLFILE=$XML"
fake "HWLOC_SYNTHETIC" HWLOC_SYNTHETIC "HWLOC_SYNTHETIC=pack:2 numa:1 core:32 pu:2"

# the kernel refuses binding (a container without the permission; here a
# seccomp filter, tests/deny_bind.c): memory binding only, as Docker's
# default profile does without CAP_SYS_NICE, then thread binding too. The
# run goes on with first-touch pages, reports what holds (every thread
# not bound when threads are refused), warns once, and trains the same
# bits as a bound run.
refused() {
    local mode=$1 t=$2 name why threads warn
    if [ "$mode" = memory ]; then
        name="memory binding refused, $t thread$(s "$t")"
        threads="^threads: $t, threads bound per plan \\($t of $t verified\\): t0->PU [0-9]+"
        warn="^warning: memory binding not allowed here \\(hwloc_alloc_membind.*Operation not permitted\\); falling back to first-touch\$"
        set -- "$HT_DENY_BIND" --memory-only
    else
        name="thread and memory binding refused, $t thread$(s "$t")"
        threads="^threads: $t, not bound \\(0 of $t threads bound\\): .*Operation not permitted: t0 NOT bound"
        [ "$t" -gt 1 ] && threads="$threads, t1 NOT bound\$"
        warn="^warning: binding not allowed here; running with first-touch placement only \\(threads: .*; memory: .*\\)\$"
        set -- "$HT_DENY_BIND"
    fi
    if ! run "$name" "$T/deny" "$@" "$H" "${TR[@]}" --threads "$t" --print-hash; then return; fi
    why=$(why_unbound "$T/deny" "$threads" \
          "^memory: parameters first-touch, work rows $FT, GEMM packing buffers $FT \\(asked [a-z ,]+\\)\$" "$warn")
    if [ -n "$why" ]; then
        bad "$name" "$why"
    elif [ -s "$T/err" ]; then
        bad "$name" "stderr: $(cat "$T/err")"
    elif ! run "$name: bound run" "$T/bound" "$H" "${TR[@]}" --threads "$t" --print-hash; then :
    elif [ "$(field "$T/deny" 'weights hash')" != "$(field "$T/bound" 'weights hash')" ] ||
         [ -z "$(field "$T/bound" 'weights hash')" ]; then
        bad "$name" "weights hash $(field "$T/deny" 'weights hash'), bound run $(field "$T/bound" 'weights hash')"
    else ok "$name: first touch, one warning, same weights"; fi
}
if [ -z "${HT_DENY_BIND:-}" ]; then
    echo "skip refused-binding checks: no deny_bind helper in this build"
else
    "$HT_DENY_BIND" true 2>"$T/err"
    case $? in
        0)
            refused memory 1; [ "$pus" -gt 1 ] && refused memory 2
            # LLVM's OpenMP runtime (clang builds) aborts by itself when
            # sched_setaffinity is refused ("OMP: Error #100: Fatal system
            # error"), before hpctrain runs; GCC's libgomp does not
            if ldd "$H" 2>/dev/null | grep -q 'libomp\.so'; then
                echo "skip refused thread binding: $H uses LLVM's libomp, which aborts there (docs/numa.md)"
            else
                refused all 1; [ "$pus" -gt 1 ] && refused all 2
            fi ;;
        77) echo "skip refused-binding checks: $(cat "$T/err")" ;;
        *) bad "deny_bind" "$(cat "$T/err")" ;;
    esac
fi

finish
