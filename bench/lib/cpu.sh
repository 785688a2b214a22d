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

# machine_ticks: "BUSY STEAL" clock ticks of the whole machine so far (/proc/stat): busy is
# user + nice + system + irq + softirq on every core, whoever used it (the load generator and the
# kernel's loopback included); steal is time the hypervisor gave this VM's cores to other guests.
machine_ticks() {
  awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8, $9; exit}' /proc/stat
}
