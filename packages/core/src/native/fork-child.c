/*
 * fork(2) and a fork child's system-call set-up in one C function (issue #23),
 * compiled at run time by bun:ffi's built-in TinyCC (`cc`), so no compiler is
 * needed on the user's machine. A child's JavaScript writes copy-on-write
 * pages of the parent's heap; this does the child's pure system-call work
 * before any JavaScript runs there. The layout of `plan` and `out` is written
 * down in fork-child.ts (PlanHead, Out, RegField), which must match this file.
 *
 * No #include: the declarations below are the glibc ABI, so a machine without
 * C headers can compile this too.
 */
int fork(void);
void _exit(int);
int getpid(void);
int getppid(void);
int close(int);
int dup3(int, int, int);
int open(const char *, int, ...);
int socket(int, int, int);
int epoll_create1(int);
int epoll_ctl(int, int, int, void *);
int eventfd(unsigned int, int);
int timerfd_create(int, int);
int timerfd_gettime(int, void *);
int timerfd_settime(int, int, const void *, void *);
int sigaction(int, const void *, void *);
int sigprocmask(int, const void *, void *);
int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long);
int *__errno_location(void);
long getrandom(void *, unsigned long, unsigned int);

/* plan: head */
#define P_FLAGS 0
#define P_PARENT 1
#define P_NCLOSE 2
#define P_NLOOPS 3
#define P_HEAD 4
/* plan flags */
#define F_DAEMON 1
#define F_ANNOUNCE 2
/* plan: one registration */
#define R_FD 0
#define R_ACTION 1
#define R_FLAGS 2
#define R_EVENTS 3
#define R_DATA_LO 4
#define R_DATA_HI 5
#define R_CLOCK 6
#define R_SIZE 7
/* registration actions (fork-child.ts Action) */
#define A_EVENTFD 0
#define A_TIMERFD 1
#define A_DEAD 2
#define A_DEVNULL 3
/* out */
#define O_PID 0
#define O_FAILED_STEP 1
#define O_ERRNO 2
#define O_SEED 3
/* failed steps (fork-child.ts FailedStep) */
#define S_EPOLL 1
#define S_EVENTFD 2
#define S_TIMERFD 3
#define S_DUP 4
#define S_EPOLL_CTL 5
#define S_SOCKET 6
#define S_DEVNULL 7

#define O_NONBLOCK_ 04000
#define O_CLOEXEC_ 02000000
#define EPOLL_CTL_ADD 1
#define PR_SET_PDEATHSIG 1
#define SIGKILL 9
#define SIG_BLOCK 0
#define SIG_SETMASK 2
/* glibc's struct sigaction: handler, 128-byte mask, flags, restorer */
#define SIGACTION_WORDS 19
/* glibc's sigset_t: 1024 bits */
#define SIGSET_WORDS 16

/* Must match signals.ts RESET: the signals a process is asked to end or stop with. */
static const int RESET[] = {1, 2, 3, 10, 12, 14, 15, 17, 20, 21, 22, 28};
#define NRESET 12

static int fail(int *out, int step) {
  out[O_FAILED_STEP] = step;
  out[O_ERRNO] = *__errno_location();
  return -1;
}

static int put_on(int fresh, int target, int flags) {
  if (dup3(fresh, target, flags & O_CLOEXEC_) < 0) return -1;
  close(fresh);
  return 0;
}

