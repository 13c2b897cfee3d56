# Filesystem probes for a bash context (sourced; DATA_DIR set by the test).
# Prints "key outcome" lines.
_err() {
  case "$1" in
    *"Read-only"*) echo EROFS ;; *"ermission denied"*) echo EACCES ;;
    *"not permitted"*) echo EPERM ;; *"must be superuser"*) echo NOTROOT ;; *"No such file"*|*"does not exist"*) echo ENOENT ;;
    *) echo "ERR:${1//[$'\n' ]/_}" ;;
  esac
}
_do() {  # key command...
  local k=$1 e; shift
  if e=$("$@" 2>&1); then echo "$k OK"; else echo "$k $(_err "$e")"; fi
}
for d in /usr /etc / /opt/kiln /skills; do
  _do "touch_${d}" touch "${d%/}/kiln-sec-bash-evil"
  _do "mkdir_${d}" mkdir "${d%/}/kiln-sec-bash-dir"
done
_do append_etc_passwd sh -c 'echo "root2:x:0:0::/:/bin/sh" >> /etc/passwd'
_do cp_over_kiln_init cp /bin/true /opt/kiln/kiln-init
_do cat_etc_shadow cat /etc/shadow
_do ls_data_dir ls "$DATA_DIR"
_do cat_proc1_environ cat /proc/1/environ
_do ls_proc1_fd ls /proc/1/fd
_do ls_dev_kvm ls /dev/kvm
_do mknod_tmp_mem mknod /tmp/kiln-sec-mem c 1 1
_do mknod_dev_sda mknod /dev/kiln-sec-sda b 8 0
_do write_core_pattern sh -c 'cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern'
_do mount_tmpfs mount -t tmpfs none /tmp
_do unshare_user unshare -U true
echo "dev_entries $(ls /dev | tr '\n' ',')"
echo "touch_tmp_control $( : > /tmp/kiln-sec-ok && echo OK || echo FAIL)"
true
