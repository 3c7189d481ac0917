#!/usr/bin/env bash
# End to end through the hpctrain CLI on small generated CSV data: accuracy,
# bitwise-identical weights for 1 and 2 threads, --save/--resume continuing
# bit for bit, eval reproducing the test accuracy, --val, MSE regression,
# info, bench and tools/scaling_run.sh.
# usage: bash cli_train_small.sh /path/to/hpctrain TMPDIR
set -u
. "$(dirname "$0")/testlib.sh"

"$PY" - "$T" <<'PYEOF' || { echo "FAIL: generating data"; exit 1; }
import os, random, sys
t = sys.argv[1]
rnd = random.Random(11)
centres = [(2, 0, 0, 0, 1, 0), (0, 2, 0, 1, 0, 0), (0, 0, 2, 0, 0, 1)]
def rows(n):
    out = []
    for i in range(n):
        c = rnd.randrange(3)
        x = [m + rnd.gauss(0, 0.7) for m in centres[c]]
        out.append("%d,%s" % (c, ",".join("%.5f" % v for v in x)))
    return out
with open(os.path.join(t, "train.csv"), "w") as f:
    f.write("label,f1,f2,f3,f4,f5,f6\n" + "\n".join(rows(360)) + "\n")
with open(os.path.join(t, "test.csv"), "w") as f:
    f.write("\n".join(rows(150)) + "\n")
def reg(n):
    out = []
    for i in range(n):
        x = [rnd.uniform(-1, 1) for _ in range(3)]
        y = 0.5 * x[0] - x[1] + 0.25 * x[2] * x[2]
        out.append("%.6f,%s" % (y, ",".join("%.6f" % v for v in x)))
    return out
with open(os.path.join(t, "reg_train.csv"), "w") as f:
    f.write("\n".join(reg(400)) + "\n")
with open(os.path.join(t, "reg_test.csv"), "w") as f:
    f.write("\n".join(reg(100)) + "\n")
PYEOF

# constant rate and no L2: a run stopped at epoch 3 and resumed equals one
# run only when the schedule does not depend on the total epoch count
TR="--train $T/train.csv --test $T/test.csv --arch 6-32-16-3 --epochs 8 --batch 32 --lr 0.05 --dropout 0.1 --seed 7 --schedule constant --l2 0"

# --- full run, 1 thread: accuracy, start line, per-epoch lines, no \r on a pipe
if run "train 1 thread" "$T/t1.out" "$H" train $TR --threads 1 --print-hash --save "$T/full.ckpt" --log "$T/full.csv"; then
    acc=$(field "$T/t1.out" "final test accuracy")
    h1=$(field "$T/t1.out" "weights hash")
    echo "     1 thread: final test accuracy $acc, hash $h1"
    [ -n "$acc" ] && ge "$acc" 0.90 && ok "final test accuracy $acc >= 0.90" || bad "accuracy" "'$acc' < 0.90"
    grep -Eq "^hpctrain train: isa [a-z0-9]+, 1 thread, seed 7$" "$T/t1.out" && ok "start line names ISA, threads, seed" \
        || bad "start line" "$(head -n 1 "$T/t1.out")"
    [ "$(grep -Ec '^epoch [1-8]/8  loss [0-9.]+  test acc [0-9.]+  [0-9.]+ s  [0-9]+ samples/s$' "$T/t1.out")" -eq 8 ] \
        && ok "8 per-epoch lines (loss, test acc, seconds, samples/s)" || bad "per-epoch lines" "$(grep ^epoch "$T/t1.out")"
    grep -q $'\r' "$T/t1.out" && bad "no carriage returns on a pipe" "found \\r" || ok "no carriage returns on a pipe"
    [[ "$h1" =~ ^[0-9a-f]{16}$ ]] && ok "--print-hash gives 16 hex digits" || bad "--print-hash" "'$h1'"
fi

