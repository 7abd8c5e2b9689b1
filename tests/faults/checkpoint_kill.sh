#!/usr/bin/env bash
# checkpoint_kill.sh LNET MODEL — fault injection for checkpoint saves.
#
# A tiny run (MODEL with 32-wide layers, 256 training images written by
# write_idx.sh, 2 steps) saves over an existing checkpoint while the test hook
# LNET_FAULT_KILL_AFTER_BYTES=N (runtime/io/safetensors_save.c) kills it with
# SIGKILL once N bytes of the temporary are written, for N across the whole
# file: the length prefix, the JSON header, the data, the last bytes, the
# complete file just before the rename; LNET_FAULT_KILL_AFTER_RENAME=1 kills
# it just after the rename. After every kill:
#   - the checkpoint at the user's path is byte for byte the old one (killed
#     before the rename) or the new one (after), and `lnet eval --load` reads it;
#   - the killed writer's CKPT.tmp.<pid> holds exactly the N bytes written, and
#     the next load (or save) of CKPT removes it;
#   - a live process's temporary (this shell's pid) is never removed.
set -u
lnet=$1 model=$2
here=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "checkpoint_kill: FAIL: $*" >&2; exit 1; }

sed 's/1024/32/g' "$model" >"$d/m.lnet"
"$here/write_idx.sh" "$d" train 256 28 28 && "$here/write_idx.sh" "$d" t10k 64 28 28 ||
  fail "cannot write the data files"
train() { timeout 60 "$lnet" train "$d/m.lnet" --exec interp --data-dir "$d" --quiet "$@"; }
evaluate() { timeout 60 "$lnet" eval "$d/m.lnet" --data-dir "$d" --load "$1" >/dev/null; }

train --max-steps 1 --save "$d/old" || fail "the first save failed"
train --max-steps 2 --save "$d/new" || fail "the second save failed"
cmp -s "$d/old" "$d/new" && fail "the two checkpoints are identical: the test would prove nothing"
size=$(stat -c %s "$d/new")
hlen=$(od -An -tu8 -N8 "$d/new" | tr -d ' ')
echo "checkpoint: $size bytes, header $hlen bytes"

live="$d/ck.tmp.$$"    # this shell is alive: its "temporary" must survive everything
echo live >"$live"
# The temporaries of ck other than the live one (a killed writer's).
stale() { local t; for t in "$d"/ck.tmp.*; do [ "$t" != "$live" ] && [ -e "$t" ] && echo "$t"; done; }

# N: in the length prefix, around the end of the header, 16 points through
# the data, the last bytes, and the whole file (killed just before the rename).
points="0 1 7 8 9 $((8 + hlen - 1)) $((8 + hlen)) $((8 + hlen + 1))"
for ((i = 1; i < 16; i++)); do points+=" $((size * i / 16))"; done
points+=" $((size - 5)) $((size - 1)) $size"
kills=0
for n in $points; do
  cp "$d/old" "$d/ck"
  LNET_FAULT_KILL_AFTER_BYTES=$n train --max-steps 2 --save "$d/ck" 2>/dev/null
  rc=$?
  [ "$rc" -eq 137 ] || fail "N=$n: exit status $rc, expected 137 (killed by the hook)"
  kills=$((kills + 1))
  cmp -s "$d/ck" "$d/old" || fail "N=$n: the checkpoint is not the old one after a kill before the rename"
  tmp=$(stale)
  [ -n "$tmp" ] && [ "$(echo "$tmp" | wc -l)" -eq 1 ] ||
    fail "N=$n: not one temporary left behind but '$tmp' (the test would prove nothing)"
  [ "$(stat -c %s "$tmp")" -eq "$n" ] || fail "N=$n: the temporary holds $(stat -c %s "$tmp") bytes"
  evaluate "$d/ck" || fail "N=$n: lnet eval cannot load the checkpoint"
  [ ! -e "$tmp" ] || fail "N=$n: the load did not remove the stale temporary $tmp"
  [ -e "$live" ] || fail "N=$n: a live process's temporary was removed"
done

# Killed just after the rename: the new checkpoint is in place, nothing left.
cp "$d/old" "$d/ck"
LNET_FAULT_KILL_AFTER_RENAME=1 train --max-steps 2 --save "$d/ck" 2>/dev/null
rc=$?
[ "$rc" -eq 137 ] || fail "after rename: exit status $rc, expected 137"
cmp -s "$d/ck" "$d/new" || fail "after rename: the checkpoint is not the new one"
evaluate "$d/ck" || fail "after rename: lnet eval cannot load the checkpoint"

# The next save removes a killed save's temporary too, and writes the new file.
cp "$d/old" "$d/ck"
LNET_FAULT_KILL_AFTER_BYTES=$((size / 2)) train --max-steps 2 --save "$d/ck" 2>/dev/null
[ $? -eq 137 ] || fail "second kill: not killed"
train --max-steps 2 --save "$d/ck" || fail "the save after a kill failed"
cmp -s "$d/ck" "$d/new" || fail "the save after a kill did not write the new checkpoint"
[ -z "$(stale)" ] || fail "the next save left a stale temporary: $(stale)"
[ -e "$live" ] || fail "a live process's temporary was removed"
echo "checkpoint_kill: $((kills + 2)) kills, every checkpoint loads, no temporary left"
