#!/usr/bin/env bash
# hpctrain predict end to end: on inputs without labels (a CSV of features
# with a header, gzip IDX images) it writes exactly the outputs that eval
# --predictions writes for the same rows with labels (classification, MSE,
# and a model with an input standardisation map); bad input gets one line
# naming the file or flag and writes nothing.
# usage: bash cli_predict.sh /path/to/hpctrain TMPDIR
set -u
. "$(dirname "$0")/testlib.sh"
mkdir -p "$T/idx" || { echo "cannot create $T/idx"; exit 1; }

"$PY" - "$T" <<'PYEOF' || { echo "FAIL: generating data"; exit 1; }
import gzip, os, random, struct, sys
t = sys.argv[1]
rnd = random.Random(23)
centres = [(2, 0, 0, 0), (0, 2, 0, 1), (0, 0, 2, 0)]
def rows(n):
    out = []
    for i in range(n):
        c = rnd.randrange(3)
        out.append((c, [m + rnd.gauss(0, 0.7) for m in centres[c]]))
    return out
def write(name, rs, label=True, header=None):
    with open(os.path.join(t, name), "w") as f:
        if header:
            f.write(header + "\n")
        for c, x in rs:
            f.write(("%d," % c if label else "") + ",".join("%.5f" % v for v in x) + "\n")
train, test = rows(300), rows(120)
write("train.csv", train)
write("test.csv", test)
write("feat.csv", test, label=False, header="a,b,c,d")
reg = []
for i in range(300):
    x = [rnd.uniform(-1, 1) for _ in range(3)]
    reg.append((0.5 * x[0] - x[1] + 0.25 * x[2] * x[2], x))
with open(os.path.join(t, "reg.csv"), "w") as f:
    for y, x in reg:
        f.write("%.6f,%s\n" % (y, ",".join("%.6f" % v for v in x)))
with open(os.path.join(t, "regfeat.csv"), "w") as f:
    for y, x in reg[:50]:
        f.write(",".join("%.6f" % v for v in x) + "\n")
with open(os.path.join(t, "regtest.csv"), "w") as f:
    for y, x in reg[:50]:
        f.write("%.6f,%s\n" % (y, ",".join("%.6f" % v for v in x)))
