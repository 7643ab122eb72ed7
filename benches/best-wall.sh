# Sourced by the growth benches: best_wall COMMAND... runs the command $runs times (removing
# $work/out before each) and prints the best wall time in seconds; a failing run prints its
# log and stops the bench.
best_wall() {
  local best="" wall
  for _ in $(seq "$runs"); do
    rm -rf "$work/out"
    /usr/bin/time -f "%e" -o "$work/time" "$@" >/dev/null 2>"$work/log" || {
      cat "$work/log" >&2
      exit 1
    }
    wall=$(cat "$work/time")
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(not $wall < $best)"; then best=$wall; fi
  done
  echo "$best"
}
