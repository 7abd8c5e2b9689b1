#!/usr/bin/env bash
# write_idx.sh DIR SPLIT N ROWS COLS [CLASSES] — writes a small raw IDX pair
# DIR/SPLIT-images-idx3-ubyte (N images of ROWS x COLS, every pixel 64) and
# DIR/SPLIT-labels-idx1-ubyte (label of example i: i % CLASSES, default 10),
# for tests that need data files of a chosen size.
set -eu
dir=$1 split=$2 n=$3 rows=$4 cols=$5 classes=${6:-10}
byte() { printf "\\x$(printf %02x "$1")"; }
u32() { byte $(($1 >> 24 & 255)); byte $(($1 >> 16 & 255)); byte $(($1 >> 8 & 255)); byte $(($1 & 255)); }
{
  printf '\x00\x00\x08\x03'; u32 "$n"; u32 "$rows"; u32 "$cols"
  head -c $((n * rows * cols)) /dev/zero | tr '\0' '\100'
} >"$dir/$split-images-idx3-ubyte"
{
  printf '\x00\x00\x08\x01'; u32 "$n"
  for ((i = 0; i < n; i++)); do byte $((i % classes)); done
} >"$dir/$split-labels-idx1-ubyte"
