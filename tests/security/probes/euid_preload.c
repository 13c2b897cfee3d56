/* LD_PRELOAD'ed into every setuid binary the sandbox can see (inside the sandbox).
 *
 * If exec had honoured the setuid bit, the kernel would set AT_SECURE and the
 * dynamic loader would refuse the preload: no line would be written and the
 * test fails. Otherwise the constructor records the ids right after exec and
 * leaves before the binary's own main() runs.
 *   gcc -shared -fPIC -o /tmp/euid_preload.so euid_preload.c
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <unistd.h>

__attribute__((constructor)) static void report(void) {
  uid_t r, e, s;
  getresuid(&r, &e, &s);
  char exe[256] = {0};
  if (readlink("/proc/self/exe", exe, sizeof exe - 1) < 0) exe[0] = '?';
  int fd = open("/tmp/euid.log", O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd >= 0) {
    dprintf(fd, "%s ruid=%d euid=%d suid=%d secure=%lu\n", exe, (int)r, (int)e, (int)s,
            getauxval(AT_SECURE));
    close(fd);
  }
  _exit(0);
}
