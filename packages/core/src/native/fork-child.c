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
long readlink(const char *, char *, unsigned long);
long read(int, void *, unsigned long);
long syscall(long, ...);

/* plan: head */
#define P_FLAGS 0
#define P_PARENT 1
/* plan[P_NCLOSE] ranges [first, last] of descriptors to close follow the head, two words each, in order */
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
/* close_range(2), Linux 5.9+ (the same number on x86_64 and aarch64) */
#define SYS_CLOSE_RANGE 436

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

/* Closes descriptors first..last: one system call where close_range(2) exists. */
static void close_fds(int first, int last) {
  int fd;
  if (syscall(SYS_CLOSE_RANGE, (unsigned int)first, (unsigned int)last, 0U) == 0) return;
  for (fd = first; fd <= last; fd++) close(fd);
}

/* Whether fd is in one of the n ranges at r ([first, last] pairs). */
static int in_ranges(int fd, const int *r, int n) {
  int i;
  for (i = 0; i < n; i++)
    if (fd >= r[2 * i] && fd <= r[2 * i + 1]) return 1;
  return 0;
}

/*
 * The isolation plan, made in the parent (issue #23): what epoll.ts
 * planIsolation computes from /proc, without a JavaScript string or object
 * per descriptor (each one a page the parent writes, and copies again after
 * the next fork). Parent-only: a child never calls it.
 */

/* struct linux_dirent64: d_ino, d_off, d_reclen, d_type, then the name. */
#define DIRENT_RECLEN 16
#define DIRENT_NAME 19
#ifdef __x86_64__
#define SYS_GETDENTS64 217
#elif defined(__aarch64__)
#define SYS_GETDENTS64 61
#endif

/*
 * A directory read with getdents64 into a buffer on the caller's stack:
 * opendir's 32 KiB buffer came from malloc, and static memory here is heap
 * memory of the runtime too: pages the parent wrote again after every fork
 * (#23).
 */
struct walk {
  int fd;
  long len, at;
  long buf[256];
};

/* Opens `path` for walk_next; -1 when it cannot be read. */
static int walk_open(struct walk *w, const char *path) {
#ifdef SYS_GETDENTS64
  w->fd = open(path, O_CLOEXEC_);
  w->len = w->at = 0;
  return w->fd;
#else
  return -1;
#endif
}

/* The next entry (its inode number first, its name at DIRENT_NAME), or 0 at the end or on an error. */
static const char *walk_next(struct walk *w) {
  for (;;) {
    if (w->at < w->len) {
      const char *d = (const char *)w->buf + w->at;
      w->at += *(const unsigned short *)(d + DIRENT_RECLEN);
      return d;
    }
#ifdef SYS_GETDENTS64
    w->len = syscall(SYS_GETDENTS64, w->fd, w->buf, sizeof w->buf);
#endif
    w->at = 0;
    if (w->len <= 0) return 0;
  }
}
/* Largest fdinfo read (an epoll instance's lists every registration, ~100 bytes each). */
#define INFO_MAX 65536
static char info[INFO_MAX + 1];

/* "/proc/self/<dir>/<n><tail>" into buf. */
static void proc_path(char *buf, const char *dir, int n, const char *tail) {
  char digits[12];
  int len = 0, i = 0;
  const char *head = "/proc/self/";
  while (*head) buf[i++] = *head++;
  while (*dir) buf[i++] = *dir++;
  buf[i++] = '/';
  do digits[len++] = (char)('0' + n % 10); while ((n /= 10) > 0);
  while (len > 0) buf[i++] = digits[--len];
  while (*tail) buf[i++] = *tail++;
  buf[i] = 0;
}

static int starts_with(const char *s, const char *prefix) {
  while (*prefix) if (*s++ != *prefix++) return 0;
  return 1;
}

