#!/usr/bin/env bash
# train --standardize end to end: on features whose scales differ by 10^7
# it trains where the raw features do not; the map is exactly the
# per-feature (x - mean) / std that Python computes from the same floats
# (a plain model trained on Python's standardised CSV predicts byte for
# byte what the --standardize model predicts on the raw CSV); it is fitted
# on the training rows only (--val); it travels in the checkpoint, so eval
# and --resume use it without the flag; resuming a checkpoint trained
# without it with the flag is refused.
# usage: bash cli_standardize.sh /path/to/hpctrain TMPDIR
set -u
. "$(dirname "$0")/testlib.sh"

# Every value written is a float32 printed exactly (repr of the float32 as a
# double), so the reader's parse and Python's agree on every bit; the
# standardised copies are computed in Python with float32 rounding after
# each operation, as the model does: f32(f32(x - shift) * scale).
"$PY" - "$T" <<'PYEOF' || { echo "FAIL: generating data"; exit 1; }
import math, os, random, struct, sys
t = sys.argv[1]
f32 = lambda v: struct.unpack("f", struct.pack("f", v))[0]
rnd = random.Random(3)
centres = [(2, 0, 0, 0, 1), (0, 2, 0, 1, 0), (0, 0, 2, 0, 0)]
scale = (1000.0, 0.001, 300.0, 1.0, 10000.0)
offset = (20000.0, 0.0, -50.0, 0.0, 1e5)
def rows(n):
    out = []
    for i in range(n):
        c = rnd.randrange(3)
        x = [f32(o + s * (m + rnd.gauss(0, 0.7)))
             for m, s, o in zip(centres[c], scale, offset)]
        out.append((c, x + [3.5]))             # a constant feature
    return out
train, test = rows(400), rows(150)
def write(name, rs):
    with open(os.path.join(t, name), "w") as f:
        f.write("\n".join("%d,%s" % (c, ",".join(repr(v) for v in x))
                          for c, x in rs) + "\n")
write("train.csv", train)
write("test.csv", test)
d, n = len(train[0][1]), len(train)
mean = [0.0] * d
for _, x in train:                            # row order, in double
    for j in range(d):
        mean[j] += x[j]
mean = [m / n for m in mean]
var = [0.0] * d
for _, x in train:
    for j in range(d):
        e = x[j] - mean[j]
        var[j] += e * e
shift, sc = [], []
for j in range(d):
    col = [x[j] for _, x in train]
    if min(col) == max(col):
        shift.append(col[0]); sc.append(1.0)
    else:
        shift.append(f32(mean[j])); sc.append(f32(1.0 / math.sqrt(var[j] / n)))
std = lambda rs: [(c, [f32(f32(v - s) * k) for v, s, k in zip(x, shift, sc)])
                  for c, x in rs]
write("ztrain.csv", std(train))
write("ztest.csv", std(test))
PYEOF

TR="--arch 6-32-3 --epochs 6 --batch 32 --lr 0.05 --seed 5 --schedule constant --l2 0 --quiet"

# --- raw features: the 10^7 spread of scales defeats plain SGD
"$H" train --train "$T/train.csv" --test "$T/test.csv" $TR >"$T/raw.out" 2>"$T/raw.err"
rrc=$?
racc=$(field "$T/raw.out" "final test accuracy")
if [ "$rrc" -ne 0 ] || { [ -n "$racc" ] && ! ge "$racc" 0.8; }; then
    ok "without --standardize: exit $rrc, accuracy ${racc:-none} (the data needs it)"
else
    bad "raw baseline" "accuracy $racc: the data does not exercise --standardize"
fi

# --- --standardize: trains, says so, and the checkpoint carries the map
if run "train --standardize" "$T/std.out" "$H" train --train "$T/train.csv" --test "$T/test.csv" $TR \
       --standardize --save "$T/std.ckpt" --print-hash; then
    sacc=$(field "$T/std.out" "final test accuracy")
    hs=$(field "$T/std.out" "weights hash")
    [ -n "$sacc" ] && ge "$sacc" 0.90 && ok "with --standardize: final test accuracy $sacc >= 0.90" \
        || bad "accuracy" "'$sacc' < 0.90"
    grep -q "^input: standardized per feature (mean and std of the 400 training rows)$" "$T/std.out" \
        && ok "setup line names the 400 training rows" || bad "setup line" "$(grep '^input' "$T/std.out")"
