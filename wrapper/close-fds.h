/*
 * Closes every descriptor above stderr, so a program gets exactly stdin,
 * stdout and stderr whatever its parent held. Shared by cgi-exec and cgi-spawner.
 */
#ifndef LAMBDA_CGI_CLOSE_FDS_H
#define LAMBDA_CGI_CLOSE_FDS_H
#include <sys/syscall.h>
#include <unistd.h>

static void close_above_stderr(void) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
#endif
  /* Kernels before 5.9: every possible descriptor. */
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (long fd = 3; fd < max; fd++) close((int)fd);
}
#endif