# 4x4 ubyte images: a bright quadrant per class
def images(n):
    imgs, labs = [], []
    for i in range(n):
        c = rnd.randrange(3)
        px = [rnd.randrange(60) for _ in range(16)]
        for k in range(16):
            if (k // 8, (k % 4) // 2) == ((0, 0), (0, 1), (1, 0))[c]:
                px[k] = 150 + rnd.randrange(100)
        imgs.append(px); labs.append(c)
    return imgs, labs
def idx(name, imgs, labs):
    n = len(imgs)
    im = struct.pack(">IIII", 0x803, n, 4, 4) + bytes(v for p in imgs for v in p)
    lb = struct.pack(">II", 0x801, n) + bytes(labs)
    gzip.open(os.path.join(t, "idx", name % "images-idx3-ubyte") + ".gz", "wb").write(im)
    gzip.open(os.path.join(t, "idx", name % "labels-idx1-ubyte") + ".gz", "wb").write(lb)
idx("train-%s", *images(300))
idx("t10k-%s", *images(90))
PYEOF

# same OUT_PRED OUT_EVAL: the predict CSV equals the eval CSV with its
# label (or target) columns removed, byte for byte field by field
same() {
    "$PY" - "$1" "$2" <<'PYEOF'
import csv, sys
p = list(csv.reader(open(sys.argv[1])))
e = list(csv.reader(open(sys.argv[2])))
drop = [i for i, h in enumerate(e[0]) if h == "label" or h.startswith("target_")]
e = [[v for i, v in enumerate(r) if i not in drop] for r in e]
assert len(p) == len(e) and len(p) > 1, (len(p), len(e))
assert p == e, next((a, b) for a, b in zip(p, e) if a != b)
PYEOF
}

TR="--epochs 4 --batch 16 --lr 0.05 --seed 3 --quiet"

# --- classification, with a standardisation map; the CSV has a header
if run "train" "$T/t.out" "$H" train --train "$T/train.csv" --test "$T/test.csv" --arch 4-16-3 $TR \
       --standardize --save "$T/m.ckpt" &&
   run "eval --predictions" "$T/e.out" "$H" eval --model "$T/m.ckpt" --test "$T/test.csv" --predictions "$T/e.csv" &&
   run "predict csv" "$T/p.out" "$H" predict --model "$T/m.ckpt" --input "$T/feat.csv" --output "$T/p.csv" --threads 1; then
    same "$T/p.csv" "$T/e.csv" && ok "predict on a features-only CSV (header, map) == eval --predictions without the label" \
        || bad "predict csv" "differs from eval"
    head -n 1 "$T/p.csv" | grep -qx "row,predicted,p_0,p_1,p_2" && ok "header row,predicted,p_0.." \
        || bad "header" "$(head -n 1 "$T/p.csv")"
    grep -q "^input: $T/feat.csv, 120 rows x 4 features$" "$T/p.out" &&
        grep -q "^predictions: $T/p.csv, 120 rows$" "$T/p.out" &&
        grep -q "^input: standardized per feature (the map in $T/m.ckpt)$" "$T/p.out" \
        && ok "predict names its input, the map and the output" || bad "predict lines" "$(cat "$T/p.out")"
fi

# --- the same CSV gzipped (the name does not matter: content decides)
if gzip -c "$T/feat.csv" >"$T/feat.data" &&
   run "predict csv.gz" "$T/pg.out" "$H" predict --model "$T/m.ckpt" --input "$T/feat.data" --output "$T/pg.csv"; then
    cmp -s "$T/pg.csv" "$T/p.csv" && ok "a gzipped features CSV gives the same predictions" \
        || bad "predict gzip csv" "differs from the raw CSV's"
fi

# --- regression
if run "train mse" "$T/rt.out" "$H" train --train "$T/reg.csv" --loss mse --arch 3-16-1 $TR --save "$T/r.ckpt" &&
   run "eval mse" "$T/re.out" "$H" eval --model "$T/r.ckpt" --test "$T/regtest.csv" --predictions "$T/re.csv" &&
   run "predict mse" "$T/rp.out" "$H" predict --model "$T/r.ckpt" --input "$T/regfeat.csv" --output "$T/rp.csv"; then
    same "$T/rp.csv" "$T/re.csv" && head -n 1 "$T/rp.csv" | grep -qx "row,output_0" \
        && ok "MSE: predict == eval --predictions without the target (row,output_0)" \
        || bad "predict mse" "$(head -n 2 "$T/rp.csv" | tr '\n' ' ')"
fi

# --- gzip IDX images alone
if run "train idx" "$T/it.out" "$H" train --data "$T/idx" --arch 16-16-3 $TR --save "$T/i.ckpt" &&
   run "eval idx" "$T/ie.out" "$H" eval --model "$T/i.ckpt" --data "$T/idx" --predictions "$T/ie.csv" &&
   run "predict idx" "$T/ip.out" "$H" predict --model "$T/i.ckpt" --input "$T/idx/t10k-images-idx3-ubyte.gz" \
       --output "$T/ip.csv"; then
    same "$T/ip.csv" "$T/ie.csv" && ok "predict on gzip IDX images == eval --predictions on the IDX pair" \
        || bad "predict idx" "differs from eval"
fi

# --- bad input: one line, the right exit code, no output file
# expect NAME RC PATTERN ARGS...
expect() {
    local name=$1 want=$2 pat=$3
    shift 3
    rm -f "$T/out.csv"
    "$H" predict "$@" >/dev/null 2>"$T/x.err"
    local rc=$?
    if [ "$rc" -eq "$want" ] && [ "$(wc -l <"$T/x.err")" -eq 1 ] && grep -Eq "$pat" "$T/x.err" && [ ! -e "$T/out.csv" ]; then
        ok "$name: exit $rc, one line"
    else
        bad "$name" "exit $rc (want $want): $(cat "$T/x.err")"
    fi
}
expect "labelled CSV" 1 "^hpctrain: --input $T/test.csv: 5 features per row, but model $T/m.ckpt \(4-16-3\) takes 4 \(a label column\?" \
    --model "$T/m.ckpt" --input "$T/test.csv" --output "$T/out.csv"
expect "missing --input" 2 "^hpctrain: --input: required" --model "$T/m.ckpt" --output "$T/out.csv"
expect "missing --output" 2 "^hpctrain: --output: required" --model "$T/m.ckpt" --input "$T/feat.csv"
expect "missing --model" 2 "^hpctrain: --model: required" --input "$T/feat.csv" --output "$T/out.csv"
expect "absent input" 1 "^hpctrain: --input $T/nope.csv: cannot open" --model "$T/m.ckpt" --input "$T/nope.csv" --output "$T/out.csv"
printf '1,2,3,4\n1,2,x,4\n' >"$T/badf.csv"
expect "bad number" 1 "^hpctrain: $T/badf.csv:2: field 3" --model "$T/m.ckpt" --input "$T/badf.csv" --output "$T/out.csv"
head -c 40 "$T/idx/t10k-images-idx3-ubyte.gz" >"$T/cut.gz"
expect "truncated IDX" 1 "^hpctrain: .*$T/cut.gz.*truncated" --model "$T/i.ckpt" --input "$T/cut.gz" --output "$T/out.csv"
expect "--output = --model" 2 "^hpctrain: --output $T/m.ckpt: also given as --model" \
    --model "$T/m.ckpt" --input "$T/feat.csv" --output "$T/m.ckpt"
expect "--output in a missing folder" 2 "^hpctrain: --output $T/no/dir/p.csv" \
    --model "$T/m.ckpt" --input "$T/feat.csv" --output "$T/no/dir/p.csv"
expect "train flag" 2 "^hpctrain: --epochs: not a flag of 'hpctrain predict'" --epochs 3

finish