/* What descriptor fd is: 1 epoll, 2 eventfd, 3 timerfd, 4 anything else, 0 closed here. */
static int kind_of(int fd) {
  char path[48], target[64];
  long n;
  proc_path(path, "fd", fd, "");
  n = readlink(path, target, sizeof target - 1);
  if (n <= 0) return 0;
  target[n] = 0;
  if (starts_with(target, "anon_inode:[eventpoll]")) return 1;
  if (starts_with(target, "anon_inode:[eventfd]")) return 2;
  if (starts_with(target, "anon_inode:[timerfd]")) return 3;
  return 4;
}

#ifdef __x86_64__
#define SYS_FSTAT 5
#elif defined(__aarch64__)
#define SYS_FSTAT 80
#endif

/* The device of anonymous-inode descriptors (epoll, eventfd, timerfd), learned once from an eventfd; 0: unknown. */
static unsigned long anon_dev;
static int anon_known;

/* st_dev of fd (struct stat's first field on x86_64 and aarch64), or 0 when it cannot be read. */
static unsigned long dev_of(int fd) {
#ifdef SYS_FSTAT
  unsigned long st[32];
  if (syscall(SYS_FSTAT, fd, st) != 0) return 0;
  return st[0];
#else
  return 0;
#endif
}

/*
 * Whether fd may be an epoll instance, an eventfd or a timerfd: not when it
 * is no anonymous inode (a file, a socket, a pipe, a pidfd), as one fstat
 * tells, which costs a fraction of kind_of's readlink (#23: a parent with
 * 800 files open took 4.5 ms a start + join against 1.8 ms, a readlink per
 * descriptor per fork).
 */
static int maybe_anon(int fd) {
  unsigned long dev;
  if (!anon_known) {
    int e = eventfd(0, O_CLOEXEC_);
    anon_known = 1;
    if (e >= 0) {
      anon_dev = dev_of(e);
      close(e);
    }
  }
  if (anon_dev == 0) return 1;
  dev = dev_of(fd);
  return dev == 0 || dev == anon_dev;
}

/* Reads /proc/self/fdinfo/<fd> into info; its length, or -1 (unreadable, or larger than INFO_MAX). */
static long read_info(int fd) {
  char path[48];
  long len = 0, n;
  int f;
  proc_path(path, "fdinfo", fd, "");
  f = open(path, O_CLOEXEC_);
  if (f < 0) return -1;
  while (len < INFO_MAX && (n = read(f, info + len, INFO_MAX - len)) > 0) len += n;
  close(f);
  if (len >= INFO_MAX) return -1;
  info[len] = 0;
  return len;
}

/* Parses a hexadecimal or decimal number at *pp after skipping blanks; advances *pp. */
static unsigned long long number(const char **pp, int base) {
  const char *p = *pp;
  unsigned long long v = 0;
  while (*p == ' ' || *p == '\t') p++;
  for (;; p++) {
    int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : 99;
    if (d >= base) break;
    v = v * base + d;
  }
  *pp = p;
  return v;
}

/* The number after `key` on the line that starts with it, in `base`; -1 when there is no such line. */
static long long field(const char *text, const char *key, int base) {
  const char *p = text;
  int klen = 0;
  while (key[klen]) klen++;
  while (*p) {
    if (starts_with(p, key)) {
      p += klen;
      return (long long)number(&p, base);
    }
    while (*p && *p != '\n') p++;
    if (*p) p++;
  }
  return -1;
}

/*
 * Writes the plan's loops ([epfd, flags, nRegs, then RegField's seven words
 * per registration] per epoll instance) at `loops`, at most `cap` words.
 * Returns the number of loops, or -1 when something could not be read or
 * did not fit (the caller then plans in JavaScript). Keep in step with
 * epoll.ts planIsolation. Descriptors in the `nskip` ranges at `skip` are not
 * looked at (a readlink each: a parent with hundreds of unclosed Process
 * objects spent most of its fork there).
 */