# --- on a terminal (script(1) gives the run a pty): the bar is drawn with
# carriage returns, reaches 100 %, is cleared before each epoch line, and
# the weights are the same; --quiet draws nothing there either
if command -v script >/dev/null; then
    TRQ="${TR/--epochs 8/--epochs 2} --threads 1 --print-hash"
    if script -qec "$H train $TRQ" /dev/null >"$T/tty.out" 2>"$T/err" &&
       script -qec "$H train $TRQ --quiet" /dev/null >"$T/ttyq.out" 2>>"$T/err"; then
        "$PY" - "$T/tty.out" "$T/ttyq.out" "$T/t1.out" <<'PYEOF' && ok "progress bar on a terminal: drawn, 100 %, cleared; none with --quiet" || bad "progress bar" "see above"
import re, sys
tty = open(sys.argv[1], newline="").read().replace("\r\n", "\n")
quiet = open(sys.argv[2], newline="").read().replace("\r\n", "\n")
bars = re.findall(r"\repoch (\d)/2 \[([=> ]{30})\] +(\d+)%", tty)
assert bars, "no bar drawn"
assert any(b == ("1", "=" * 30, "100") for b in bars), "epoch 1 never at 100 %"
assert any(b == ("2", "=" * 30, "100") for b in bars), "epoch 2 never at 100 %"
for n in ("1", "2"):   # the bar's line is blanked, then the epoch line
    assert re.search(r"\r {30,}\repoch %s/2  loss " % n, tty), "epoch %s: bar not cleared" % n
assert "\r" not in quiet, "--quiet drew on a terminal"
h = lambda t: re.search(r"weights hash ([0-9a-f]{16})", t).group(1)
assert h(tty) == h(quiet), "the bar changed the weights"
PYEOF
    else
        bad "progress bar" "script(1) runs failed: $(cat "$T/err")"
    fi
else
    echo "skip progress bar check: no script(1) (util-linux)"
fi

# --- 2 threads: bitwise the same weights
if run "train 2 threads" "$T/t2.out" "$H" train $TR --threads 2 --print-hash; then
    h2=$(field "$T/t2.out" "weights hash")
    [ -n "${h1:-}" ] && [ "$h1" = "$h2" ] && ok "hash identical for 1 and 2 threads ($h2)" \
        || bad "thread-count invariance" "1 thread ${h1:-?}, 2 threads $h2"
fi

# --- another seed: another hash (the hash is not a constant)
if run "train seed 8" "$T/s8.out" "$H" train ${TR/--seed 7/--seed 8} --print-hash; then
    h8=$(field "$T/s8.out" "weights hash")
    [ "$h8" != "${h1:-}" ] && ok "another seed gives another hash" || bad "seed" "same hash $h8"
fi

# --- --log: a header and one row per epoch, agreeing with the printed lines
if [ -s "$T/full.csv" ]; then
    "$PY" - "$T/full.csv" "$T/t1.out" <<'PYEOF' && ok "--log: 8 rows agreeing with the epoch lines and the final accuracy" || bad "--log" "see above"
import csv, re, sys
rows = list(csv.DictReader(open(sys.argv[1])))
out = open(sys.argv[2]).read()
want = "epoch,loss,penalty,sparsity,lr,val_accuracy,val_loss,test_accuracy,test_loss,seconds,samples_per_s,layer_sparsity"
assert open(sys.argv[1]).readline().strip() == want, "header"
assert [int(r["epoch"]) for r in rows] == list(range(1, 9)), "epochs"
printed = [float(x) for x in re.findall(r"^epoch \d+/8  loss ([0-9.]+)", out, re.M)]
assert len(printed) == 8, "epoch lines"
for r, p in zip(rows, printed):
    assert abs(float(r["loss"]) - p) <= 5e-5, (r["loss"], p)
    assert float(r["lr"]) == 0.05, r["lr"]          # --schedule constant
    assert r["val_accuracy"] == "" and r["val_loss"] == "", "no --val: empty"
    assert float(r["seconds"]) > 0 and float(r["samples_per_s"]) > 0
    assert [float(x) for x in r["layer_sparsity"].split("/")] == [0.0] * 3, r["layer_sparsity"]
final = float(re.search(r"^final test accuracy ([0-9.]+)$", out, re.M).group(1))
assert abs(float(rows[-1]["test_accuracy"]) - final) <= 5e-5, "final accuracy"
PYEOF
fi

