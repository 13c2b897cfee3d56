# What this sandbox can see of the persistence objects another sandbox planted.
# usage: sh persist_look.sh TOKEN   (TOKEN: 7 hex digits; /tmp/escape must be built)
tok=$1
for f in /tmp/kiln-sec-$tok /dev/shm/kiln-sec-$tok /home/user/kiln-sec-$tok /var/tmp/kiln-sec-$tok \
         /tmp/kiln-sec-$tok.lock /dev/shm/kiln-sec-$tok.lock; do
  if [ -e "$f" ]; then echo "file:$f OK"; else echo "file:$f ENOENT"; fi
done
/tmp/escape look_ipc "$tok"
n=$(ipcs -a 2>/dev/null | grep -ci "$(printf 0x%08x 0x$tok)"); echo "ipcs_token ${n:-0}"
n=$(grep -c . /proc/locks 2>/dev/null); echo "proc_locks ${n:-0}"
# flock -n on the same path: fails while the planter's lock is live in ITS /tmp.
: > /tmp/kiln-sec-probe-$tok.lock
if flock -n /tmp/kiln-sec-$tok.lock true 2>/dev/null; then echo "flock_same_path FREE"; else echo "flock_same_path HELD"; fi
n=$(grep -c "kiln-sec-$tok" /proc/keys 2>/dev/null); echo "proc_keys_token ${n:-0}"
python3 - "$tok" <<'PY'
import errno, socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(b"\0kiln-sec-" + sys.argv[1].encode())
    print("abstract_socket CONNECTED")
except OSError as e:
    print("abstract_socket", errno.errorcode.get(e.errno))
PY
true
