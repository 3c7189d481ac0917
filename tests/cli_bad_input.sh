#!/usr/bin/env bash
# Bad input to the hpctrain CLI: each case must fail with the documented exit
# code, exactly one line on stderr naming the file/flag/value at fault, and
# nothing left in the --save directory.
# usage: bash cli_bad_input.sh /path/to/hpctrain TMPDIR
set -u
H=${1:?usage: cli_bad_input.sh HPCTRAIN TMPDIR}
T=${2:?usage: cli_bad_input.sh HPCTRAIN TMPDIR}
rm -rf "$T" && mkdir -p "$T/ck" || { echo "cannot create $T"; exit 1; }
PY=$(command -v python3) || { echo "FAIL: python3 (stdlib only) is needed to generate the files"; exit 1; }
SAVE=$T/ck/save.ckpt
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; sed 's/^/     stderr: /' "$T/err"; }

# expect NAME RC REGEX CMD...: CMD exits with RC, writes one stderr line
# matching the extended regex, and leaves $T/ck as it found it.
expect() {
    local name=$1 want=$2 re=$3
    shift 3
    local before after
    before=$(cd "$T/ck" && ls -A | sort | xargs -r md5sum)
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    after=$(cd "$T/ck" && ls -A | sort | xargs -r md5sum)
    local lines
    lines=$(wc -l <"$T/err")
    if [ "$rc" -ne "$want" ]; then bad "$name" "exit $rc, expected $want"
    elif [ "$lines" -ne 1 ]; then bad "$name" "$lines lines on stderr, expected 1"
    elif ! grep -Eq -- "$re" "$T/err"; then bad "$name" "stderr does not match /$re/"
    elif ! grep -q '^hpctrain: ' "$T/err"; then bad "$name" "stderr line lacks the 'hpctrain: ' prefix"
    elif [ "$before" != "$after" ]; then bad "$name" "the --save directory changed: $(ls -A "$T/ck")"
    else ok "$name"; fi
}

# expect_ok NAME CMD...: a positive control; CMD must succeed.
expect_ok() {
    local name=$1
    shift
    if "$@" >"$T/out" 2>"$T/err"; then ok "$name"
    else bad "$name" "exit $?, expected 0"; fi
}

# ------------------------------------------------------------------ files
"$PY" - "$T" <<'PYEOF' || { echo "FAIL: generating files"; exit 1; }
import gzip, math, os, random, struct, sys
t = sys.argv[1]
rnd = random.Random(7)
n, rows, cols = 30, 4, 4

def images(n, magic=0x00000803, values=None):
    data = bytes(rnd.randrange(256) for _ in range(n * rows * cols))
    return struct.pack(">IIII", magic, n, rows, cols) + data

def labels(lab, magic=0x00000801):
    return struct.pack(">II", magic, len(lab)) + bytes(lab)

def idx_dir(name, tr_img=None, tr_lab=None, te_img=None, te_lab=None, gz=(), skip=()):
    d = os.path.join(t, name)
    os.makedirs(d)
    files = {
        "train-images-idx3-ubyte": tr_img if tr_img is not None else images(n),
        "train-labels-idx1-ubyte": tr_lab if tr_lab is not None else labels([i % 3 for i in range(n)]),
        "t10k-images-idx3-ubyte": te_img if te_img is not None else images(12),
        "t10k-labels-idx1-ubyte": te_lab if te_lab is not None else labels([i % 3 for i in range(12)]),
    }
    for f, b in files.items():
        if f in skip:
            continue
        if f in gz:
            with open(os.path.join(d, f + ".gz"), "wb") as fh:
                fh.write(b)
        else:
            with open(os.path.join(d, f), "wb") as fh:
                fh.write(b)

idx_dir("good")
idx_dir("good_gz", gz=("train-images-idx3-ubyte",),
        tr_img=gzip.compress(images(n)))