# --- save after 3 epochs, resume up to 8: the same weights as one run. The
# log gets a stray row 4 first, as when a run wrote epoch 4's row and died
# before its checkpoint: resuming at 3 must drop it and redo it.
if run "train 3 epochs" "$T/r1.out" "$H" train ${TR/--epochs 8/--epochs 3} --save "$T/part.ckpt" --log "$T/part.csv" &&
   echo "4,9,9,9,9,,,9,9,9,9" >>"$T/part.csv" &&
   run "resume to 8" "$T/r2.out" "$H" train $TR --resume "$T/part.ckpt" --save "$T/part.ckpt" --print-hash --log "$T/part.csv"; then
    # every column but the timings equals the uninterrupted run's
    [ -s "$T/full.csv" ] && [ "$(cut -d, -f1-9 "$T/part.csv")" = "$(cut -d, -f1-9 "$T/full.csv")" ] &&
        ok "--log across save+resume: rows 1..8 once, equal to the uninterrupted run's" ||
        bad "--log resume" "$(cut -d, -f1 "$T/part.csv" | tr '\n' ' ')"
    hr=$(field "$T/r2.out" "weights hash")
    grep -q "resumed from $T/part.ckpt at epoch 3" "$T/r2.out" && ok "resume starts at epoch 3" \
        || bad "resume epoch" "$(grep resumed "$T/r2.out")"
    [ "$(grep -c '^epoch ' "$T/r2.out")" -eq 5 ] && ok "resume trains epochs 4..8 only" \
        || bad "resume epochs" "$(grep -c '^epoch ' "$T/r2.out") epoch lines"
    [ "$hr" = "${h1:-}" ] && ok "save+resume reproduces the uninterrupted run bit for bit ($hr)" \
        || bad "save+resume" "resumed ${hr:-?}, uninterrupted ${h1:-?}"
fi

# --- proximal L1: exact zeros, reported per layer on the epoch line and in
# the log, and the total is the weight-count-weighted mean of the layers'
if run "train --prox-l1" "$T/px.out" "$H" train ${TR/--epochs 8/--epochs 2} --l1 0.05 --prox-l1 --log "$T/px.csv"; then
    "$PY" - "$T/px.csv" "$T/px.out" <<'PYEOF' && ok "--prox-l1: per-layer sparsity on the epoch lines and in the log, consistent with the total" || bad "--prox-l1 per-layer sparsity" "see above"
import csv, re, sys
rows = list(csv.DictReader(open(sys.argv[1])))
lines = re.findall(r"^epoch \d+/2 .* sparsity ([0-9.]+) \(layers ([0-9./]+)\)", open(sys.argv[2]).read(), re.M)
assert len(rows) == 2 and len(lines) == 2, (len(rows), lines)
counts = [6 * 32, 32 * 16, 16 * 3]                      # --arch 6-32-16-3
for r, (tot, per) in zip(rows, lines):
    layers = [float(x) for x in r["layer_sparsity"].split("/")]
    assert len(layers) == 3 and max(layers) > 0, layers   # prox L1 made zeros
    assert [round(x, 3) for x in layers] == [float(x) for x in per.split("/")], (layers, per)
    mean = sum(f * n for f, n in zip(layers, counts)) / sum(counts)
    assert abs(mean - float(r["sparsity"])) <= 1e-5 and abs(mean - float(tot)) <= 6e-4, (mean, r["sparsity"], tot)
PYEOF
fi

# --- a log written before the layer_sparsity column resumes: its rows get
# an empty last field, the new rows the full one (part.ckpt is at epoch 8)
if [ -s "$T/part.ckpt" ] && [ -s "$T/part.csv" ]; then
    { echo "epoch,loss,penalty,sparsity,lr,val_accuracy,val_loss,test_accuracy,test_loss,seconds,samples_per_s"
      sed -n '2,9p' "$T/part.csv" | cut -d, -f1-11; } >"$T/old.csv"
    if run "resume into an old log" "$T/ol.out" "$H" train ${TR/--epochs 8/--epochs 9} --resume "$T/part.ckpt" --log "$T/old.csv"; then
        "$PY" - "$T/old.csv" <<'PYEOF' && ok "--log: an old-format log resumes (old rows padded, new rows complete)" || bad "old log resume" "$(cat "$T/old.csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [int(r["epoch"]) for r in rows] == list(range(1, 10)), [r["epoch"] for r in rows]
