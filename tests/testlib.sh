# Helpers shared by the end-to-end scripts tests/cli_*.sh, sourced first
# thing by each (`. "$(dirname "$0")/testlib.sh"`), with the script's
# arguments: HPCTRAIN (the binary) and TMPDIR (recreated empty). Defines H,
# T, PY (python3, stdlib only, for generating and checking data) and:
#   ok MSG / bad WHAT WHY    count and print a check's result
#   run NAME OUT CMD...      CMD must succeed; stdout to OUT, else bad()
#                            with CMD's stderr
#   field FILE KEY           the value of the last "KEY value" line
#   ge A B / le A B          float comparisons
#   finish                   the summary line; the script's exit status
H=${1:?usage: bash $(basename "$0") HPCTRAIN TMPDIR}
T=${2:?usage: bash $(basename "$0") HPCTRAIN TMPDIR}
rm -rf "$T" && mkdir -p "$T" || { echo "cannot create $T"; exit 1; }
PY=$(command -v python3) || { echo "FAIL: python3 (stdlib only) is needed to generate the data"; exit 1; }
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
run() {
    local name=$1 out=$2
    shift 2
    if "$@" >"$out" 2>"$T/err"; then return 0; fi
    bad "$name" "exit $? from: $*"
    sed 's/^/     stderr: /' "$T/err"
    return 1
}
field() { sed -n "s/^$2 \([0-9a-f.e+-]*\)$/\1/p" "$1" | tail -n 1; }
ge() { "$PY" -c "import sys; sys.exit(0 if float('$1') >= float('$2') else 1)" 2>/dev/null; }
le() { "$PY" -c "import sys; sys.exit(0 if float('$1') <= float('$2') else 1)" 2>/dev/null; }
finish() {
    echo "$(basename "$0" .sh): $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