/* A fresh epoll instance per inherited one, as epoll.ts applyIsolation does. */
static int isolate(const int *p, int nloops, int *out) {
  int dead = -1, devnull = -1, i, j;
  for (i = 0; i < nloops; i++) {
    int epfd = p[0], eflags = p[1], nregs = p[2];
    int fresh = epoll_create1(eflags & O_CLOEXEC_);
    if (fresh < 0) return fail(out, S_EPOLL);
    p += 3;
    for (j = 0; j < nregs; j++, p += R_SIZE) {
      int fd = p[R_FD], action = p[R_ACTION], flags = p[R_FLAGS];
      if (action == A_EVENTFD || action == A_TIMERFD) {
        unsigned char event[16];
        unsigned int events = (unsigned int)p[R_EVENTS];
        unsigned int lo = (unsigned int)p[R_DATA_LO], hi = (unsigned int)p[R_DATA_HI];
        int at, k, made;
        if (action == A_EVENTFD) {
          made = eventfd(0, flags & (O_NONBLOCK_ | O_CLOEXEC_));
          if (made < 0) return fail(out, S_EVENTFD);
        } else {
          long spec[4];
          made = timerfd_create(p[R_CLOCK], flags & (O_NONBLOCK_ | O_CLOEXEC_));
          if (made < 0) return fail(out, S_TIMERFD);
          /* Time left and interval: the child's timer fires when the parent's would have. */
          if (timerfd_gettime(fd, spec) == 0) timerfd_settime(made, 0, spec, 0);
        }
        if (put_on(made, fd, flags) < 0) return fail(out, S_DUP);
        /* struct epoll_event is packed (12 bytes) on x86_64, naturally aligned elsewhere. */
#ifdef __x86_64__
        at = 4;
#else
        at = 8;
#endif
        for (k = 0; k < 4; k++) {
          event[k] = (unsigned char)(events >> (8 * k));
          event[at + k] = (unsigned char)(lo >> (8 * k));
          event[at + 4 + k] = (unsigned char)(hi >> (8 * k));
        }
        if (epoll_ctl(fresh, EPOLL_CTL_ADD, fd, event) != 0) return fail(out, S_EPOLL_CTL);
      } else if (action == A_DEVNULL) {
        if (devnull < 0) devnull = open("/dev/null", O_CLOEXEC_);
        if (devnull < 0) return fail(out, S_DEVNULL);
        if (dup3(devnull, 0, 0) < 0) return fail(out, S_DUP);
      } else {
        if (dead < 0) dead = socket(1 /* AF_UNIX */, 1 /* SOCK_STREAM */ | O_CLOEXEC_, 0);
        if (dead < 0) return fail(out, S_SOCKET);
        if (dead != fd && dup3(dead, fd, O_CLOEXEC_) < 0) return fail(out, S_DUP);
      }
    }
    if (put_on(fresh, epfd, eflags) < 0) return fail(out, S_DUP);
  }
  if (dead >= 0) close(dead);
  if (devnull >= 0) close(devnull);
  return 0;
}

/* signals.ts resetCaughtSignals + unblockAllSignals. */
static void default_signals(void) {
  unsigned long old[SIGACTION_WORDS], dfl[SIGACTION_WORDS], none[SIGSET_WORDS];
  int i;
  for (i = 0; i < SIGACTION_WORDS; i++) dfl[i] = 0;
  for (i = 0; i < SIGSET_WORDS; i++) none[i] = 0;
  for (i = 0; i < NRESET; i++) {
    if (sigaction(RESET[i], 0, old) != 0) continue;
    if (old[0] == 0 /* SIG_DFL */ || old[0] == 1 /* SIG_IGN */) continue;
    sigaction(RESET[i], dfl, 0);
  }
  sigprocmask(SIG_SETMASK, none, 0);
}

/*
 * Forks. Parent: returns the child's pid, or -errno. Child: sets itself up as
 * `plan` says and returns 0; a failed step is left in `out` for JavaScript to
 * report. `started` is the child's start word (start-flags.ts), written when
 * the plan asks (only when the parent does not sleep on it: no wake needed).
 */
int mp_fork_child(const int *plan, int *out, volatile int *started) {
  unsigned long block[SIGSET_WORDS], old[SIGSET_WORDS];
  const int *closing = plan + P_HEAD;
  int i, pid;
  for (i = 0; i < SIGSET_WORDS; i++) block[i] = 0;
  /* Blocked across fork: one sent before the child reset its handlers waits for the default action. */
  for (i = 0; i < NRESET; i++) block[(RESET[i] - 1) >> 6] |= 1UL << ((RESET[i] - 1) & 63);
  sigprocmask(SIG_BLOCK, block, old);
  pid = fork();
  if (pid != 0) {
    int e = *__errno_location();
    sigprocmask(SIG_SETMASK, old, 0);
    return pid > 0 ? pid : -e;
  }
  out[O_PID] = getpid();
  out[O_FAILED_STEP] = 0;
  /* Math.random's new seed; GRND_NONBLOCK: the pool is long initialised, and a miss keeps the pid as seed. */
  if (getrandom(out + O_SEED, 4, 1) != 4) out[O_SEED] = out[O_PID];
  /* Isolation first: a sibling's exit pipe the parent reads asynchronously is registered, becomes a dead socket, then closes. */
  if (isolate(closing + plan[P_NCLOSE], plan[P_NLOOPS], out) == 0) {
    for (i = 0; i < plan[P_NCLOSE]; i++) close(closing[i]);
    default_signals();
    /* Python's rule: a daemon child ends with its parent, and at once when it is already gone. */
    if (plan[P_FLAGS] & F_DAEMON) {
      prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      if (getppid() != plan[P_PARENT]) _exit(1);
    }
    if (plan[P_FLAGS] & F_ANNOUNCE) *started = 1;
  }
  return 0;
}