assert all(r["layer_sparsity"] == "" for r in rows[:8]), [r["layer_sparsity"] for r in rows[:8]]
assert len(rows[8]["layer_sparsity"].split("/")) == 3, rows[8]["layer_sparsity"]
PYEOF
    fi
fi

# --- SIGTERM (as Ctrl-C, which a background job of this script would ignore):
# the running epoch is finished, logged and saved, then exit 128 + 15
"$H" train $TR --epochs 1000000 --threads 1 --save "$T/int.ckpt" --log "$T/int.csv" --quiet \
    >"$T/int.out" 2>"$T/int.err" &
ipid=$!
for _ in $(seq 1 600); do   # up to 60 s (qemu): until two epochs are logged
    [ -s "$T/int.csv" ] && [ "$(wc -l <"$T/int.csv")" -ge 3 ] && break
    sleep 0.1
done
kill -TERM "$ipid" 2>/dev/null
wait "$ipid"
irc=$?
ie=$(sed -n 's/^interrupted by SIGTERM after epoch \([0-9]*\) of 1000000$/\1/p' "$T/int.out")
il=$(tail -n 1 "$T/int.csv" | cut -d, -f1)
if [ "$irc" -eq 143 ] && [ -n "$ie" ] && [ "$ie" = "$il" ] &&
   grep -q "^checkpoint $T/int.ckpt (epoch $ie)$" "$T/int.out" &&
   run "eval interrupted" "$T/inte.out" "$H" eval --model "$T/int.ckpt" --test "$T/test.csv" &&
   grep -q "^model: $T/int.ckpt, 6-32-16-3, epoch $ie$" "$T/inte.out"; then
    ok "SIGTERM: exit 143 after epoch $ie, which is logged and checkpointed"
else
    bad "SIGTERM" "exit $irc, epoch '$ie', last log row '$il'; $(tail -n 2 "$T/int.out" | tr '\n' ' ')"
fi

# --- eval --model reproduces the final test accuracy
if [ -s "$T/full.ckpt" ] && run "eval" "$T/ev.out" "$H" eval --model "$T/full.ckpt" --test "$T/test.csv" --print-hash; then
    eacc=$(sed -n 's/^test loss [0-9.]*  test accuracy \([0-9.]*\)$/\1/p' "$T/ev.out")
    [ -n "$eacc" ] && [ "$eacc" = "${acc:-}" ] && ok "eval --model reproduces test accuracy $eacc" \
        || bad "eval accuracy" "eval '$eacc', train '${acc:-}'"
    [ "$(field "$T/ev.out" "weights hash")" = "${h1:-}" ] && ok "eval loads the saved weights (same hash)" \
        || bad "eval hash" "$(field "$T/ev.out" "weights hash")"
fi

# --- eval --confusion and --predictions agree with each other and with eval's
# accuracy: the matrix's diagonal is the correct count, each CSV row's
# predicted class is the argmax of its probabilities and its label the file's
if [ -s "$T/full.ckpt" ] && run "eval reports" "$T/evr.out" "$H" eval --model "$T/full.ckpt" \
       --test "$T/test.csv" --confusion --predictions "$T/pred.csv"; then
    "$PY" - "$T/evr.out" "$T/pred.csv" "$T/test.csv" <<'PYEOF' && ok "eval --confusion/--predictions: diagonal, argmax, labels and accuracy agree" || bad "eval reports" "see above"
import csv, re, sys
out = open(sys.argv[1]).read()
acc = float(re.search(r"test accuracy ([0-9.]+)", out).group(1))
m = re.search(r"^  correct (\d+) of (\d+)$", out, re.M)
correct, n = int(m.group(1)), int(m.group(2))
assert n == 150 and abs(correct / n - acc) <= 5e-5, (correct, n, acc)
diag = sum(int(l.split()[1 + int(l.split()[0])]) for l in out.splitlines()
           if re.match(r"^  +[0-2] ", l))
