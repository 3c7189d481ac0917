#!/usr/bin/env bash
# Named classes end to end ("setosa" instead of 0): training on names equals
# training on their byte-order indices bit for bit; a test set with fewer
# classes in another order is renumbered to the training data's; eval,
# --confusion, --predictions and predict report names; --val and --resume
# keep them; mismatches (an unknown class, numbered against named, a
# resume with other classes) are one line each.
# usage: bash cli_class_names.sh /path/to/hpctrain TMPDIR
set -u
. "$(dirname "$0")/testlib.sh"

"$PY" - "$T" <<'PYEOF' || { echo "FAIL: generating data"; exit 1; }
import os, random, sys
t = sys.argv[1]
rnd = random.Random(8)
names = ["virginica", "setosa", "versicolor"]          # not in byte order
centres = {"setosa": (5.0, 3.4, 1.5, 0.2), "versicolor": (5.9, 2.8, 4.3, 1.3),
           "virginica": (6.6, 3.0, 5.6, 2.0)}
index = {n: i for i, n in enumerate(sorted(names))}    # what the reader does
def rows(n, pool):
    return [(k, ["%.2f" % (m + rnd.gauss(0, 0.3)) for m in centres[k]])
            for k in (rnd.choice(pool) for _ in range(n))]
train, test = rows(240, names), rows(60, ["virginica", "versicolor"])
def write(name, rs, label, header=None):
    with open(os.path.join(t, name), "w") as f:
        if header:
            f.write(header + "\n")
        f.writelines("%s,%s\n" % (label(k), ",".join(x)) for k, x in rs)
write("train.csv", train, str, "species,sl,sw,pl,pw")
write("train_num.csv", train, lambda k: index[k])
write("test.csv", test, str)
write("test_num.csv", test, lambda k: index[k])
with open(os.path.join(t, "feat.csv"), "w") as f:
    f.writelines(",".join(x) + "\n" for k, x in test)
write("unknown.csv", [("rose", ["5", "3", "1", "0.2"])] + test[:3], str)
PYEOF

TR="--arch 4-16-3 --epochs 6 --batch 16 --lr 0.05 --seed 4 --schedule constant --standardize --quiet --print-hash"

if run "train names" "$T/n.out" "$H" train --train "$T/train.csv" --test "$T/test.csv" $TR --save "$T/n.ckpt" &&
   run "train numbers" "$T/k.out" "$H" train --train "$T/train_num.csv" --test "$T/test_num.csv" $TR; then
    hn=$(field "$T/n.out" "weights hash")
    [ -n "$hn" ] && [ "$hn" = "$(field "$T/k.out" "weights hash")" ] &&
    [ "$(field "$T/n.out" "final test accuracy")" = "$(field "$T/k.out" "final test accuracy")" ] \
        && ok "names train exactly as their byte-order indices (hash $hn), test set of 2 classes renumbered" \
        || bad "names vs numbers" "$hn vs $(field "$T/k.out" "weights hash")"
    grep -qx "classes: setosa, versicolor, virginica" "$T/n.out" && grep -q "^data: train 240 x 4" "$T/n.out" \
        && ok "setup names the classes; the header line is not a sample" || bad "setup" "$(head -n 4 "$T/n.out")"
fi

# --- eval and predict speak in names; predict equals eval less the label
if run "eval" "$T/e.out" "$H" eval --model "$T/n.ckpt" --test "$T/test.csv" --confusion --predictions "$T/e.csv" &&
   run "predict" "$T/p.out" "$H" predict --model "$T/n.ckpt" --input "$T/feat.csv" --output "$T/p.csv"; then
    eacc=$(sed -n 's/^test loss [0-9.]*  test accuracy \([0-9.]*\)$/\1/p' "$T/e.out")
    [ "$eacc" = "$(field "$T/n.out" "final test accuracy")" ] && grep -qx "  classes: 0 setosa, 1 versicolor, 2 virginica" "$T/e.out" \
        && ok "eval: the training run's accuracy $eacc, and the confusion legend" || bad "eval" "$(cat "$T/e.out")"
    "$PY" - "$T/e.csv" "$T/p.csv" "$T/test.csv" <<'PYEOF' && ok "--predictions and predict write names; labels are the file's" || bad "names in CSV" "see above"
import csv, sys
e, p = list(csv.DictReader(open(sys.argv[1]))), list(csv.DictReader(open(sys.argv[2])))
labels = [l.split(",")[0] for l in open(sys.argv[3]) if l.strip()]
assert [r["label"] for r in e] == labels
names = ["setosa", "versicolor", "virginica"]
for a, b in zip(e, p):
    q = [float(a["p_%d" % j]) for j in range(3)]
    assert a["predicted"] == b["predicted"] == names[q.index(max(q))], (a, b)
    assert [a["p_%d" % j] for j in range(3)] == [b["p_%d" % j] for j in range(3)]
assert len(e) == len(p) == 60
PYEOF
fi

# --- --val splits named rows; --resume keeps the names and the bits
if run "3 epochs" "$T/r1.out" "$H" train --train "$T/train.csv" --test "$T/test.csv" ${TR/--epochs 6/--epochs 3} --save "$T/r.ckpt" &&
   run "resume" "$T/r2.out" "$H" train --train "$T/train.csv" --test "$T/test.csv" $TR --resume "$T/r.ckpt"; then
    [ "$(field "$T/r2.out" "weights hash")" = "${hn:-}" ] && ok "resume with names reproduces the 6-epoch run" \
        || bad "resume" "$(field "$T/r2.out" "weights hash") vs ${hn:-}"
fi
run "--val" "$T/v.out" "$H" train --train "$T/train.csv" $TR --val 0.25 &&
    grep -q "val acc" "$T/v.out" && ok "--val with named classes" || bad "--val" "$(tail -n 3 "$T/v.out")"

# --- mismatches: one line, exit 1
expect() {
    local name=$1 pat=$2
    shift 2
    "$H" "$@" >/dev/null 2>"$T/x.err"
    local rc=$?
    [ "$rc" -eq 1 ] && [ "$(wc -l <"$T/x.err")" -eq 1 ] && grep -Eq "$pat" "$T/x.err" \
        && ok "$name: one line" || bad "$name" "exit $rc: $(cat "$T/x.err")"
}
expect "unknown class in eval" "^hpctrain: $T/unknown.csv: class 'rose' is not among the 3 classes of model $T/n.ckpt" \
    eval --model "$T/n.ckpt" --test "$T/unknown.csv"
expect "unknown class in training's test set" "^hpctrain: $T/unknown.csv: class 'rose' is not among the 3 classes of the training data $T/train.csv" \
    train --train "$T/train.csv" --test "$T/unknown.csv" $TR
expect "numbered test, named model" "^hpctrain: $T/test_num.csv: numbered classes, but model $T/n.ckpt .* has named classes" \
    eval --model "$T/n.ckpt" --test "$T/test_num.csv"
expect "named test, numbered training data" "^hpctrain: $T/test.csv: named classes, but the training data $T/train_num.csv has numbered classes" \
    train --train "$T/train_num.csv" --test "$T/test.csv" $TR
expect "resume with numbered data" "^hpctrain: --resume $T/r.ckpt: the checkpoint's classes \(setosa, versicolor, virginica\) differ from those of $T/train_num.csv \(numbered\)" \
    train --train "$T/train_num.csv" $TR --epochs 8 --resume "$T/r.ckpt"

finish
