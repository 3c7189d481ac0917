#!/usr/bin/env bash
# The weights hash in the checkpoint (format version 3): runs on 1 and 2
# threads print the same hash and store it (their files are the same
# bytes); eval --print-hash shows the
# loaded and the stored hash; a file whose weights were changed under a
# recomputed CRC is refused with one line naming it and both hashes; a
# version-1 file (the same one, rewritten as earlier builds wrote it)
# still evaluates and says it stores no hash.
# usage: bash cli_checkpoint_hash.sh /path/to/hpctrain TMPDIR
set -u
. "$(dirname "$0")/testlib.sh"

"$PY" - "$T" <<'PYEOF' || { echo "FAIL: generating data"; exit 1; }
import os, random, sys
t = sys.argv[1]
rnd = random.Random(5)
def rows(n):
    out = []
    for _ in range(n):
        c = rnd.randrange(3)
        x = [(2.0 if j == c else 0.0) + rnd.gauss(0, 0.7) for j in range(5)]
        out.append("%d,%s" % (c, ",".join("%.4f" % v for v in x)))
    return out
with open(os.path.join(t, "train.csv"), "w") as f:
    f.write("\n".join(rows(240)) + "\n")
with open(os.path.join(t, "test.csv"), "w") as f:
    f.write("\n".join(rows(60)) + "\n")
PYEOF

TR="--train $T/train.csv --test $T/test.csv --arch 5-16-3 --epochs 3 --batch 16 --lr 0.05 --dropout 0.1 --seed 3 --quiet --print-hash"

h1= h2=
run "train 1 thread" "$T/t1.out" "$H" train $TR --threads 1 --save "$T/t1.ckpt" && h1=$(field "$T/t1.out" "weights hash")
run "train 2 threads" "$T/t2.out" "$H" train $TR --threads 2 --save "$T/t2.ckpt" && h2=$(field "$T/t2.out" "weights hash")
[[ "$h1" =~ ^[0-9a-f]{16}$ ]] && [ "$h1" = "$h2" ] && ok "1 and 2 threads print the same hash ($h1)" \
    || bad "1 vs 2 threads" "'$h1' vs '$h2'"
# the thread count is not saved and the moments are as reproducible as
# the weights, so the two files are the same bytes
cmp -s "$T/t1.ckpt" "$T/t2.ckpt" && ok "1- and 2-thread checkpoints are byte for byte equal" \
    || bad "1- vs 2-thread checkpoints" "the files differ"

for t in 1 2; do
    if run "eval t$t" "$T/e$t.out" "$H" eval --model "$T/t$t.ckpt" --test "$T/test.csv" --print-hash; then
        [ "$(field "$T/e$t.out" "weights hash")" = "$h1" ] && [ "$(field "$T/e$t.out" "stored hash")" = "$h1" ] &&
            ok "the $t-thread checkpoint stores the printed hash" \
            || bad "stored hash ($t threads)" "$(grep hash "$T/e$t.out" | tr '\n' ' ') vs $h1"
    fi
done

# the checkpoint's header: the hash follows has_v; the payload follows the
# header (16 + header bytes); a weight's lowest bit flipped, CRC made good
"$PY" - "$T" <<'PYEOF' || bad "rewriting the checkpoint" "python failed"
import os, struct, sys, zlib
t = sys.argv[1]
b = bytearray(open(os.path.join(t, "t1.ckpt"), "rb").read())
assert struct.unpack_from("<I", b, 8)[0] == 3, "not version 3"
hlen = struct.unpack_from("<I", b, 12)[0]
def save(name, data):
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    open(os.path.join(t, name), "wb").write(data)
bad = bytearray(b)
bad[16 + hlen + 4 * 3] ^= 1
save("bad.ckpt", bad)
# version 1: no hash, no sections word (this model has no section)
n_layers = struct.unpack_from("<I", b, 16)[0]
at = 20 + 8 * (n_layers + 1) + 19 * 4 + 16 + 4 + 8 + 8 + 4 + 4
assert struct.unpack_from("<I", b, at + 8)[0] == 0, "has sections"
v1 = b[:at] + b[at + 12:]
struct.pack_into("<II", v1, 8, 1, hlen - 12)
save("v1.ckpt", v1)
PYEOF

"$H" eval --model "$T/bad.ckpt" --test "$T/test.csv" --print-hash >"$T/bad.out" 2>"$T/err"
rc=$?
if [ "$rc" -ne 0 ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
   grep -Eq "^hpctrain: --model $T/bad.ckpt: weights hash mismatch: the checkpoint stores $h1, its weights as loaded hash to [0-9a-f]{16}$" "$T/err"; then
    ok "a changed weight under a good CRC is refused, one line naming the file and both hashes"
else
    bad "changed weight" "exit $rc, stderr: $(cat "$T/err")"
fi

# info --model: what the file holds, without data; a bad file gives one
# line on stderr and nothing on stdout
if run "info --model" "$T/i.out" "$H" info --model "$T/t1.ckpt"; then
    grep -q "^checkpoint: $T/t1.ckpt (format version 3)\$" "$T/i.out" &&
        grep -q "^  model:  5-16-3, loss xent, sgd, batch 16, 147 parameters\$" "$T/i.out" &&
        grep -q "^  state:  epoch 3, step 45\$" "$T/i.out" &&
        grep -q "^  weights hash $h1 (stored in the file; the loaded weights match it)\$" "$T/i.out" &&
        ok "info --model: format, architecture, epoch and step, the stored hash" \
        || bad "info --model" "$(sed -n '/^checkpoint:/,$p' "$T/i.out" | tr '\n' '|')"
fi
"$H" info --model "$T/bad.ckpt" >"$T/ib.out" 2>"$T/ib.err"
rc=$?
[ "$rc" -ne 0 ] && [ ! -s "$T/ib.out" ] && [ "$(wc -l <"$T/ib.err")" -eq 1 ] &&
    grep -q "weights hash mismatch" "$T/ib.err" &&
    ok "info --model on a changed file: one line, nothing else" \
    || bad "info --model, bad file" "exit $rc, stdout $(wc -l <"$T/ib.out") lines, stderr: $(cat "$T/ib.err")"

if run "eval v1" "$T/v1.out" "$H" eval --model "$T/v1.ckpt" --test "$T/test.csv" --print-hash; then
    [ "$(field "$T/v1.out" "weights hash")" = "$h1" ] &&
        grep -q "^stored hash none (checkpoint version 1, written before checkpoints stored it)$" "$T/v1.out" &&
        ok "a version-1 checkpoint still loads, the same weights, no stored hash" \
        || bad "version 1" "$(grep hash "$T/v1.out" | tr '\n' ' ')"
fi

finish