assert diag == correct, (diag, correct)
rows = list(csv.DictReader(open(sys.argv[2])))
labels = [int(l.split(",")[0]) for l in open(sys.argv[3]) if l.strip()]
assert len(rows) == 150 and [int(r["label"]) for r in rows] == labels
hits = 0
for r in rows:
    p = [float(r["p_%d" % j]) for j in range(3)]
    assert abs(sum(p) - 1) < 1e-5 and int(r["predicted"]) == p.index(max(p)), r
    hits += int(r["predicted"]) == int(r["label"])
assert hits == correct, (hits, correct)
PYEOF
fi

# 9000 rows: predictions are made in chunks of 8192, so rows past the first
# chunk must keep their order and labels
if [ -s "$T/full.ckpt" ] && "$PY" -c "
import random; r = random.Random(5)
c = [(2,0,0,0,1,0),(0,2,0,1,0,0),(0,0,2,0,0,1)]
with open('$T/big.csv', 'w') as f:
    for i in range(9000):
        k = r.randrange(3); f.write('%d,%s\n' % (k, ','.join('%.4f' % (m + r.gauss(0, 0.7)) for m in c[k])))
" && run "eval reports, 9000 rows" "$T/evb.out" "$H" eval --model "$T/full.ckpt" --test "$T/big.csv" \
       --confusion --predictions "$T/big_pred.csv"; then
    "$PY" - "$T/evb.out" "$T/big_pred.csv" "$T/big.csv" <<'PYEOF' && ok "eval reports over 9000 rows (two predict chunks) agree with the accuracy" || bad "eval reports 9000" "see above"
import csv, re, sys
out = open(sys.argv[1]).read()
acc = float(re.search(r"test accuracy ([0-9.]+)", out).group(1))
correct = int(re.search(r"^  correct (\d+) of 9000$", out, re.M).group(1))
rows = list(csv.DictReader(open(sys.argv[2])))
labels = [int(l.split(",")[0]) for l in open(sys.argv[3])]
assert [int(r["row"]) for r in rows] == list(range(9000))
assert [int(r["label"]) for r in rows] == labels
hits = sum(int(r["predicted"]) == int(r["label"]) for r in rows)
assert hits == correct and abs(correct / 9000 - acc) <= 5e-5, (hits, correct, acc)
PYEOF
fi

# --- --val reports validation accuracy every epoch
if run "train --val" "$T/val.out" "$H" train --train "$T/train.csv" --arch 6-16-3 --epochs 3 --val 0.25 --quiet \
       --lr 0.1 --schedule cosine --log "$T/val.csv"; then
    # the log's val columns match the printed ones; lr follows the cosine
    # schedule, 0.1 * (1 + cos(pi * e / 3)) / 2 for epochs e = 0, 1, 2
    "$PY" - "$T/val.csv" "$T/val.out" <<'PYEOF' && ok "--log with --val: val columns, cosine lr 0.1, 0.075, 0.025" || bad "--log --val" "see above"
import csv, math, re, sys
rows = list(csv.DictReader(open(sys.argv[1])))
printed = [float(x) for x in re.findall(r"  val acc ([0-9.]+)", open(sys.argv[2]).read())]
assert len(rows) == 3 and len(printed) == 3, (len(rows), len(printed))
for e, (r, p) in enumerate(zip(rows, printed)):
    assert abs(float(r["val_accuracy"]) - p) <= 5e-5, (r["val_accuracy"], p)
    assert float(r["val_loss"]) > 0 and r["test_accuracy"] == "", r
    want = 0.1 * (1 + math.cos(math.pi * e / 3)) / 2
    assert abs(float(r["lr"]) - want) <= 1e-7, (r["lr"], want)
PYEOF
    [ "$(grep -Ec '  val acc [0-9.]+' "$T/val.out")" -eq 3 ] && ok "--val: val acc on each of 3 epochs" \
        || bad "--val" "$(grep ^epoch "$T/val.out")"
    grep -q "data: train 270 x 6 .*, val 90" "$T/val.out" && ok "--val 0.25 splits 360 rows into 270 + 90" \
        || bad "--val split" "$(grep ^data "$T/val.out")"
fi

# --- default architecture from the data (no --arch)
if run "train default arch" "$T/def.out" "$H" train --train "$T/train.csv" --epochs 1 --quiet; then
    grep -Eq "^model: 6-[0-9-]+-3, " "$T/def.out" && ok "without --arch: sizes 6-...-3 from the data" \
        || bad "default arch" "$(grep ^model "$T/def.out")"
