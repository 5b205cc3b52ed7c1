/*
 * cgi-spawner: starts CGI programs for the handler from a small process.
 *
 * fork() copies the page tables of the process that calls it and makes every
 * page of it copy-on-write; from Node (100 MB and more) that costs about a
 * millisecond per script, and the handler then pays a fault for each page it
 * writes until the next fork. Forked from here it costs a few pages.
 *
 * It speaks the Perl worker's protocol (handler/process/perl/lambda-cgi-worker.pl),
 * so handler/process/worker.ts drives both:
 *   fd 0  lifeline from Node: "K seq\n" kills that request's process group; EOF: all go, we exit.
 *   fd 1  control records, each one write() of at most PIPE_BUF bytes:
 *         READY pid 0 | E seq len\n<stderr bytes> | X seq pid waitstatus
 *   fd 2  our own diagnostics.
 * With -c, -m, -n, -f (cgi-exec's flags for CGI_RLIMIT_*), each program gets those limits.
 * Per request, one connection on the Unix socket (--socket PATH), from Node only:
 * u32be N, N bytes of NUL-separated fields ("LCGI1", program, switches, cwd,
 * bodyLength, argc, argv..., K=V...), then the body. The child answers
 * pack("NN", seq, pid) when the program is about to be exec'd; its stdout is
 * the connection itself, its stderr a pipe relayed as E records, its stdin the body.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "close-fds.h"

#define MAX_CHILDREN 256
/* An exit record waits this long for stderr held open by an escaped descendant. */
#define STDERR_GRACE_MS 200
/* The Perl worker's limit on a frame: fields and environment, not the body. */
#define MAX_FRAME (4u << 20)

struct child {
  pid_t pid;
  uint32_t seq;
  int err;          /* read end of its stderr pipe, -1 at EOF */
  int reaped;
  int status;
  long long reaped_at;
};

/* CGI_RLIMIT_* as cgi-exec sets them: soft and hard limit, on each program before it is exec'd. */
struct limit {
  const char *flag;
  int resource;
  int set;
  rlim_t value;
};
static struct limit limits[] = {
  { "-c", RLIMIT_CPU, 0, 0 },
  { "-m", RLIMIT_AS, 0, 0 },
  { "-n", RLIMIT_NPROC, 0, 0 },
  { "-f", RLIMIT_FSIZE, 0, 0 },
};
#define NLIMITS (sizeof limits / sizeof limits[0])

