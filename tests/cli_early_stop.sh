#!/usr/bin/env bash
# train --save-best and --patience end to end: the epochs marked "best" are
# exactly the strict improvements of the validation score (accuracy, ties
# to lower loss; loss for MSE) as the --log rows record it; the run stops
# `patience` epochs after the last one; the --save-best checkpoint is that
# epoch's model, and its test score is the one reported; a run saved part
# way and resumed stops at the same epoch with the same best checkpoint;
# both flags need --val.
# usage: bash cli_early_stop.sh /path/to/hpctrain TMPDIR
set -u
. "$(dirname "$0")/testlib.sh"

# Overlapping classes with label noise, and few rows: the validation score
# peaks early and then wanders, so the patience rule has work to do.
"$PY" - "$T" <<'PYEOF' || { echo "FAIL: generating data"; exit 1; }
import os, random, sys
t = sys.argv[1]
rnd = random.Random(17)
centres = [(1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0)]
def rows(n):
    out = []
    for i in range(n):
        c = rnd.randrange(3)
        x = [m + rnd.gauss(0, 0.6) for m in centres[c]]
        lab = c if rnd.random() > 0.15 else rnd.randrange(3)
        out.append("%d,%s" % (lab, ",".join("%.5f" % v for v in x)))
    return out
open(os.path.join(t, "train.csv"), "w").write("\n".join(rows(240)) + "\n")
open(os.path.join(t, "test.csv"), "w").write("\n".join(rows(200)) + "\n")
def reg(n):
    out = []
    for i in range(n):
        x = [rnd.uniform(-1, 1) for _ in range(3)]
        y = 0.5 * x[0] - x[1] + 0.25 * x[2] * x[2] + rnd.gauss(0, 0.3)
        out.append("%.6f,%s" % (y, ",".join("%.6f" % v for v in x)))
    return out
open(os.path.join(t, "reg.csv"), "w").write("\n".join(reg(200)) + "\n")
PYEOF

TR="--train $T/train.csv --test $T/test.csv --arch 4-64-64-3 --batch 16 --lr 0.1 --seed 3 --schedule constant --dropout 0 --l2 0 --val 0.25 --quiet"

# check OUT LOG CKPT PATIENCE EPOCHS KIND: the marks, the stop and the checkpoint
check() {
    "$PY" - "$@" <<'PYEOF'
import csv, re, sys
out, log, ckpt, patience, epochs, kind = sys.argv[1:7]
patience, epochs = int(patience), int(epochs)
text = open(out).read()
rows = list(csv.DictReader(open(log)))
marked = [int(m.group(1)) for m in re.finditer(r"^epoch (\d+)/\d+ .*  best$", text, re.M)]
lines = [int(m.group(1)) for m in re.finditer(r"^epoch (\d+)/\d+ ", text, re.M)]
best, want = None, []
for r in rows:
    e, acc, loss = int(r["epoch"]), r["val_accuracy"], float(r["val_loss"])
    if kind == "xent":
        key = (float(acc), -loss)
        tie = best is not None and key[0] == best[0] and key[1] == best[1]
    else:
        key = (-loss,)
        tie = best is not None and key == best
    assert not tie, "equal to 8 digits at epoch %d: not decidable from the log" % e
    if best is None or key > best:
        best = key
        want.append(e)
assert marked == want, ("marked", marked, "want", want)
last = want[-1]
stop = min(last + patience, epochs)
assert lines == list(range(1, stop + 1)), ("epochs run", lines, "want 1..%d" % stop)
if stop < epochs:
    assert re.search(r"^early stop after epoch %d: no better validation score in the %d epochs since epoch %d$"
                     % (stop, patience, last), text, re.M), "early stop line"
else:
    assert "early stop" not in text
m = re.search(r"^best val epoch (\d+): val (acc|loss) ([0-9.e+-]+), test (acc|loss) ([0-9.e+-]+) \((.*)\)$", text, re.M)
assert m and int(m.group(1)) == last and m.group(6) == ckpt, ("best line", m and m.group(0))
print("     best epochs %s, stopped after %d, best %d" % (want, stop, last))
print(m.group(5))
PYEOF
}

# --- one run: marks, stop, checkpoint
if run "train --save-best --patience 3" "$T/a.out" "$H" train $TR --epochs 60 --patience 3 \
       --save-best "$T/best.ckpt" --log "$T/a.csv"; then
    if check "$T/a.out" "$T/a.csv" "$T/best.ckpt" 3 60 xent >"$T/a.chk" 2>&1; then
        head -n 1 "$T/a.chk"
        ok "--patience 3: 'best' marks = strict improvements in the log; stopped 3 epochs after the last"
        btest=$(tail -n 1 "$T/a.chk")
        bep=$(sed -n 's/^best val epoch \([0-9]*\):.*$/\1/p' "$T/a.out")
        if run "eval best" "$T/ae.out" "$H" eval --model "$T/best.ckpt" --test "$T/test.csv"; then
            eacc=$(sed -n 's/^test loss [0-9.]*  test accuracy \([0-9.]*\)$/\1/p' "$T/ae.out")
            grep -q "^model: $T/best.ckpt, 4-64-64-3, epoch $bep$" "$T/ae.out" && [ "$eacc" = "$btest" ] \
                && ok "--save-best holds epoch $bep, whose test accuracy $eacc is the one reported" \
                || bad "best checkpoint" "$(head -n 1 "$T/ae.out"), eval acc '$eacc', reported '$btest'"
        fi
    else
        bad "marks and stop" "$(cat "$T/a.chk")"
    fi