fi

# --- MSE regression from CSV targets
if run "train mse" "$T/mse.out" "$H" train --train "$T/reg_train.csv" --test "$T/reg_test.csv" --loss mse \
        --arch 3-32-1 --epochs 30 --batch 16 --lr 0.05 --dropout 0 --quiet --log "$T/mse.csv" \
        --save "$T/mse.ckpt"; then
    mloss=$(field "$T/mse.out" "final test loss")
    # MSE: no accuracy in the log, the test loss of the last row is the final one
    "$PY" - "$T/mse.csv" "$mloss" <<'PYEOF' && ok "--log with mse: test_loss filled, accuracy empty" || bad "--log mse" "see above"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 30 and all(r["test_accuracy"] == "" for r in rows)
assert abs(float(rows[-1]["test_loss"]) - float(sys.argv[2])) <= 1e-6 * max(1.0, float(sys.argv[2])), rows[-1]
PYEOF
    # eval --predictions of the MSE model: its targets are the file's, and
    # J = 1/(2m) sum (output - target)^2 over them is the printed test loss
    if run "eval mse predictions" "$T/evm.out" "$H" eval --model "$T/mse.ckpt" --test "$T/reg_test.csv" \
           --predictions "$T/mse_pred.csv"; then
        "$PY" - "$T/mse_pred.csv" "$T/reg_test.csv" "$mloss" <<'PYEOF' && ok "eval --predictions (mse): targets, and J = 1/(2m) sum err^2 = the test loss" || bad "eval mse predictions" "see above"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
t = [float(l.split(",")[0]) for l in open(sys.argv[2]) if l.strip()]
assert len(rows) == len(t) == 100
assert all(abs(float(r["target_0"]) - y) <= 1e-6 for r, y in zip(rows, t))
j = sum((float(r["output_0"]) - float(r["target_0"])) ** 2 for r in rows) / (2 * len(rows))
assert abs(j - float(sys.argv[3])) <= 1e-4 * max(j, 1e-3), (j, sys.argv[3])
PYEOF
    fi
    # The targets have variance ~0.42; J = 1/(2m) sum err^2 of a fit must be far below that.
    [ -n "$mloss" ] && le "$mloss" 0.02 && ok "mse regression: final test loss $mloss <= 0.02" \
        || bad "mse regression" "final test loss '$mloss'"
fi

# --- --profile, --profile-json, info, bench, --help
if run "train --profile" "$T/prof.out" "$H" train --train "$T/train.csv" --arch 6-16-3 --epochs 1 --quiet --profile --profile-json "$T/prof.json"; then
    # the JSON: valid, the same kinds as the table, each GEMM kind's layers
    # adding up to it, the flops of an epoch of 2 * rows * in * out
    if command -v python3 > /dev/null; then
        why=$(python3 - "$T/prof.json" "$T/prof.out" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
table = open(sys.argv[2]).read()
kinds = {k["kind"]: k for k in p["kinds"]}
assert p["command"] == "train" and p["arch"] == [6, 16, 3], p["arch"]
assert len(kinds) == 8 and all("  %s " % n in table for n in kinds), kinds.keys()
for n in ("gemm_fwd", "gemm_bwd_data", "gemm_bwd_weight"):
    k = kinds[n]
    assert abs(sum(l["seconds"] for l in k["layers"]) - k["seconds"]) <= 1e-9 + 1e-6 * k["seconds"], n
    assert sum(l["flops"] for l in k["layers"]) == k["flops"], n
    assert 0 <= k["wait_share"] <= 1.05, n
rows = kinds["gemm_fwd"]["flops"] / (2 * (6 * 16 + 16 * 3))
assert rows == int(rows) and rows > 0, rows
assert kinds["gemm_bwd_data"]["layers"][0]["calls"] == 0
print("ok")
PY
        )
        [ "$why" = ok ] && ok "--profile-json: the table's figures as JSON" || bad "--profile-json" "$why"
    fi
    grep -Eq "^  gemm_fwd +[0-9.]+ +[0-9.]+% +[0-9]+ +[0-9.]+ +[0-9.]+%$" "$T/prof.out" && ok "--profile prints the kernel table" \
        || bad "--profile" "no gemm_fwd row"
    [ "$(grep -Ec "^    L[12] (6x16|16x3) +[0-9.]+ +[0-9.]+% +[0-9]+ +[0-9.]+$" "$T/prof.out")" -eq 5 ] && ok "--profile splits the GEMMs by layer" \
        || bad "--profile" "not 5 per-layer GEMM rows (fwd 2, bwd_data 1, bwd_weight 2)"