static struct child children[MAX_CHILDREN];
static int nchildren;
static int wake[2];
static pid_t node;
static const char *socket_path;

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void on_chld(int sig) {
  (void)sig;
  int e = errno;
  (void)!write(wake[1], "c", 1);
  errno = e;
}

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int read_exact(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void record(const char *r, size_t len) {
  (void)write_all(1, r, len);
}

/* ---- a request child: what a fresh spawn from Node would have been --------------- */

static void child_main(int conn, int err_w, uint32_t seq) {
  /* Its own session and process group, as Node's detached spawn gives a script. */
  setsid();
  signal(SIGCHLD, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);

  uint32_t len;
  if (read_exact(conn, &len, 4) < 0) _exit(111);
  len = ntohl(len);
  if (len == 0 || len > MAX_FRAME) _exit(111);
  char *frame = malloc((size_t)len + 1);
  if (frame == NULL || read_exact(conn, frame, len) < 0) _exit(111);
  frame[len] = '\0';

  /* Fields: magic, program, switches, cwd, bodyLength, argc, argv..., K=V... */
  size_t count = 1;
  for (uint32_t i = 0; i < len; i++) count += frame[i] == '\0';
  char **f = calloc(count + 1, sizeof *f);
  if (f == NULL) _exit(111);
  size_t k = 0;
  f[k++] = frame;
  for (uint32_t i = 0; i < len; i++) if (frame[i] == '\0') f[k++] = frame + i + 1;
  if (count < 6 || strcmp(f[0], "LCGI1") != 0 || f[2][0] != '\0') _exit(111);
  const char *program = f[1];
  const char *cwd = f[3];
  unsigned long long body_len = strtoull(f[4], NULL, 10);
  size_t argc = strtoul(f[5], NULL, 10);
  if (argc > count - 6) _exit(111);
  char **argv = calloc(argc + 2, sizeof *argv);
  if (argv == NULL) _exit(111);
  argv[0] = (char *)program;
  for (size_t i = 0; i < argc; i++) argv[i + 1] = f[6 + i];
  char **envp = f + 6 + argc;

  /* The whole body is read before the program runs: one that never reads it must not leave Node writing. */
  int in;
  if (body_len <= 65536) {
    int p[2];
    if (pipe(p) < 0) _exit(111);
    char buf[65536];
    if (body_len > 0 && (read_exact(conn, buf, body_len) < 0 || write_all(p[1], buf, body_len) < 0)) _exit(111);
    close(p[1]);
    in = p[0];
  } else {
    in = memfd_create("stdin", 0);
    if (in < 0) _exit(111);
    char buf[65536];
    for (unsigned long long left = body_len; left > 0;) {
      size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
      if (read_exact(conn, buf, n) < 0 || write_all(in, buf, n) < 0) _exit(111);
      left -= n;
    }
    if (lseek(in, 0, SEEK_SET) < 0) _exit(111);
  }

  /* Set after the body is in place: a body larger than the file size limit is still the program's stdin. */
  for (size_t i = 0; i < NLIMITS; i++) {
    struct rlimit rl = { limits[i].value, limits[i].value };
    if (limits[i].set && setrlimit(limits[i].resource, &rl) < 0) _exit(111);
  }
  /* Not runnable: no preamble, so Node spawns it itself and says why, as for any script. */
  if (chdir(cwd) < 0 || access(program, X_OK) < 0) _exit(111);

  uint32_t pre[2] = { htonl(seq), htonl((uint32_t)getpid()) };
  if (write_all(conn, pre, sizeof pre) < 0) _exit(111);
  if (dup2(in, 0) < 0 || dup2(conn, 1) < 0 || dup2(err_w, 2) < 0) _exit(111);
  close_above_stderr();
  execve(program, argv, envp);
  dprintf(2, "lambda-cgi: cannot execute %s: %s\n", program, strerror(errno));
  _exit(127);
}

/* ---- the server loop ------------------------------------------------------------- */

static void send_exit(int i) {
  char r[96];
  int n = snprintf(r, sizeof r, "X %u %d %d\n", children[i].seq, (int)children[i].pid, children[i].status);
  record(r, (size_t)n);
  if (children[i].err >= 0) close(children[i].err);
  children[i] = children[--nchildren];
}

static void drain_stderr(int i) {
  char r[PIPE_BUF];
  char *data = r + 40;
  ssize_t n = read(children[i].err, data, PIPE_BUF - 40);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    close(children[i].err);
    children[i].err = -1;
    return;
  }
  char head[40];
  int h = snprintf(head, sizeof head, "E %u %zd\n", children[i].seq, n);
  memcpy(data - h, head, (size_t)h);
  record(data - h, (size_t)(h + n));
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < nchildren; i++) {
      if (children[i].pid != pid) continue;
      /* As after a plain spawn: whatever the program left in its process group goes with it. */
      kill(-pid, SIGKILL);
      children[i].reaped = 1;
      children[i].status = status;
      children[i].reaped_at = now_ms();
    }
  }
}

static void shutdown_all(void) {
  for (int i = 0; i < nchildren; i++) if (!children[i].reaped) kill(-children[i].pid, SIGKILL);
  unlink(socket_path);
  /* Node made the folder and removes it, unless it died first. */
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", socket_path);
  char *slash = strrchr(dir, '/');
  if (slash != NULL && slash != dir) {
    *slash = '\0';
    rmdir(dir);
  }
  _exit(0);
}

static void lifeline(void) {
  static char buf[4096];
  static size_t have;
  ssize_t n = read(0, buf + have, sizeof buf - 1 - have);
  if (n < 0 && errno == EINTR) return;
  if (n <= 0) shutdown_all();
  have += (size_t)n;
  buf[have] = '\0';
  char *line = buf, *nl;
  while ((nl = strchr(line, '\n')) != NULL) {
    *nl = '\0';
    unsigned long seq;
    if (sscanf(line, "K %lu", &seq) == 1) {
      for (int i = 0; i < nchildren; i++) if (children[i].seq == seq && !children[i].reaped) kill(-children[i].pid, SIGKILL);
    }
    line = nl + 1;
  }
  have = strlen(line);
  memmove(buf, line, have);
}