idx_dir("missing", skip=("t10k-labels-idx1-ubyte",))
idx_dir("magic", tr_img=images(n, magic=0x12345678))
idx_dir("trunc", tr_img=images(n)[:16 + 7 * rows * cols + 5])
full = gzip.compress(images(n))
idx_dir("trunc_gz", gz=("train-images-idx3-ubyte",), tr_img=full[: len(full) // 2])
idx_dir("count", tr_lab=labels([i % 3 for i in range(n - 1)]))
lab = [i % 3 for i in range(n)]
lab[6] = 5
idx_dir("label_range", tr_lab=labels(lab))
idx_dir("test_label", te_lab=labels([0, 1, 2, 7] + [0] * 8))
# IDX of 32-bit floats (type 0x0D) with a NaN in it.
vals = [rnd.random() for _ in range(n * rows * cols)]
vals[40] = float("nan")
idx_dir("nan_idx", tr_img=struct.pack(">IIII", 0x00000D03, n, rows, cols)
        + struct.pack(">%df" % len(vals), *vals))

def csv(name, text):
    with open(os.path.join(t, name), "w") as fh:
        fh.write(text)

good_rows = []
for i in range(90):
    c = i % 3
    x = [rnd.gauss(0, 0.3) + (1.5 if j == c else 0) for j in range(4)]
    good_rows.append("%d,%s" % (c, ",".join("%.4f" % v for v in x)))
csv("good.csv", "label,a,b,c,d\n" + "\n".join(good_rows) + "\n")
csv("bad_number.csv", "0,1,2,3,4\n1,1,2,3,4\n2,1,2,abc,4\n0,1,2,3,4\n")
csv("ragged.csv", "0,1,2,3,4\n1,1,2,3,4\n2,1,2,3,4\n0,1,2,3\n1,1,2,3,4\n")
csv("nan.csv", "0,1,2,3,4\n1,1,nan,3,4\n2,1,2,3,4\n")
csv("inf.csv", "0,1,2,3,4\n1,1,2,3,4\n2,1,2,3,4\n0,1,2,3,4\n1,1,2,inf,4\n")
csv("neglabel.csv", "0,1,2,3,4\n1,1,2,3,4\n-1,1,2,3,4\n")
csv("narrow.csv", "0,1,2,3\n1,1,2,3\n")
reg = []
for i in range(200):
    x = [rnd.uniform(-1, 1) for _ in range(4)]
    y = x[0] - 2 * x[1] + 0.5 * x[2] + 3 * x[3]
    reg.append("%.5f,%s" % (y, ",".join("%.5f" % v for v in x)))
csv("reg.csv", "\n".join(reg) + "\n")
PYEOF

# --------------------------------------------------------- positive controls
expect_ok "control: good IDX dir trains" "$H" train --data "$T/good" --epochs 1 --quiet
expect_ok "control: gzip IDX file is found as name.gz" "$H" train --data "$T/good_gz" --epochs 1 --quiet
expect_ok "control: good CSV trains and saves" "$H" train --train "$T/good.csv" --arch 4-8-3 --epochs 2 --quiet --save "$T/good.ckpt"
[ -s "$T/good.ckpt" ] && ok "control: checkpoint written" || bad "control: checkpoint written" "no $T/good.ckpt"

# ----------------------------------------------------------------- IDX files
D() { echo "$H train --save $SAVE --epochs 1 --quiet --data $T/$1"; }
expect "missing IDX file" 1 "missing/t10k-labels-idx1-ubyte: missing file" $(D missing)
expect "wrong IDX magic" 1 "magic/train-images-idx3-ubyte: .*magic" $(D magic)
expect "truncated IDX" 1 "trunc/train-images-idx3-ubyte: .*truncated" $(D trunc)
expect "truncated IDX gzip" 1 "trunc_gz/train-images-idx3-ubyte.gz: .*(truncated|gzip)" $(D trunc_gz)
expect "label count != image count" 1 "count/train-(images|labels).*30.*29|count/.*29.*30" $(D count)
expect "label out of range for --arch" 1 "label_range/train-labels-idx1-ubyte: data row 7: label 5 out of range for --arch 16-8-3" \
    $(D label_range) --arch 16-8-3
expect "test label beyond the training classes" 1 "test_label/t10k-labels-idx1-ubyte: data row 4: label 7 out of range" $(D test_label)
expect "NaN in IDX float data" 1 "nan_idx/train-images-idx3-ubyte: .*([Nn]a[Nn]|finite)" $(D nan_idx)
expect "--arch input size != data" 1 "--arch 10-8-3: input size 10 does not match the data.*16 features" $(D good) --arch 10-8-3
expect "--arch output size != data" 1 "--arch 16-8-4: output size 4 does not match the data.*3 classes" $(D good) --arch 16-8-4
expect "missing --data directory" 1 "$T/nope: data directory not found" $(D nope)

# ----------------------------------------------------------------- CSV files
C() { echo "$H train --save $SAVE --epochs 1 --quiet --train $T/$1"; }
expect "CSV bad number (line 3)" 1 "bad_number.csv:3: .*abc" $(C bad_number.csv)
expect "CSV ragged row (line 4)" 1 "ragged.csv:4: " $(C ragged.csv)
expect "CSV NaN (line 2)" 1 "nan.csv:2: .*nan" $(C nan.csv)
expect "CSV Inf (line 5)" 1 "inf.csv:5: .*inf" $(C inf.csv)
expect "CSV negative label (line 3)" 1 "neglabel.csv:3: .*-1" $(C neglabel.csv)
expect "CSV missing file" 1 "nope.csv: cannot open" $(C nope.csv)
expect "test CSV narrower than train" 1 "narrow.csv: 3 features per row, but the training data .*good.csv has 4" \
    $(C good.csv) --test "$T/narrow.csv"
expect "--arch output too small for CSV labels" 1 "good.csv: data row 3: label 2 out of range for --arch 4-8-2" \
    $(C good.csv) --arch 4-8-2

# --------------------------------------------------------------------- flags
F() { echo "$H train --save $SAVE --train $T/good.csv --quiet"; }
expect "--dropout 1" 2 "^hpctrain: --dropout 1: must be in \[0, 1\)" $(F) --dropout 1
expect "--dropout -0.1" 2 "^hpctrain: --dropout -0.1: must be in \[0, 1\)" $(F) --dropout -0.1
expect "--input-dropout 1.5" 2 "^hpctrain: --input-dropout 1.5: must be in" $(F) --input-dropout 1.5
expect "--l1 -1" 2 "^hpctrain: --l1 -1: must be >= 0" $(F) --l1 -1
expect "--l2 -0.5" 2 "^hpctrain: --l2 -0.5: must be >= 0" $(F) --l2 -0.5
expect "--lr -1" 2 "^hpctrain: --lr -1: must be >= 0" $(F) --lr -1
expect "--lr abc" 2 "^hpctrain: --lr abc: not a number" $(F) --lr abc
expect "--lr 0.1x" 2 "^hpctrain: --lr 0.1x: not a number" $(F) --lr 0.1x
expect "--lr nan" 2 "^hpctrain: --lr nan: must be a finite number" $(F) --lr nan
expect "--lr 1e999" 2 "^hpctrain: --lr 1e999: must be a finite number" $(F) --lr 1e999
expect "--lr with no value" 2 "^hpctrain: --lr: missing value" $(F) --lr
# a value or path with a newline or an escape character stays on one line
expect "--lr with a newline" 2 '^hpctrain: --lr 1\\n2: not a number$' $(F) --lr $'1\n2'
expect "--data with a newline and ESC" 1 'nope\\nx\\x1b\[2J: data directory not found$' \
    "$H" train --save "$SAVE" --epochs 1 --quiet --data "$T/nope"$'\nx\e[2J'
expect "unknown flag" 2 "^hpctrain: --bogus: unknown flag" $(F) --bogus 3
expect "stray argument" 2 "^hpctrain: stray: unexpected argument" $(F) stray
expect "--batch 0" 2 "^hpctrain: --batch 0: must be in \[1," $(F) --batch 0
expect "bench --repeat 0" 2 "^hpctrain: --repeat 0: must be in \[1, 1000\]$" "$H" bench --repeat 0
expect "train --repeat 3" 2 "^hpctrain: --repeat: not a flag of 'hpctrain train'" $(F) --repeat 3
expect "--epochs 2.5" 2 "^hpctrain: --epochs 2.5: not a non-negative integer" $(F) --epochs 2.5
expect "--seed -1" 2 "^hpctrain: --seed -1: not a non-negative integer" $(F) --seed -1
expect "--arch 4-0-3" 2 "^hpctrain: --arch 4-0-3: each size must be" $(F) --arch 4-0-3
expect "--arch 4" 2 "^hpctrain: --arch 4: needs at least" $(F) --arch 4
expect "--val 1" 2 "^hpctrain: --val 1: must be in \(0, 1\)" $(F) --val 1
expect "--optimizer rmsprop" 2 "^hpctrain: --optimizer rmsprop: must be one of sgd\|adam\|adamw" $(F) --optimizer rmsprop
expect "--loss hinge" 2 "^hpctrain: --loss hinge: must be one of xent\|mse" $(F) --loss hinge
expect "--nesterov=1" 2 "^hpctrain: --nesterov=1: takes no value" $(F) --nesterov=1
expect "--beta1 1.5" 2 "^hpctrain: --beta1 1.5: must be in \[0, 1\)" $(F) --beta1 1.5
expect "--beta2 -1" 2 "^hpctrain: --beta2 -1: must be in \[0, 1\)" $(F) --beta2 -1
expect "--eps 0" 2 "^hpctrain: --eps 0: must be > 0$" $(F) --eps 0
expect "--gamma 0" 2 "^hpctrain: --gamma 0: must be > 0$" $(F) --gamma 0
expect "--weight-decay -1" 2 "^hpctrain: --weight-decay -1: must be >= 0" $(F) --weight-decay -1
expect "--step-epochs 0" 2 "^hpctrain: --step-epochs 0: must be in \[1, 1000000\]$" $(F) --step-epochs 0
expect "--lr with a leading space" 2 "^hpctrain: --lr  1: not a number$" $(F) --lr " 1"
expect "--lr 1e39 (beyond float)" 2 "^hpctrain: --lr 1e39: out of range for a float$" $(F) --lr 1e39
expect "--arch with 17 layers" 2 "^hpctrain: --arch 1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16-17-18: at most [0-9]+ layers$" \
    $(F) --arch 1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16-17-18
expect "--arch 4x8-3" 2 "^hpctrain: --arch 4x8-3: expected sizes separated by '-'" $(F) --arch 4x8-3
expect "--data with --train" 2 "^hpctrain: --data $T/good: cannot be combined with --train/--test CSV files$" \
    $(F) --data "$T/good"
expect "--test without --train" 2 "^hpctrain: --test $T/good.csv: needs --train FILE.csv as well$" \
    "$H" train --test "$T/good.csv" --quiet
expect "--save naming a directory" 2 "^hpctrain: --save $T/ck/: not a file name$" \
    "$H" train --train "$T/good.csv" --quiet --save "$T/ck/"
expect "--train naming a directory" 1 "^hpctrain: $T: not a regular file$" \
    "$H" train --train "$T" --quiet --epochs 1
expect "--loss mse: --arch output != 1 target" 1 "^hpctrain: --arch 4-2: output size 2 does not match the data: .*reg.csv has 1 target per row$" \
    "$H" train --train "$T/reg.csv" --loss mse --arch 4-2 --quiet --epochs 1 --save "$SAVE"
expect "--loss xent on a regression CSV" 1 "reg.csv:1: label '[-0-9.]+' is not an integer$" \
    "$H" train --train "$T/reg.csv" --quiet --epochs 1 --save "$SAVE"
# --flag=value is the same as --flag value
expect_ok "--lr=0.25 is accepted" $(F) --lr=0.25 --arch 4-8-3 --epochs 1
grep -q "lr 0.25" "$T/out" && ok "--lr=0.25 is the rate used" || bad "--lr=0.25 is the rate used" "stdout lacks 'lr 0.25'"
expect_ok "--version" "$H" --version
grep -Eq "^hpctrain [0-9]+\.[0-9]+\.[0-9]+$" "$T/out" && ok "--version prints the version" \
    || bad "--version prints the version" "stdout: $(cat "$T/out")"
expect "--profile-json into a missing directory" 2 "^hpctrain: --profile-json $T/nodir/p.json: directory $T/nodir does not exist" \
    $(F) --profile-json "$T/nodir/p.json"
expect "bench --profile-json a directory" 2 "^hpctrain: --profile-json $T: is a directory" \
    "$H" bench --steps 1 --profile-json "$T"
expect "--log into a missing directory" 2 "^hpctrain: --log $T/nodir/l.csv: directory $T/nodir does not exist" \
    $(F) --log "$T/nodir/l.csv"
expect "--log and --save name one file" 2 "^hpctrain: --save and --log both name $SAVE$" $(F) --log "$SAVE"
expect "--log and --resume name one file" 2 "^hpctrain: --log and --resume both name $T/good.ckpt$" \
    $(F) --log "$T/good.ckpt" --resume "$T/good.ckpt"
printf 'my notes\n' >"$T/ck/notes.txt"
expect "--resume into a --log that is not an epoch log" 1 \
    "^hpctrain: --log $T/ck/notes.txt: exists and does not start with the epoch log's header" \
    "$H" train --train "$T/good.csv" --arch 4-8-3 --epochs 3 --quiet --resume "$T/good.ckpt" --log "$T/ck/notes.txt"
rm -f "$T/ck/notes.txt"
expect "eval --predictions into a missing directory" 2 "^hpctrain: --predictions $T/nodir/p.csv: directory $T/nodir does not exist" \
    "$H" eval --model "$T/good.ckpt" --test "$T/good.csv" --predictions "$T/nodir/p.csv"
expect "eval --predictions onto the model" 2 "^hpctrain: --predictions and --model both name $T/good.ckpt$" \
    "$H" eval --model "$T/good.ckpt" --test "$T/good.csv" --predictions "$T/good.ckpt"
expect "--save into a missing directory" 2 "^hpctrain: --save $T/nodir/x.ckpt: directory $T/nodir does not exist" \
    "$H" train --train "$T/good.csv" --save "$T/nodir/x.ckpt"
expect "eval flag on train" 2 "^hpctrain: --model: not a flag of 'hpctrain train'" $(F) --model x
expect "unknown command" 2 "^hpctrain: frobnicate: unknown command" "$H" frobnicate
expect "eval without --model" 2 "^hpctrain: --model: required" "$H" eval --test "$T/good.csv"

# --------------------------------------------------------------- checkpoints
cp "$T/good.ckpt" "$T/corrupt.ckpt"
size=$(wc -c <"$T/corrupt.ckpt")
printf '\377\377\377\377' | dd of="$T/corrupt.ckpt" bs=1 seek=$((size / 2)) conv=notrunc status=none
head -c $((size / 2)) "$T/good.ckpt" >"$T/short.ckpt"
printf 'not a checkpoint at all\n' >"$T/junk.ckpt"
expect "resume: different architecture" 1 "--resume $T/good.ckpt: checkpoint architecture 4-8-3 differs from this run's 4-16-3" \
    $(C good.csv) --arch 4-16-3 --epochs 3 --resume "$T/good.ckpt"
expect "resume: corrupted checkpoint" 1 "corrupt.ckpt" $(C good.csv) --arch 4-8-3 --epochs 3 --resume "$T/corrupt.ckpt"
expect "resume: truncated checkpoint" 1 "short.ckpt" $(C good.csv) --arch 4-8-3 --epochs 3 --resume "$T/short.ckpt"
expect "resume: missing checkpoint" 1 "--resume $T/none.ckpt: cannot open" $(C good.csv) --epochs 3 --resume "$T/none.ckpt"
# a resumed run refuses a --save-best or --log it cannot continue, and
# leaves both files as they were
"$H" train --train "$T/good.csv" --arch 4-16-3 --val 0.2 --epochs 1 --quiet \
    --save "$T/r.ckpt" --log "$T/r.csv" >/dev/null 2>&1 || bad "setup: 4-16-3 run" "exit $?"
RB="$H train --train $T/good.csv --arch 4-16-3 --val 0.2 --epochs 2 --quiet --resume $T/r.ckpt"
cp "$T/good.ckpt" "$T/ck/best.ckpt"
expect "resume: --save-best of another architecture" 1 \
    "^hpctrain: --save-best $T/ck/best.ckpt: checkpoint architecture 4-8-3 differs from this run's 4-16-3$" \
    $RB --save-best "$T/ck/best.ckpt"
cp "$T/junk.ckpt" "$T/ck/best.ckpt"
expect "resume: --save-best not a checkpoint" 1 "^hpctrain: --save-best $T/ck/best.ckpt: not an hpctrain checkpoint" \
    $RB --save-best "$T/ck/best.ckpt"
rm -f "$T/ck/best.ckpt"
{ cat "$T/r.csv"; printf 'oops,1,2\n'; } >"$T/ck/r.csv"
expect "resume: --log with a row that is not an epoch row" 1 \
    "^hpctrain: --log $T/ck/r.csv: line 'oops,1,2' is not an epoch row$" $RB --log "$T/ck/r.csv"
rm -f "$T/ck/r.csv"
expect "eval: corrupted model" 1 "corrupt.ckpt" "$H" eval --model "$T/corrupt.ckpt" --test "$T/good.csv"
expect "eval: foreign file" 1 "junk.ckpt" "$H" eval --model "$T/junk.ckpt" --test "$T/good.csv"
expect "eval: missing model" 1 "--model $T/none.ckpt: cannot open" "$H" eval --model "$T/none.ckpt" --test "$T/good.csv"
expect "eval: test data of another width" 1 "model $T/good.ckpt \(4-8-3\): input size 4 does not match the data: .*narrow.csv has 3" \
    "$H" eval --model "$T/good.ckpt" --test "$T/narrow.csv"

# ---------------------------------------------------------------- divergence
# A linear model (no hidden layer) under MSE with a huge step grows
# geometrically, so it must overflow; the checkpoint of the last good epoch
# must survive byte for byte.
R="$H train --train $T/reg.csv --loss mse --arch 4-1 --batch 8 --quiet"
if $R --lr 0.01 --epochs 1 --save "$T/ck/div.ckpt" >"$T/out" 2>"$T/err"; then
    cp "$T/ck/div.ckpt" "$T/div.copy"
    expect "divergence: one clear line, exit 1" 1 \
        "^hpctrain: training diverged at epoch 2: loss is NaN/Inf; try a smaller --lr; last good checkpoint $T/ck/div.ckpt kept$" \
        $R --lr 1e4 --epochs 5 --resume "$T/ck/div.ckpt" --save "$T/ck/div.ckpt"
    cmp -s "$T/ck/div.ckpt" "$T/div.copy" && ok "divergence: checkpoint untouched" \
        || bad "divergence: checkpoint untouched" "div.ckpt changed"
    expect "divergence without --save" 1 "^hpctrain: training diverged at epoch 1: loss is NaN/Inf; try a smaller --lr" \
        $R --lr 1e4 --epochs 3
    expect "eval --confusion of a regression model" 2 \
        "^hpctrain: --confusion: model $T/ck/div.ckpt is a regression \(mse\) model: it has no classes$" \
        "$H" eval --model "$T/ck/div.ckpt" --test "$T/reg.csv" --confusion
else
    bad "divergence: setup run" "exit $?"
fi

# Kernel table selection: an unknown ISA, or one this build/CPU lacks.
expect "HPCTRAIN_ISA unknown" 1 "HPCTRAIN_ISA=bogus: unknown ISA" env HPCTRAIN_ISA=bogus "$H" info
# the binary's architecture (ctest sets HT_TARGET_ARCH; a cross build runs
# an aarch64 binary on an x86-64 host)
case "${HT_TARGET_ARCH:-$(uname -m)}" in
    aarch64|arm64) other=avx2 ;;
    *) other=neon ;;
