/*
 * cgi-exec: starts one CGI program under resource limits, without a shell.
 * The handler runs it instead of the program when a CGI_RLIMIT_* setting is
 * on (Apache's RLimitCPU, RLimitMEM, RLimitNPROC, plus the file size):
 *
 *   cgi-exec [-c cpu-seconds] [-m address-space-bytes] [-n processes]
 *            [-f file-size-bytes] -- program [argument...]
 *
 * Each limit is set as both soft and hard limit, so the program cannot raise
 * it again. Descriptors above 2 are closed, so the program gets exactly
 * stdin, stdout and stderr whatever its parent held. Then it execs the program
 * in place: same pid, same process group, nothing left in between.
 *
 * Build: cc -O2 -o cgi-exec cgi-exec.c (scripts/build.mjs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "close-fds.h"

static int limit(int resource, const char *value) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(value, &end, 10);
  if (errno != 0 || *end != '\0' || end == value) return -1;
  struct rlimit rl = { (rlim_t)n, (rlim_t)n };
  return setrlimit(resource, &rl);
}

int main(int argc, char **argv) {
  int i = 1;
  for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
    int resource;
    if (strcmp(argv[i], "-c") == 0) resource = RLIMIT_CPU;
    else if (strcmp(argv[i], "-m") == 0) resource = RLIMIT_AS;
    else if (strcmp(argv[i], "-n") == 0) resource = RLIMIT_NPROC;
    else if (strcmp(argv[i], "-f") == 0) resource = RLIMIT_FSIZE;
    else break;
    if (limit(resource, argv[i + 1]) != 0) {
      fprintf(stderr, "cgi-exec: cannot set %s %s: %s\n", argv[i], argv[i + 1], strerror(errno ? errno : EINVAL));
      return 126;
    }
  }
  if (i + 1 >= argc || strcmp(argv[i], "--") != 0) {
    fprintf(stderr, "usage: cgi-exec [-c secs] [-m bytes] [-n procs] [-f bytes] -- program [arg...]\n");
    return 126;
  }
  close_above_stderr();
  execv(argv[i + 1], argv + i + 1);
  fprintf(stderr, "cgi-exec: cannot execute %s: %s\n", argv[i + 1], strerror(errno));
  return 127;
}