fi

# --- the map is exactly Python's: predictions byte for byte equal to a plain
# model's trained and evaluated on the standardised CSVs
if run "train on standardised CSV" "$T/z.out" "$H" train --train "$T/ztrain.csv" --test "$T/ztest.csv" $TR \
       --save "$T/z.ckpt" &&
   run "eval --standardize model" "$T/es.out" "$H" eval --model "$T/std.ckpt" --test "$T/test.csv" \
       --predictions "$T/ps.csv" --print-hash &&
   run "eval plain model" "$T/ez.out" "$H" eval --model "$T/z.ckpt" --test "$T/ztest.csv" --predictions "$T/pz.csv"; then
    cmp -s "$T/ps.csv" "$T/pz.csv" && ok "raw CSV through the map == Python-standardised CSV, predictions byte for byte" \
        || bad "map vs Python" "$(diff "$T/ps.csv" "$T/pz.csv" | head -n 3 | tr '\n' ' ')"
    grep -q "^input: standardized per feature (the map in $T/std.ckpt)$" "$T/es.out" \
        && ok "eval reports the checkpoint's map" || bad "eval input line" "$(head -n 3 "$T/es.out" | tr '\n' ' ')"
    grep -q "^input:" "$T/ez.out" && bad "plain eval" "reports a map" || ok "a plain checkpoint reports no map"
    eacc=$(sed -n 's/^test loss [0-9.]*  test accuracy \([0-9.]*\)$/\1/p' "$T/es.out")
    [ -n "$eacc" ] && [ "$eacc" = "${sacc:-}" ] && ok "eval reproduces the training run's test accuracy $eacc" \
        || bad "eval accuracy" "eval '$eacc', train '${sacc:-}'"
    [ "$(field "$T/es.out" "weights hash")" = "${hs:-}" ] && ok "eval hash = training hash (map included)" \
        || bad "eval hash" "$(field "$T/es.out" "weights hash") vs ${hs:-}"
fi

# --- --val: the map comes from the training split alone
if run "train --standardize --val" "$T/v.out" "$H" train --train "$T/train.csv" $TR --standardize --val 0.25; then
    ntr=$(sed -n 's/^data: train \([0-9]*\) x .*$/\1/p' "$T/v.out")
    [ "$ntr" = 300 ] && grep -q "^input: standardized per feature (mean and std of the 300 training rows)$" "$T/v.out" \
        && ok "--val 0.25: fitted on the 300 training rows, not the 100 validation rows" \
        || bad "--val fit" "data line train '$ntr'; $(grep '^input' "$T/v.out")"
fi

# --- --resume keeps the checkpoint's map, with or without the flag; the
# result equals the uninterrupted run bit for bit
if run "3 epochs" "$T/p.out" "$H" train --train "$T/train.csv" --test "$T/test.csv" ${TR/--epochs 6/--epochs 3} \
       --standardize --save "$T/p.ckpt" &&
   run "resume without the flag" "$T/p2.out" "$H" train --train "$T/train.csv" --test "$T/test.csv" $TR \
       --resume "$T/p.ckpt" --print-hash; then
    [ "$(field "$T/p2.out" "weights hash")" = "${hs:-}" ] && grep -q "^input: standardized per feature (the map in $T/p.ckpt)$" "$T/p2.out" \
        && ok "resume (flag omitted) keeps the map and reproduces the 6-epoch run bit for bit" \
        || bad "resume" "hash $(field "$T/p2.out" "weights hash") vs ${hs:-}; $(grep '^input' "$T/p2.out")"
fi
if run "3 plain epochs" "$T/q.out" "$H" train --train "$T/ztrain.csv" ${TR/--epochs 6/--epochs 3} --save "$T/q.ckpt"; then
    "$H" train --train "$T/ztrain.csv" $TR --resume "$T/q.ckpt" --standardize >"$T/q2.out" 2>"$T/q2.err"
    qrc=$?
    [ "$qrc" -ne 0 ] && [ "$(wc -l <"$T/q2.err")" -eq 1 ] &&
        grep -q "^hpctrain: --standardize: checkpoint $T/q.ckpt was trained without it; resume without --standardize$" "$T/q2.err" \
        && ok "--standardize on a checkpoint trained without it: one line, exit $qrc" \
        || bad "resume mismatch" "exit $qrc: $(cat "$T/q2.err")"
fi

finish