static void accept_one(int listen_fd, uint32_t *seq) {
  int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (conn < 0) return;
  /* Only Node may ask: a script of the same uid can reach the socket too, and what ran
   * here would be our child, which the survivor census spares. */
  struct ucred cred;
  socklen_t cl = sizeof cred;
  if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.pid != node || nchildren >= MAX_CHILDREN) {
    close(conn);
    return;
  }
  int err[2];
  if (pipe2(err, O_CLOEXEC) < 0) {
    close(conn);
    return;
  }
  uint32_t s = ++*seq & 0x7fffffff;
  pid_t pid = fork();
  if (pid == 0) {
    close(err[0]);
    child_main(conn, err[1], s);
  }
  close(conn);
  close(err[1]);
  if (pid < 0) {
    close(err[0]);
    return;
  }
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  children[nchildren++] = (struct child){ .pid = pid, .seq = s, .err = err[0], .reaped = 0, .status = 0, .reaped_at = 0 };
}

int main(int argc, char **argv) {
  if (argc < 3 || argc % 2 != 1 || strcmp(argv[1], "--socket") != 0) {
    fprintf(stderr, "usage: cgi-spawner --socket PATH [-c secs] [-m bytes] [-n procs] [-f bytes]\n");
    return 2;
  }
  socket_path = argv[2];
  for (int i = 3; i + 1 < argc; i += 2) {
    size_t k = 0;
    while (k < NLIMITS && strcmp(argv[i], limits[k].flag) != 0) k++;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(argv[i + 1], &end, 10);
    if (k == NLIMITS || errno != 0 || *end != '\0' || end == argv[i + 1]) {
      fprintf(stderr, "cgi-spawner: bad limit %s %s\n", argv[i], argv[i + 1]);
      return 2;
    }
    limits[k].set = 1;
    limits[k].value = (rlim_t)v;
  }
  node = getppid();
  /* Like Node under the exec wrapper: a script of the same uid can neither read nor patch us. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* Descriptors Node (or the Lambda runtime) left open are no business of ours, nor of the programs. */
  close_above_stderr();

  int listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (listen_fd < 0 || strlen(socket_path) >= sizeof addr.sun_path) return 1;
  strcpy(addr.sun_path, socket_path);
  unlink(socket_path);
  if (bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listen_fd, SOMAXCONN) < 0) {
    fprintf(stderr, "cgi-spawner: %s: %s\n", socket_path, strerror(errno));
    return 1;
  }
  if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0) return 1;
  struct sigaction sa = { .sa_handler = on_chld, .sa_flags = SA_RESTART | SA_NOCLDSTOP };
  sigaction(SIGCHLD, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  char ready[64];
  record(ready, (size_t)snprintf(ready, sizeof ready, "READY %d 0\n", (int)getpid()));

  uint32_t seq = 0;
  struct pollfd p[3 + MAX_CHILDREN];
  int owner[3 + MAX_CHILDREN];
  for (;;) {
    reap();
    long long t = now_ms();
    for (int i = 0; i < nchildren;) {
      /* Stderr held open by an escaped descendant must not hold the exit record back for long. */
      if (children[i].reaped && (children[i].err < 0 || t - children[i].reaped_at > STDERR_GRACE_MS)) send_exit(i);
      else i++;
    }
    int n = 0;
    p[n++] = (struct pollfd){ .fd = 0, .events = POLLIN };
    p[n++] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
    p[n++] = (struct pollfd){ .fd = wake[0], .events = POLLIN };
    int waiting = 0;
    for (int i = 0; i < nchildren; i++) {
      if (children[i].reaped) waiting = 1;
      if (children[i].err < 0) continue;
      owner[n] = i;
      p[n++] = (struct pollfd){ .fd = children[i].err, .events = POLLIN };
    }
    int r = poll(p, (nfds_t)n, waiting ? 50 : -1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    if (p[2].revents) {
      char junk[64];
      while (read(wake[0], junk, sizeof junk) > 0) {}
    }
    if (p[0].revents) lifeline();
    /* Stderr before new connections: the indices in owner[] hold until a child is added or removed. */
    for (int j = 3; j < n; j++) if (p[j].revents) drain_stderr(owner[j]);
    if (p[1].revents & POLLIN) accept_one(listen_fd, &seq);
  }
}
