/* trace-steps OUT CMD ARGS...: runs CMD (an absolute path) single-stepped, with every process
 * it forks, until each one exits or executes another program, and writes to OUT each distinct
 * instruction address of CMD's program once, in the order first executed. For
 * scripts/startup-order.sh; a process the command leaves behind (create's init, waiting for
 * start) is let go when the command exits. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define SLOTS (1u << 22) /* addresses seen: an open-addressing set, far from full */
#define MAX_TRACED 64

static uint64_t *seen;
static pid_t traced[MAX_TRACED];
static int ntraced;

static int first_time(uint64_t v) {
  for (uint64_t h = (v * 0x9E3779B97F4A7C15ull) >> 42;; h++) {
    h &= SLOTS - 1;
    if (seen[h] == v) return 0;
    if (!seen[h]) {
      seen[h] = v;
      return 1;
    }
  }
}

static void remember(pid_t p) {
  for (int i = 0; i < ntraced; i++)
    if (traced[i] == p) return;
  if (ntraced < MAX_TRACED) traced[ntraced++] = p;
}

static void forget(pid_t p) {
  for (int i = 0; i < ntraced; i++)
    if (traced[i] == p) traced[i] = traced[--ntraced];
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s OUT CMD [ARG...]\n", argv[0]);
    return 2;
  }
  seen = calloc(SLOTS, sizeof *seen);
  FILE *out = fopen(argv[1], "w");
  if (!seen || !out) {
    perror("trace-steps");
    return 1;
  }
  pid_t cmd = fork();
  if (cmd == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    execv(argv[2], argv + 2);
    _exit(127);
  }
  int st, execs = 0, done = 0;
  waitpid(cmd, &st, 0);
  ptrace(PTRACE_SETOPTIONS, cmd, 0,
         PTRACE_O_EXITKILL | PTRACE_O_TRACEFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC);
  ptrace(PTRACE_CONT, cmd, 0, 0); /* up to CMD's exec */
  for (;;) {
    pid_t p = waitpid(-1, &st, __WALL);
    if (p < 0) break;
    if (p == cmd && !WIFSTOPPED(st)) {
      /* Stop and let go of the rest; SIGCONT drops the SIGSTOP that made them stop. */
      done = 1;
      for (int i = 0; i < ntraced; i++) kill(traced[i], SIGSTOP);
      if (!ntraced) break;
      continue;
    }
    if (done || !WIFSTOPPED(st)) {
      if (done && WIFSTOPPED(st)) ptrace(PTRACE_DETACH, p, 0, 0);
      if (done) kill(p, SIGCONT);
      forget(p);
      if (done && !ntraced) break;
      continue;
    }
    if (p != cmd) remember(p);
    int sig = WSTOPSIG(st), event = st >> 16;
    if (event == PTRACE_EVENT_EXEC) {
      if (p == cmd && execs++ == 0) {
        ptrace(PTRACE_SINGLESTEP, p, 0, 0);
      } else { /* another program now */
        ptrace(PTRACE_DETACH, p, 0, 0);
        forget(p);
      }
      continue;
    }
    if (event || sig == SIGTRAP || sig == SIGSTOP) sig = 0;
    struct user_regs_struct r;
    if (ptrace(PTRACE_GETREGS, p, 0, &r) == 0 && first_time(r.rip))
      fprintf(out, "%llx\n", (unsigned long long)r.rip);
    ptrace(PTRACE_SINGLESTEP, p, 0, sig);
  }
  return fclose(out) == 0 ? 0 : 1;
}