fi

# --- saved after 4 epochs (no patience yet), resumed with it: the same stop,
# the same best checkpoint, bit for bit
if run "4 epochs" "$T/p1.out" "$H" train $TR --epochs 4 --save "$T/p.ckpt" --save-best "$T/pb.ckpt" &&
   run "resume" "$T/p2.out" "$H" train $TR --epochs 60 --patience 3 --resume "$T/p.ckpt" \
       --save "$T/p.ckpt" --save-best "$T/pb.ckpt"; then
    b4=$(grep -c '  best$' "$T/p1.out")
    k=$(sed -n 's/^best val epoch \([0-9]*\):.*$/\1/p' "$T/p1.out")
    grep -q "^best so far: epoch $k, val acc [0-9.]* ($T/pb.ckpt)$" "$T/p2.out" \
        && ok "resume reads the best so far (epoch $k) from --save-best's file" \
        || bad "best so far" "$(grep -E '^(best|resumed)' "$T/p2.out" | tr '\n' ' ')"
    marks() { sed -n "s/^epoch \([0-9]*\)\/.*  best$/\1/p" "$1" | awk -v k="$2" '$1 > k' | tr '\n' ' '; }
    [ "$(marks "$T/p2.out" 4)" = "$(marks "$T/a.out" 4)" ] &&
    [ "$(grep '^early stop' "$T/p2.out")" = "$(grep '^early stop' "$T/a.out")" ] &&
    [ "$(grep '^best val epoch' "$T/p2.out")" = "$(sed "s|$T/best.ckpt|$T/pb.ckpt|" <(grep '^best val epoch' "$T/a.out"))" ] &&
    run "hash best" "$T/h1.out" "$H" eval --model "$T/best.ckpt" --test "$T/test.csv" --print-hash &&
    run "hash pb" "$T/h2.out" "$H" eval --model "$T/pb.ckpt" --test "$T/test.csv" --print-hash &&
    [ "$(grep '^weights hash' "$T/h1.out")" = "$(grep '^weights hash' "$T/h2.out")" ] \
        && ok "saved and resumed ($b4 best marks before the save): the same later best marks, early stop, best line and best weights" \
        || bad "resume" "$(grep -E '^(early|best val)' "$T/p2.out" | tr '\n' ' ') vs $(grep -E '^(early|best val)' "$T/a.out" | tr '\n' ' ')"
fi

# --- MSE: the score is the validation loss
if run "mse --save-best" "$T/m.out" "$H" train --train "$T/reg.csv" --test "$T/reg.csv" --loss mse --arch 3-16-1 \
       --batch 16 --lr 0.05 --seed 2 --schedule constant --val 0.3 --epochs 40 --patience 2 --save-best "$T/mb.ckpt" \
       --log "$T/m.csv" --quiet; then
    check "$T/m.out" "$T/m.csv" "$T/mb.ckpt" 2 40 mse >"$T/m.chk" 2>&1 \
        && { head -n 1 "$T/m.chk"; ok "MSE: best = strictly lower validation loss; patience 2"; } \
        || bad "mse" "$(cat "$T/m.chk")"
fi

# --- usage errors: one line, exit 2, nothing written
for args in "--save-best $T/x.ckpt" "--patience 2"; do
    flag=${args%% *}
    "$H" train --train "$T/train.csv" --arch 4-8-3 --epochs 1 $args >/dev/null 2>"$T/u.err"
    urc=$?
    [ "$urc" -eq 2 ] && [ "$(wc -l <"$T/u.err")" -eq 1 ] && [ ! -e "$T/x.ckpt" ] &&
        grep -q "^hpctrain: $flag: needs --val FRAC" "$T/u.err" \
        && ok "$flag without --val: exit 2, one line" || bad "$flag without --val" "exit $urc: $(cat "$T/u.err")"
done
"$H" train $TR --epochs 1 --save "$T/same.ckpt" --save-best "$T/same.ckpt" >/dev/null 2>"$T/u.err"
urc=$?
[ "$urc" -eq 2 ] && grep -q "^hpctrain: --save and --save-best both name $T/same.ckpt$" "$T/u.err" \
    && ok "--save and --save-best naming one file: refused" || bad "same file" "exit $urc: $(cat "$T/u.err")"
"$H" train $TR --epochs 1 --patience 0 >/dev/null 2>"$T/u.err"
urc=$?
[ "$urc" -eq 2 ] && grep -q "^hpctrain: --patience 0: must be in \[1, 1000000\]$" "$T/u.err" \
    && ok "--patience 0: refused" || bad "--patience 0" "exit $urc: $(cat "$T/u.err")"

finish
