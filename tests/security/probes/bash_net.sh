# Network probes for a bash context (sourced; DAEMON_PORT and SERVER_PORT set by the test).
# Prints "key outcome" lines. Only loopback targets; no lookup if a non-loopback
# nameserver were configured.
_err() {
  case "$1" in
    *refused*) echo ECONNREFUSED ;; *unreachable*) echo ENETUNREACH ;;
    *"not permitted"*) echo EPERM ;; *"ermission denied"*) echo EACCES ;;
    *"timed out"*) echo ETIMEDOUT ;; *) echo "ERR:${1//[$'\n' ]/_}" ;;
  esac
}
_tcp() {  # key host port
  local e
  if e=$(timeout 5 bash -c "exec 3<>/dev/tcp/$2/$3" 2>&1); then echo "$1 CONNECTED"; else echo "$1 $(_err "$e")"; fi
}
echo "interfaces $(awk -F: 'NR>2 {gsub(/ /, "", $1); printf "%s,", $1}' /proc/net/dev)"
echo "ipv4_routes $(awk 'NR>1 && NF' /proc/net/route | wc -l)"
echo "ipv6_routes_not_lo $(awk '$NF != "lo"' /proc/net/ipv6_route | wc -l)"
_e=$(ip -o link show 2>&1); echo "ip_link $(_err "$_e")"
_e=$(ip route show 2>&1); echo "ip_route $(_err "$_e")"
_tcp tcp_daemon 127.0.0.1 "$DAEMON_PORT"
_tcp tcp_host_server 127.0.0.1 "$SERVER_PORT"
_tcp tcp6_host_server ::1 "$SERVER_PORT"
if grep -E '^\s*nameserver' /etc/resolv.conf 2>/dev/null | grep -vqE '\s(127\.|::1)'; then
  echo "resolve SKIPPED_nonloopback_nameserver"
elif getent hosts example.com >/dev/null 2>&1; then echo "resolve RESOLVED"; else echo "resolve NOTFOUND"; fi
if getent hosts localhost >/dev/null 2>&1; then echo "resolve_localhost_control OK"; else echo "resolve_localhost_control FAIL"; fi
true
