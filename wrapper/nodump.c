/*
 * lambda-cgi-nodump.so: preloaded into the Lambda runtime's Node process by
 * exec-wrapper (LD_PRELOAD). Its constructor runs before Node's main() and
 * closes what a CGI script, which runs as the same uid, could otherwise reach:
 *
 *  - prctl(PR_SET_DUMPABLE, 0). The kernel then refuses same-uid processes
 *    /proc/<node>/environ, mem, maps and fd/ (and ptrace). Node has no binding
 *    for prctl, and execve resets the flag, so it must be done from inside the
 *    process; scripts Node starts are exec'd and get the flag back, so the
 *    handler can still read their /proc entries.
 *  - marks every inherited descriptor above 2 close-on-exec (the runtime's
 *    telemetry log fd, for one). Node does that for fds 0-16 only, and a
 *    script would inherit the rest and could write forged log lines into them.
 *  - removes LD_PRELOAD from the environment, so that nothing Node starts loads
 *    this object again.
 *
 * Build: cc -O2 -shared -fPIC -o lambda-cgi-nodump.so nodump.c (scripts/build.mjs).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>

static void set_cloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

static void cloexec_inherited(void) {
  DIR *dir = opendir("/proc/self/fd");
  if (dir != NULL) {
    int own = dirfd(dir);
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
      int fd = atoi(entry->d_name); /* "." and ".." give 0 */
      if (fd > 2 && fd != own) set_cloexec(fd);
    }
    closedir(dir);
    return;
  }
  /* No /proc: try every possible descriptor. */
  struct rlimit limit;
  int max = 4096;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 65536) max = (int)limit.rlim_cur;
  for (int fd = 3; fd < max; fd++) set_cloexec(fd);
}

__attribute__((constructor)) static void lambda_cgi_harden(void) {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  cloexec_inherited();
  unsetenv("LD_PRELOAD");
}