esac
expect "HPCTRAIN_ISA for another architecture" 1 "HPCTRAIN_ISA=$other: this build has no $other kernels" \
    env HPCTRAIN_ISA=$other "$H" info

# The store policy: a bad value fails like a bad ISA (also under train);
# off and auto are reported by info.
expect "HPCTRAIN_STREAM_STORES unknown" 1 \
    "^hpctrain: HPCTRAIN_STREAM_STORES=always: expected auto or off$" \
    env HPCTRAIN_STREAM_STORES=always "$H" info
expect "HPCTRAIN_STREAM_STORES unknown, train" 1 \
    "^hpctrain: HPCTRAIN_STREAM_STORES=1: expected auto or off$" \
    env HPCTRAIN_STREAM_STORES=1 "$H" train --train "$T/good.csv" --arch 4-8-3 --epochs 1 --quiet
for v in off auto ""; do
    expect_ok "HPCTRAIN_STREAM_STORES='$v'" env HPCTRAIN_STREAM_STORES=$v "$H" info
    case "$v" in off) want='^stores: +never non-temporal' ;;
                 *) want='^stores: +non-temporal for outputs of [0-9]+ KiB or more' ;; esac
    if grep -Eq "$want" "$T/out"; then ok "info stores line ($v)"
    else bad "info stores line ($v)" "stdout lacks /$want/"; fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