fi
# --- --warmup-steps: the logged rate is each epoch's last step's (360 rows,
# batch 32: 12 steps per epoch; warmup 30 ends in epoch 3), the start line
# names it, and a run saved after epoch 1 and resumed finishes the ramp
# exactly as an uninterrupted one.
WU="${TR/--epochs 8/--epochs 3} --warmup-steps 30 --print-hash"
if run "warmup 3 epochs" "$T/w3.out" "$H" train $WU --log "$T/w3.csv" &&
   run "warmup 1 epoch" "$T/w1.out" "$H" train ${WU/--epochs 3/--epochs 1} --save "$T/w1.ckpt" &&
   run "warmup resumed" "$T/wr.out" "$H" train $WU --resume "$T/w1.ckpt"; then
    grep -q "schedule constant after 30 warmup steps" "$T/w3.out" && ok "--warmup-steps: named on the model line" \
        || bad "warmup line" "$(grep '^model:' "$T/w3.out")"
    lrs=$(cut -d, -f5 "$T/w3.csv" | tail -n +2 | tr '\n' ' ')
    [ "$lrs" = "0.02 0.04 0.05 " ] && ok "--warmup-steps: rates 0.02, 0.04, 0.05 (steps 12, 24, 36 of 30)" \
        || bad "warmup rates" "$lrs"
    hw=$(field "$T/w3.out" "weights hash") hr=$(field "$T/wr.out" "weights hash")
    [ -n "$hw" ] && [ "$hw" = "$hr" ] && [ "$hw" != "$(field "$T/r2.out" "weights hash")" ] &&
        ok "--warmup-steps: resumed mid-ramp = uninterrupted ($hw)" || bad "warmup resume" "'$hw' vs '$hr'"
fi
if "$H" train $TR --warmup-steps 1x >"$T/wbad.out" 2>&1; then
    bad "--warmup-steps 1x" "accepted"
else
    grep -q "^hpctrain: --warmup-steps 1x: " "$T/wbad.out" && ok "--warmup-steps 1x: one line naming it" \
        || bad "--warmup-steps 1x" "$(cat "$T/wbad.out")"
fi
if run "info" "$T/info.out" "$H" info; then
    grep -Eq "^kernel: +MR [0-9]+  NR [0-9]+  MC [0-9]+  KC [0-9]+  NC [0-9]+$" "$T/info.out" &&
        grep -q "^  cores" "$T/info.out" && grep -q "^isa:" "$T/info.out" && ok "info: isa, kernel blocking, topology" \
        || bad "info" "missing lines"
fi
if run "bench" "$T/bench.out" "$H" bench --arch 20-16-4 --batch 8 --steps 4 --threads 2 --print-hash; then
    grep -Eq "^train: [0-9]+ samples/s, median of 5 runs \(.* runs [0-9.e-]+ to [0-9.e-]+ s\)$" "$T/bench.out" && grep -q "^  gemm_bwd_weight " "$T/bench.out" &&
        grep -q "^threads: 2, " "$T/bench.out" &&
        [ "$(grep -Ec '^  gemm_.* m +[0-9]+ n +[0-9]+ k +[0-9]+ .* GFLOP/s$' "$T/bench.out")" -eq 3 ] && ok "bench: samples/s, binding, profile, 3 sgemm shapes" \
        || bad "bench" "missing lines"
    # the weights after bench's runs are the same for any thread count
    # (what tools/scaling_run.sh checks on larger machines)
    if run "bench 1 thread" "$T/bench1.out" "$H" bench --arch 20-16-4 --batch 8 --steps 4 --threads 1 --print-hash; then
        hb1=$(field "$T/bench1.out" "weights hash") hb2=$(field "$T/bench.out" "weights hash")
        [ -n "$hb1" ] && [ "$hb1" = "$hb2" ] && ok "bench --print-hash: 1 and 2 threads identical ($hb1)" \
            || bad "bench hash" "1 thread '$hb1', 2 threads '$hb2'"
    fi
