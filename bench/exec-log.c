/*
 * exec-log: a stand-in for ffmpeg/ffprobe that `npm run bench` puts in front of the real ones
 * (VIDPIPE_FFMPEG / VIDPIPE_FFPROBE point at symlinks to this program), so the bench learns the
 * exact CPU time and peak memory of every child vidpipe starts, however short-lived: it runs the
 * real binary as its child, waits for it with wait4() and appends one line to $BENCH_EXEC_LOG:
 *
 *   start_ms \t end_ms \t user_us \t sys_us \t maxrss_kib \t status \t tool \t arg1 \x1f arg2 …
 *
 * The real binary is $BENCH_REAL_FFMPEG or $BENCH_REAL_FFPROBE, chosen by the name this program
 * was started under. Signals are passed on to the child, the child dies with this process
 * (PR_SET_PDEATHSIG), and the exit status (or the signal) is the child's. Cost: one fork and one
 * exec per child, about a millisecond.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child = -1;

static void forward(int sig) {
  if (child > 0) kill(child, sig);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends `text` to the line, turning tabs and line breaks into spaces so one line stays one record. */
static size_t put(char *line, size_t at, size_t cap, const char *text) {
  for (; *text && at + 1 < cap; text++) line[at++] = (*text == '\t' || *text == '\n' || *text == '\r') ? ' ' : *text;
  line[at] = '\0';
  return at;
}

int main(int argc, char **argv) {
  const char *name = strrchr(argv[0], '/');
  name = name ? name + 1 : argv[0];
  const char *real = getenv(strstr(name, "ffprobe") ? "BENCH_REAL_FFPROBE" : "BENCH_REAL_FFMPEG");
  if (!real || !*real) {
    fprintf(stderr, "exec-log: BENCH_REAL_FFMPEG / BENCH_REAL_FFPROBE is not set\n");
    return 127;
  }
  long long start = now_ms();
  child = fork();
  if (child < 0) {
    perror("exec-log: fork");
    return 127;
  }
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    argv[0] = (char *)real;
    execv(real, argv);
    perror("exec-log: exec");
    _exit(127);
  }
  int signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof signals / sizeof *signals; i++) signal(signals[i], forward);

  int status = 0;
  struct rusage usage;
  while (wait4(child, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      perror("exec-log: wait4");
      return 127;
    }
  }
  long long end = now_ms();

  const char *log = getenv("BENCH_EXEC_LOG");
  if (log && *log) {
    static char line[16384];
    int n = snprintf(line, sizeof line, "%lld\t%lld\t%lld\t%lld\t%ld\t%d\t%s\t", start, end,
                     (long long)usage.ru_utime.tv_sec * 1000000 + usage.ru_utime.tv_usec,
                     (long long)usage.ru_stime.tv_sec * 1000000 + usage.ru_stime.tv_usec, usage.ru_maxrss,
                     WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status), strstr(name, "ffprobe") ? "ffprobe" : "ffmpeg");
    size_t at = n > 0 ? (size_t)n : 0;
    for (int i = 1; i < argc && at + 2 < sizeof line; i++) {
      if (i > 1) line[at++] = '\x1f';
      at = put(line, at, sizeof line - 1, argv[i]);
    }
    line[at++] = '\n';
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
      /* One write per record: O_APPEND keeps concurrent children's lines whole. */
      ssize_t written = write(fd, line, at);
      (void)written;
      close(fd);
    }
  }
  if (WIFSIGNALED(status)) {
    signal(WTERMSIG(status), SIG_DFL);
    raise(WTERMSIG(status));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
