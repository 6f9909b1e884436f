#!/usr/bin/env bash
# Top-1 accuracy of alexnet-infer's results file (JSON lines) over a data
# set in ImageNet layout: an image is right when its first class is the name
# of the folder it came from. Prints e.g. "87.31% (8731 of 10000)".
LC_ALL=C awk '
match($0, /"id":"[^"]*"/) {
  id = substr($0, RSTART + 6, RLENGTH - 7)
  n = split(id, parts, "/"); truth = parts[n - 1]
  if (match($0, /"top_k":\[\{[^}]*"label":"[^"]*"/)) {
    s = substr($0, RSTART, RLENGTH); sub(/.*"label":"/, "", s); sub(/"$/, "", s)
    total++; if (s == truth) right++
  }
}
END {
  if (total == 0) { print "no results"; exit 1 }
  printf "%.2f%% (%d of %d)\n", 100 * right / total, right, total
}' "$1"
