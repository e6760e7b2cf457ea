# Reachability and load of the server (read-only).
. /etc/os-release 2>/dev/null || true
dv_log "host $(hostname) up since $(uptime -s 2>/dev/null || echo '?')"
read -r l1 l5 l15 _ < /proc/loadavg
cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
mem_total=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
mem_avail=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
disk_used=$(df -P / | awk 'NR == 2 {print $5}')
dv_log "load average $l1 $l5 $l15 on $cpus CPU(s)"
dv_log "memory available $((mem_avail / 1024)) MiB of $((mem_total / 1024)) MiB"
dv_log "root filesystem $disk_used used"
dv_result os_id "${ID:-unknown}" os_version "${VERSION_ID:-unknown}" \
  load_1m "$l1" load_5m "$l5" load_15m "$l15" cpus "$cpus" \
  memory_total_kb "$mem_total" memory_available_kb "$mem_avail" disk_used "$disk_used"