fi
# --optim-cost: the optimiser's share from one-batch pairs (a tiny model's
# difference may be lost in the noise; the line says which)
if run "bench --optim-cost" "$T/bopt.out" "$H" bench --arch 20-16-4 --batch 8 --steps 3 --repeat 2 --threads 2 --optim-cost; then
    grep -q "^optimiser step (one-batch training step minus gradient-only step, 6 alternated pairs, medians):$" "$T/bopt.out" &&
        grep -Eq "^  step [0-9.e-]+ ms, gradient-only [0-9.e-]+ ms; difference -?[0-9.e-]+ ms \(quartiles -?[0-9.e-]+ to -?[0-9.e-]+\)$" "$T/bopt.out" &&
        grep -Eq "^  the optimiser: ([0-9.]+% of the step; 404 parameters x 16 bytes = [0-9.e-]+ MB in [0-9.e-]+ ms: [0-9.e+-]+ GB/s|below the timing noise)$" "$T/bopt.out" &&
        ok "bench --optim-cost: pairs, difference, share and bytes" || bad "bench --optim-cost" "$(grep -A3 '^optimiser' "$T/bopt.out")"
fi
# --- tools/scaling_run.sh, the many-core run, kept working: its table, one
# row per thread count, and the same hash on each (tiny run: batch 16, 2 steps)
SR="$(dirname "$0")/../tools/scaling_run.sh"
if STEPS=2 REPEAT=1 BATCH=16 bash "$SR" "$H" "$T/scal" 1 2 >"$T/scal.out" 2>&1; then
    [ "$(grep -Ec '^ +[12] +[0-9]+ +[0-9.]+x +[0-9.]+% ' "$T/scal.out")" -eq 2 ] &&
        grep -q "^weights hash identical for every thread count" "$T/scal.out" &&
        ok "scaling_run.sh: a row per thread count, one hash" || bad "scaling_run.sh" "$(cat "$T/scal.out")"
else
    bad "scaling_run.sh" "exit status $?: $(tail -3 "$T/scal.out")"
fi
# --- tools/independent_run.sh: a row per round with its two ratios (tiny
# run; needs two CPUs, else it says so and exits 2)
IR="$(dirname "$0")/../tools/independent_run.sh"
if [ "$(nproc)" -ge 2 ]; then
    if STEPS=2 REPEAT=1 BATCH=16 bash "$IR" "$H" 1 0 1 >"$T/ind.out" 2>&1; then
        grep -Eq '^1 +[0-9]+ +[0-9]+ +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9]+ [0-9]+$' "$T/ind.out" &&
            ok "independent_run.sh: alone, pair, team and ratios" || bad "independent_run.sh" "$(cat "$T/ind.out")"
    else
        bad "independent_run.sh" "exit status $?: $(tail -3 "$T/ind.out")"
    fi
fi
if STEPS=2 REPEAT=1 BATCH=16 bash "$IR" "$H" 1 0 99999 >"$T/ind2.out" 2>&1; then
    bad "independent_run.sh on CPU 99999" "accepted"
else
    grep -q "the process on CPU 99999 failed" "$T/ind2.out" && ok "independent_run.sh names a CPU it cannot run on" ||
        bad "independent_run.sh on CPU 99999" "$(cat "$T/ind2.out")"
fi
if bash "$IR" "$H" 1 0 >"$T/ind1.out" 2>&1; then
    bad "independent_run.sh on one CPU" "accepted"
else
    grep -q "needs at least 2 CPUs" "$T/ind1.out" && ok "independent_run.sh refuses one CPU" ||
        bad "independent_run.sh on one CPU" "$(cat "$T/ind1.out")"
fi
run "--help" "$T/help.out" "$H" --help && grep -q "train" "$T/help.out" && ok "--help"
run "train --help" "$T/thelp.out" "$H" train --help && grep -q -- "--print-hash" "$T/thelp.out" && ok "train --help lists flags"

finish
