# Shared by the bench scripts: CPU accounting of the processes under measurement.

# cpu_ticks PID...: user+system clock ticks used so far by the processes and their live children
# (for a postmaster: its backends, among them the connections of the process being measured).
cpu_ticks() {
  local total=0 pid child
  for pid in "$@"; do
    for child in $pid $(pgrep -P "$pid" || true); do
      [ -r "/proc/$child/stat" ] || continue
      total=$((total + $(awk '{print $14 + $15}' "/proc/$child/stat")))
    done
  done
  echo "$total"
}