int mp_plan_isolation(int *loops, int cap, const int *skip, int nskip) {
  struct walk w;
  const char *entry;
  int used = 0, nloops = 0;
  if (walk_open(&w, "/proc/self/fd") < 0) return -1;
  while ((entry = walk_next(&w)) != 0) {
    const char *name = entry + DIRENT_NAME, *p;
    int epfd = 0, *head, nregs = 0;
    if (*name < '0' || *name > '9') continue;
    p = name;
    epfd = (int)number(&p, 10);
    /* The child closes these (the library's own: pidfds, start slots), and none is an event loop. */
    if (in_ranges(epfd, skip, nskip) || !maybe_anon(epfd) || kind_of(epfd) != 1) continue;
    if (read_info(epfd) < 0 || used + 3 > cap) goto full;
    head = loops + used;
    head[0] = epfd;
    {
      long long flags = field(info, "flags:", 8);
      head[1] = flags < 0 ? 0 : (int)flags;
    }
    used += 3;
    /* The registrations, "tfd: <fd> events: <hex> data: <hex>" lines, copied out before info is reused. */
    for (p = info; *p;) {
      if (starts_with(p, "tfd:")) {
        int *r;
        unsigned long long data;
        if (used + R_SIZE > cap) goto full;
        r = loops + used;
        p += 4;
        r[R_FD] = (int)number(&p, 10);
        while (*p == ' ' || *p == '\t') p++;
        if (!starts_with(p, "events:")) goto full;
        p += 7;
        r[R_EVENTS] = (int)(unsigned int)number(&p, 16);
        while (*p == ' ' || *p == '\t') p++;
        if (!starts_with(p, "data:")) goto full;
        p += 5;
        data = number(&p, 16);
        r[R_DATA_LO] = (int)(unsigned int)data;
        r[R_DATA_HI] = (int)(unsigned int)(data >> 32);
        used += R_SIZE;
        nregs++;
      }
      while (*p && *p != '\n') p++;
      if (*p) p++;
    }
    /* Now each registration's kind, flags and clock (this reads other fdinfo files into info). */
    {
      int j, kept = 0;
      int *regs = head + 3;
      for (j = 0; j < nregs; j++) {
        int *r = regs + j * R_SIZE, fd = r[R_FD], kind = maybe_anon(fd) ? kind_of(fd) : 4, action;
        /* As planIsolation: closed here, nested loops, our stdout and stderr are left alone. */
        if (kind == 0 || kind == 1 || fd == 1 || fd == 2) continue;
        action = kind == 2 ? A_EVENTFD : kind == 3 ? A_TIMERFD : fd == 0 ? A_DEVNULL : A_DEAD;
        r[R_ACTION] = action;
        r[R_FLAGS] = 0;
        r[R_CLOCK] = 0;
        if (action == A_EVENTFD || action == A_TIMERFD) {
          long long flags, clock;
          if (read_info(fd) < 0) goto full;
          flags = field(info, "flags:", 8);
          r[R_FLAGS] = flags < 0 ? 0 : (int)flags;
          if (action == A_TIMERFD) {
            clock = field(info, "clockid:", 10);
            r[R_CLOCK] = clock < 0 ? 1 : (int)clock;
          }
        }
        if (kept != j) {
          int k;
          for (k = 0; k < R_SIZE; k++) regs[kept * R_SIZE + k] = r[k];
        }
        kept++;
      }
      head[2] = kept;
      used = (int)(regs - loops) + kept * R_SIZE;
    }
    nloops++;
  }
  close(w.fd);
  return nloops;
full:
  close(w.fd);
  return -1;
}

/*
 * The threads the last count looked at: tid, inode of its /proc entry (a new
 * thread that reuses a tid has another), whether it had the name, and when it
 * was first seen. A thread's name is read again until it was seen a second
 * ago: a new thread has its maker's name until it sets its own (threads.ts).
 * Reading each thread's comm before every fork cost most of a fork's
 * preparation (#23). Written only when something changed: each page written
 * is one the parent copies again after its next fork.
 */
