#!/usr/bin/env bash
# Formats alexnet-train's metrics lines (JSON, stdin) as a progress display.
LC_ALL=C awk '
function num(key,   m) {
  if (match($0, "\"" key "\":[-0-9.eE+]+")) {
    m = substr($0, RSTART, RLENGTH); sub(/^[^:]*:/, "", m); return m
  }
  return ""
}
function pct(v) { return v == "" ? "   -  " : sprintf("%5.1f%%", 100 * v) }
function lr(v) { return v == "" ? "-" : sprintf("%.3g", v) }
/"type":"train"/ {
  left = num("time_left"); if (left != "") left = sprintf("%4.0f s left", left)
  printf "epoch %3s  step %5s  loss %6.3f  train top-1 err %s  val top-1 err %s  lr %-7s %5.1f img/s  %s\n", num("epoch"), num("step"), num("loss"), pct(num("train_top1_error")), pct(num("val_top1_error")), lr(num("learning_rate")), num("images_per_second"), left
}
/"type":"epoch"/ {
  drop = ""
  if (index($0, "\"learning_rate_dropped\":true")) drop = ", learning rate now " lr(num("learning_rate"))
  printf "  validation after epoch %s (%s images): top-1 error %s, top-5 error %s%s\n", num("epoch"), num("val_images"), pct(num("val_top1_error")), pct(num("val_top5_error")), drop
}'
