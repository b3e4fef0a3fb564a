/*
 * The readable watcher's thread (wake-on-readable.ts): poll(2) on the
 * descriptors async waiters of this process wait on, and on the table's
 * eventfd; when one is readable (or hung up, or closed under it), bump the
 * table's WAKE word and futex-wake it, then sleep on the eventfd alone until
 * the main thread has looked (any write to the eventfd re-arms it), so a
 * descriptor that stays readable cannot make it spin.
 *
 * Plain C and system calls only: no allocation, no lock, no JavaScript, so a
 * fork(2) of the process while this thread polls leaves the child nothing
 * held (the child has no such thread, and falls back to polling).
 *
 * No #include: the declarations below are the glibc ABI, so a machine without
 * C headers compiles it (bun:ffi's TinyCC).
 */
int poll(void *, unsigned long, int);
long read(int, void *, unsigned long);
long syscall(long, ...);
int pthread_create(unsigned long *, const void *, void *(*)(void *), void *);
int pthread_detach(unsigned long);
int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long);
int *__errno_location(void);

/* Table words (Int32), as wake-on-readable.ts lays them out. */
#define WAKE 0
#define COUNT 1
#define EVENTFD 2
#define FAILED 3
#define FDS 5
#define MAX_FDS 1019

#define POLLIN 0x001
#define EINTR 4
#define PR_SET_NAME 15
#define FUTEX_WAKE 1
#if defined(__x86_64__)
#define SYS_futex 202
#else
#define SYS_futex 98
#endif

struct pollfd {
  int fd;
  short events;
  short revents;
};

/* This thread alone writes WAKE; the futex call orders the store before the wake-up. */
static void wake(volatile int *table) {
  table[WAKE] = table[WAKE] + 1;
  syscall(SYS_futex, &table[WAKE], FUTEX_WAKE, 0x7fffffff, 0, 0, 0);
}

/* Waits for the eventfd alone and empties it: the main thread changed the table or looked. */
static int await_control(volatile int *table, struct pollfd *polled) {
  unsigned long long value;
  polled[0].fd = table[EVENTFD];
  polled[0].events = POLLIN;
  for (;;) {
    int r = poll(polled, 1, -1);
    if (r > 0) break;
    if (r < 0 && *__errno_location() != EINTR) return -1;
  }
  read(table[EVENTFD], &value, sizeof value);
  return 0;
}

static void *watch(void *arg) {
  volatile int *table = arg;
  /* On this thread's stack: each realm that loads the module runs its own thread on the same code. */
  struct pollfd polled[MAX_FDS + 1];
  prctl(PR_SET_NAME, (unsigned long)"multiproc-fds", 0, 0, 0);
  for (;;) {
    int count = table[COUNT];
    if (count > MAX_FDS) count = MAX_FDS;
    polled[0].fd = table[EVENTFD];
    polled[0].events = POLLIN;
    polled[0].revents = 0;
    for (int i = 0; i < count; i++) {
      polled[i + 1].fd = table[FDS + i];
      polled[i + 1].events = POLLIN;
      polled[i + 1].revents = 0;
    }
    int r = poll(polled, count + 1, -1);
    if (r < 0) {
      if (*__errno_location() == EINTR) continue;
      break;
    }
    if (polled[0].revents != 0) {
      unsigned long long value;
      read(table[EVENTFD], &value, sizeof value);
      continue;
    }
    /* POLLIN, POLLHUP, POLLERR or POLLNVAL (closed while watched): the waiters look. */
    wake(table);
    if (await_control(table, polled) != 0) break;
  }
  table[FAILED] = *__errno_location();
  wake(table);
  return 0;
}

/* Starts the thread on `table` (which must live as long as the process); returns 0 or an errno. */
int mp_watch_readable(int *table) {
  unsigned long thread;
  int e = pthread_create(&thread, 0, watch, table);
  if (e != 0) return e;
  pthread_detach(thread);
  return 0;
}