#define TIDS_MAX 64
#define SETTLED_NS 1000000000L
struct seen_thread {
  unsigned long ino;
  long first;
  int tid;
  int named;
};
static struct seen_thread seen[TIDS_MAX];
static int nseen;
static char seen_name[32];

struct mp_timespec {
  long sec;
  long nsec;
};
int clock_gettime(int, struct mp_timespec *);

static long monotonic_ns(void) {
  struct mp_timespec t;
  if (clock_gettime(1 /* CLOCK_MONOTONIC */, &t) != 0) return 0;
  return t.sec * 1000000000L + t.nsec;
}

/* Whether thread tid's comm is `name` (with its newline); 0 when it ended. */
static int comm_is(int tid, const char *name) {
  char path[64], comm[32];
  long n;
  int f, i;
  proc_path(path, "task", tid, "/comm");
  f = open(path, O_CLOEXEC_);
  if (f < 0) return 0;
  n = read(f, comm, sizeof comm - 1);
  close(f);
  if (n <= 0) return 0;
  comm[n] = 0;
  for (i = 0; name[i] && comm[i] == name[i]; i++) {
  }
  return name[i] == 0 && comm[i] == 0;
}

/*
 * How many threads of this process other than `skip` have `name` (with its
 * newline) in /proc/self/task/<tid>/comm: threads.ts workerThreadCount, which
 * runs before every fork, without a string per thread. -1 when the listing
 * cannot be read. Parent-only.
 */
int mp_count_threads_named(const char *name, int skip) {
  struct walk w;
  struct seen_thread now_seen[TIDS_MAX];
  const char *entry;
  long now = monotonic_ns();
  int count = 0, n = 0, i, same, changed;
  /* The names seen are for one name: another (or one too long to keep) starts over. */
  for (i = 0; i < (int)sizeof seen_name - 1 && name[i] && name[i] == seen_name[i]; i++) {
  }
  same = name[i] == 0 && seen_name[i] == 0;
  if (!same) {
    nseen = 0;
    for (i = 0; name[i] && i < (int)sizeof seen_name - 1; i++) seen_name[i] = name[i];
    seen_name[i] = 0;
  }
  if (walk_open(&w, "/proc/self/task") < 0) return -1;
  while ((entry = walk_next(&w)) != 0) {
    const char *p = entry + DIRENT_NAME;
    unsigned long ino = *(const unsigned long *)entry;
    int tid, named = -1, j;
    long first = now;
    if (*p < '0' || *p > '9') continue;
    tid = (int)number(&p, 10);
    if (tid == skip) continue;
    for (j = 0; j < nseen; j++) {
      if (seen[j].tid != tid || seen[j].ino != ino) continue;
      first = seen[j].first;
      if (now - first >= SETTLED_NS) named = seen[j].named;
      break;
    }
    if (named < 0) named = comm_is(tid, name);
    count += named;
    if (n < TIDS_MAX) {
      now_seen[n].tid = tid;
      now_seen[n].ino = ino;
      now_seen[n].named = named;
      now_seen[n].first = first;
      n++;
    }
  }
  close(w.fd);
  changed = n != nseen;
  for (i = 0; i < n && !changed; i++)
    changed = now_seen[i].tid != seen[i].tid || now_seen[i].ino != seen[i].ino || now_seen[i].named != seen[i].named ||
              now_seen[i].first != seen[i].first;
  if (changed) {
    for (i = 0; i < n; i++) seen[i] = now_seen[i];
    nseen = n;
  }
  return count;
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
  if (isolate(closing + 2 * plan[P_NCLOSE], plan[P_NLOOPS], out) == 0) {
    for (i = 0; i < plan[P_NCLOSE]; i++) close_fds(closing[2 * i], closing[2 * i + 1]);
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
