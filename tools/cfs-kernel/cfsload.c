/*
 * cfsload -- measure how the Linux kernel's CFS bandwidth control (the CPU
 * quota the kubelet sets for a container CPU limit) affects request latency.
 *
 * Build:  gcc -O2 -Wall -Wextra -pthread -o cfsload cfsload.c
 *
 * Usage:
 *   cfsload --out RESULT.json [--cpus LIST] [--settle-ms N] [--end-ms N]
 *           [--max-drain-ms N] [--phase-us P] [--parent-shares N] [--no-rt]
 *           [--phase-frac F] [--gaps] [--no-calibrate] [--burn syscall|vdso]
 *           --pod SPEC [--pod SPEC ...]
 *   cfsload --check      (is a cpu cgroup writable here? exit 0 or 77)
 *   cfsload --help
 *
 * SPEC is a comma-separated list of key=value:
 *   name=NAME         pod name, [A-Za-z0-9_.-], at most 32 characters (required)
 *   arrivals=FILE     the pod's requests (required), one per line
 *                     "ARRIVAL_US CPU_US": arrival time in microseconds from the
 *                     common start and the CPU time the request burns, sorted by
 *                     arrival; blank lines and lines starting with '#' ignored
 *   workers=N         worker threads, the pod's concurrency (default 1)
 *   quota_us=Q        CFS quota per period; -1 or absent = no limit
 *   period_us=P       CFS period (default 100000)
 *   shares=S          cpu.shares (v1, default 1024); on cgroup v2 converted to
 *                     cpu.weight = 1 + (S - 2) * 9999 / 262142 (runc's formula)
 *   weight=W          cpu.weight to use on v2 instead of the converted shares
 *
 * --cpus LIST   cpuset (e.g. "0-1" or "1") the pods are restricted to; default:
 *               no restriction (all online CPUs).  A cpuset cgroup is used when
 *               possible, otherwise sched_setaffinity on the server before it
 *               starts its threads; "cpuset_method" in the JSON says which.
 * --settle-ms N idle time between the servers being ready and the
 *               calibration, and again between it and the first cpu.stat
 *               reading (default max(200, 2.5 x the longest period), so that
 *               the period timers have gone idle).
 * --end-ms N    stop the run N ms after the common start, even with replies
 *               outstanding (for saturated cases); arrivals at or after N are
 *               not sent.  Without it the run ends when every reply is in, or
 *               --max-drain-ms (default 30000) after the last arrival.
 * --phase-us P  start the run (t0) P us after a CFS period boundary of the
 *               calibrated pod (below), so that runs are comparable; default:
 *               t0 is about settle + 20 ms after the calibration's boundary,
 *               and "grid_phase_us" says where it fell.
 * --phase-frac F  the same, as a fraction of the calibrated pod's period.
 *               Without a calibrated pod the phase is ignored (with a warning).
 * --no-calibrate  skip the calibration.  Calibration: the kernel keeps each
 *               cgroup's period timer on a fixed grid (it survives the timer
 *               going idle), but its phase cannot be predicted from user space.
 *               Before the run the first pod that can be throttled (0 < quota <
 *               period x min(workers, CPUs)) is sent k = min(workers, CPUs)
 *               requests of 2 x quota / k + 15 ms CPU, which are throttled;
 *               the end of the longest off-CPU gap is a period boundary.  Then
 *               the servers settle again before the run.
 * --parent-shares N  put the pods' cpu cgroups under one parent cgroup
 *               kubesim-cfs-<pid> with cpu.shares N (v2: cpu.weight converted
 *               from N), as the kubelet puts pods under kubepods; a large N
 *               (262144) shields the pods from other load on the host, which
 *               then gets the CPU only when the pods leave it idle.  Default 0:
 *               no parent, the pods' cgroups are children of the root.
 * --no-rt       do not make the load generator and reply reader SCHED_FIFO.
 * --burn MODE   how a worker burns CPU.  syscall (default): spin calling
 *               clock_gettime(CLOCK_THREAD_CPUTIME_ID) -- a system call, in
 *               which the kernel updates the thread's runtime, so the quota is
 *               enforced to the microsecond.  vdso: spin on the vDSO monotonic
 *               clock and check the CPU clock only a few times per request
 *               (when half of the rest should be done); the kernel then
 *               accounts the thread's runtime mostly at its ticks (CONFIG_HZ),
 *               and the cgroup can overrun its quota by up to a tick (paid
 *               back in the next period), as a compute-bound handler would.
 * --gaps        also write "gaps": [[request index, from_us, to_us], ...], the
 *               intervals (> 200 us, at most 16 per request) in which a worker
 *               was off the CPU while burning a request: throttled, or
 *               preempted.  "gaps_total" (their number) is always written.
 * --pin-workers pin worker thread i of a pod to the i-th CPU the pod may use
 *               (when a pod has no more workers than CPUs; other pods are left
 *               alone).  A control for the kernel's wake-up placement: unpinned,
 *               a woken worker sometimes waits a few ms on a CPU another worker
 *               is busy on while the other CPU is idle.  "pin_workers" in the
 *               JSON says whether it was on.
 *
 * Design: one server process per pod is forked and moved (still single
 * threaded) into fresh cgroups kubesim-cfs-<pid>-<pod> (cpu; cpuacct and cpuset
 * on v1 where separate); then it starts `workers` threads that read requests
 * FIFO from a pipe and burn exactly CPU_US of thread CPU time each
 * (CLOCK_THREAD_CPUTIME_ID) and reply on a second pipe with the start and done
 * times.  The main process (the load generator) stays where it was started
 * (outside the pods' cgroups), sends each request at its arrival time
 * (clock_nanosleep TIMER_ABSTIME on CLOCK_MONOTONIC, requests at the same
 * instant back to back), and a reply-reader thread stamps each reply's
 * completion time.  Latency = end - arrival.
 *
 * Output (times in us relative to the common start t0):
 *   {"cgroup": "v1"|"v2", "kernel": ..., "cpus": ..., "pods": [{"name",
 *    "workers", "quota_us", "period_us", "shares", "nr_periods", "nr_throttled",
 *    "throttled_time_us", "cpu_used_us", ..., "requests": [[arrival_us,
 *    start_us, end_us, done_us], ...]}], ...}
 * start_us = when a worker took the request, done_us = when the worker finished
 * burning (before it wrote the reply), end_us = when the reply was read by the
 * generator; -1 for requests not started / not finished when the run ended.
 * cpu.stat counters are differences between a reading after the servers
 * settled and one at the end of the run; the *_tail fields are read again
 * after the servers were stopped and the period timers had time to go idle.
 * Also written: per pod grid_phase_us (how far into its CFS period t0 fell,
 * calibrated pod only), cpu_used_source, send_late_max_us / send_late_p99_us
 * (generator lateness: send time - arrival), requests_sent/_done, gaps_total;
 * top level: calibration, generator_sched, t0_monotonic_ns, end_reason
 * ("all-replies", "end-ms" or "drain-timeout"), wall_us, loadavg and "host"
 * (CPU time of the whole machine over the run from /proc/stat: busy, idle,
 * steal, the generator's own, and other_busy = busy - pods - generator, the
 * load of anything else on the machine).
 *
 * Exit status: 0 ok, 1 error, 2 usage, 77 no writable cpu cgroup (not root,
 * read-only cgroupfs, no cpu controller or no CFS bandwidth control).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PODS 16
#define MAX_CG 3 /* cgroup directories per pod: cpu, cpuacct, cpuset (v1) */
#define NAME_MAX_LEN 32
#define PATHLEN 512
#define ROOTLEN 256 /* cgroup mount points and the parent */

struct reqrec { uint32_t idx; uint32_t cpu_us; };
#define MAX_GAPS 16         /* off-CPU gaps recorded per request */
#define GAP_NS 200000LL     /* a gap is a jump of more than 200 us between two clock reads */
struct reprec {
    uint32_t idx, ngaps;
    int64_t start_ns, done_ns;
    int64_t gap[MAX_GAPS][2]; /* first MAX_GAPS gaps: [from, to) on CLOCK_MONOTONIC */
};
struct gaprec { uint32_t idx; int64_t from_ns, to_ns; };

struct req { int64_t arrival_us; uint32_t cpu_us; };

struct cstat {
    int ok;
    int64_t nr_periods, nr_throttled, throttled_ns, usage_ns;
    int has_usage;
};

struct pod {
    char name[NAME_MAX_LEN + 1];
    int workers;
    long quota_us, period_us, shares, weight;
    int weight_given;
    char arrivals[PATHLEN];
    struct req *reqs;
    size_t nreq;
    /* results, ns relative to t0; -1 = unknown */
    int64_t *send_ns, *start_ns, *done_ns, *end_ns;
    size_t nsent, nreplies;
    struct gaprec *gaps;
    size_t ngaps, gaps_cap, ngaps_total, ntrunc;
    int eof;
    /* process and pipes */
    pid_t pid;
    int req_r, req_w, rep_r, rep_w, go_r, go_w, rdy_r, rdy_w;
    clockid_t proc_clock;
    int have_proc_clock;
    int64_t proc_cpu_before, proc_cpu_after;
    /* cgroups */
    char cg_dir[MAX_CG][PATHLEN];
    char cg_rootprocs[MAX_CG][PATHLEN];
    int cg_made[MAX_CG];
    char cpu_dir[PATHLEN], acct_dir[PATHLEN];
    int acct_kind; /* 0 none, 1 cpuacct.usage in acct_dir, 2 usage_usec in cpu.stat (v2) */
    struct cstat before, after, tail;
    int64_t acct_before, acct_after;
    long grid_phase_us;   /* t0 - period boundary, mod period; -1 unknown */
    int64_t quota_set_ns; /* CLOCK_MONOTONIC when the quota was written */
    int64_t moved_ns;     /* ... when the server was moved into its cgroups */
};

static struct pod pods[MAX_PODS];
static int npods;

/* cgroup environment */
static int cgv;                     /* 1 or 2 */
static char cg_cpu_root[ROOTLEN];   /* v1 cpu hierarchy or v2 mount */
static char cg_acct_root[ROOTLEN];  /* v1 separate cpuacct hierarchy, "" if none */
static int acct_in_cpu;             /* v1: cpuacct co-mounted with cpu */
static char cg_cpuset_root[ROOTLEN];/* v1 cpuset hierarchy or v2 mount; "" if unusable */
static int v2_cpuset_ok;
static char cg_parent[ROOTLEN + 32];    /* parent of the pods' cpu cgroups, "" = the root */
static int parent_made;
static long opt_parent_shares;

static const char *opt_out;
static const char *opt_cpus;
static long opt_settle_ms = -1, opt_end_ms = -1, opt_max_drain_ms = 30000, opt_phase_us = -1;
static int opt_calibrate = 1;
static double opt_phase_frac = -1;
static int burn_vdso_mode;
#define CALIB_IDX 0xfffffff0u
static int opt_rt = 1, opt_gaps;
static cpu_set_t cpus_set;
static const char *cpuset_method = "none";
static int use_affinity;
static int opt_pin_workers;
/* Which CPU a worker pins itself to (--pin-workers). */
struct worker_pin { cpu_set_t allowed; int index; };

static int64_t t0;
static pid_t self_pid;
static volatile int cleaned;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static size_t total_sent, total_replies;
static int gen_done;
static volatile int reader_stop;

/* ---------- small helpers ---------- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t clock_ns(clockid_t c)
{
    struct timespec ts;
    if (clock_gettime(c, &ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
    struct timespec ts;
    ts.tv_sec = t / 1000000000LL;
    ts.tv_nsec = t % 1000000000LL;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void sleep_ms(long ms) { sleep_until(now_ns() + (int64_t)ms * 1000000LL); }

/* async-signal-safe */
static size_t s_len(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

static void s_itoa(long v, char *buf)
{
    char tmp[24];
    int n = 0, neg = v < 0;
    unsigned long u = neg ? (unsigned long)(-(v + 1)) + 1 : (unsigned long)v;
    do { tmp[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    int i = 0;
    if (neg) buf[i++] = '-';
    while (n) buf[i++] = tmp[--n];
    buf[i] = 0;
}

/* write a string to a (cgroup) file; returns 0 or -errno. async-signal-safe */
static int write_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, s, s_len(s));
    int e = n < 0 ? -errno : 0;
    close(fd);
    return e;
}

static int read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got + 1 < cap) {
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            return e;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    buf[got] = 0;
    close(fd);
    return (int)got;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = 0;
}

static int path_exists(const char *p) { struct stat st; return stat(p, &st) == 0; }

static int write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---------- cleanup ---------- */

static void stop_servers(void)
{
    char pidbuf[24];
    for (int i = 0; i < npods; i++) {
        pid_t pid = pods[i].pid;
        if (pid <= 0)
            continue;
        s_itoa(pid, pidbuf);
        for (int c = 0; c < MAX_CG; c++)
            if (pods[i].cg_made[c])
                write_file(pods[i].cg_rootprocs[c], pidbuf); /* move back to the root */
        kill(pid, SIGKILL);
    }
    for (int i = 0; i < npods; i++) {
        pid_t pid = pods[i].pid;
        if (pid <= 0)
            continue;
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        pods[i].pid = 0;
    }
}

static void rmdir_retry(const char *d)
{
    for (int k = 0; k < 200; k++) {
        if (rmdir(d) == 0 || errno == ENOENT)
            break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
}

static void remove_cgroups(void)
{
    for (int i = 0; i < npods; i++)
        for (int c = 0; c < MAX_CG; c++) {
            if (!pods[i].cg_made[c])
                continue;
            rmdir_retry(pods[i].cg_dir[c]);
            pods[i].cg_made[c] = 0;
        }
    if (parent_made) {
        rmdir_retry(cg_parent);
        parent_made = 0;
    }
}

/* returns 0 when another thread is already cleaning up */
static int cleanup_all(void)
{
    if (__atomic_exchange_n(&cleaned, 1, __ATOMIC_SEQ_CST))
        return 0;
    stop_servers();
    remove_cgroups();
    return 1;
}

/* on a fatal error: clean up, or let the thread that is cleaning up finish and exit */
static void cleanup_or_wait(void)
{
    if (getpid() != self_pid)
        return; /* a server process */
    if (!cleanup_all())
        for (;;)
            pause();
}

static void on_signal(int sig)
{
    if (__atomic_load_n(&cleaned, __ATOMIC_SEQ_CST))
        return;
    static const char msg[] = "cfsload: interrupted, cleaning up\n";
    ssize_t r = write(2, msg, sizeof msg - 1);
    (void)r;
    cleanup_all();
    _exit(128 + sig);
}

/* Prints "cfsload: MESSAGE", cleans up, and exits with `status`. */
static void leave(int status, const char *fmt, va_list ap) __attribute__((noreturn));
static void leave(int status, const char *fmt, va_list ap)
{
    fputs("cfsload: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    cleanup_or_wait();
    _exit(status);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    leave(1, fmt, ap);
}

/* No cgroup can be written here: exit 77, the code for "skipped". */
static void skip77(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void skip77(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    leave(77, fmt, ap);
}

static int is_perm(int e) { e = e < 0 ? -e : e; return e == EACCES || e == EPERM || e == EROFS; }

/* ---------- parsing ---------- */

static void usage(FILE *f)
{
    fputs(
"usage: cfsload --out RESULT.json [--cpus LIST] [--settle-ms N] [--end-ms N]\n"
"               [--max-drain-ms N] [--phase-us P] [--parent-shares N] [--no-rt]\n"
"               [--phase-frac F] [--gaps] [--no-calibrate] [--burn syscall|vdso]\n"
"               [--pin-workers]\n"
"               --pod SPEC [--pod SPEC ...]\n"
"       cfsload --check\n"
"\n"
"Runs one server process per pod in a fresh cpu cgroup with the given CFS\n"
"quota/period and shares, sends it the requests of its arrivals file at their\n"
"arrival times from the (unconstrained) main process, and writes every\n"
"request's arrival, start and completion times and the cgroups' cpu.stat\n"
"throttling counters to RESULT.json.  Needs root (creates cgroups).\n"
"\n"
"SPEC: name=NAME,arrivals=FILE[,workers=N][,quota_us=Q][,period_us=P]\n"
"      [,shares=S][,weight=W]\n"
"  quota_us -1 or absent = no limit; period 100000; shares 1024 (v2: cpu.weight\n"
"  converted from shares unless weight= is given).\n"
"  FILE: lines \"ARRIVAL_US CPU_US\" sorted by arrival; '#' comments allowed.\n"
"--cpus LIST     restrict the pods to these CPUs (cpuset cgroup, else affinity)\n"
"--settle-ms N   idle time before the first cpu.stat reading\n"
"                (default max(200, 2.5 x longest period))\n"
"--end-ms N      end the run N ms after the start even with replies outstanding\n"
"--max-drain-ms N  otherwise wait at most N ms after the last arrival (30000)\n"
"--phase-us P    start the run P us after a period boundary of the calibrated pod\n"
"--phase-frac F  the same, as a fraction of that pod's period (0 <= F < 1)\n"
"--no-calibrate  do not locate the period grid with a calibration request\n"
"--parent-shares N  put the pods under a parent cgroup with cpu.shares N\n"
"                (262144 shields them from other load on the host)\n"
"--no-rt         do not run the generator/reply reader as SCHED_FIFO\n"
"--gaps          write each request's off-CPU intervals (> 200 us) too\n"
"--pin-workers   pin a pod's worker i to its i-th CPU (pods with workers <= CPUs)\n"
"--burn MODE     syscall (default): spin on clock_gettime(CLOCK_THREAD_CPUTIME_ID);\n"
"                vdso: spin on the vDSO clock, checking the CPU clock rarely\n"
"--check         only check that a cpu cgroup can be created (exit 0 or 77)\n"
"Exit status: 0 ok, 1 error, 2 usage, 77 cgroups not writable / unsupported.\n",
        f);
}

static long parse_long(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        die("bad number for %s: '%s'", what, s);
    return v;
}

static void parse_pod(const char *spec)
{
    if (npods >= MAX_PODS)
        die("at most %d pods", MAX_PODS);
    struct pod *p = &pods[npods];
    memset(p, 0, sizeof *p);
    p->workers = 1;
    p->quota_us = -1;
    p->period_us = 100000;
    p->shares = 1024;
    char *dup = strdup(spec), *save = NULL;
    for (char *kv = strtok_r(dup, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            die("--pod: expected key=value, got '%s'", kv);
        *eq = 0;
        const char *k = kv, *v = eq + 1;
        if (!strcmp(k, "name")) {
            size_t n = strlen(v);
            if (n == 0 || n > NAME_MAX_LEN)
                die("--pod: name must have 1..%d characters", NAME_MAX_LEN);
            for (size_t i = 0; i < n; i++) {
                char c = v[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '.'))
                    die("--pod: name '%s' may only contain [A-Za-z0-9_.-]", v);
            }
            strcpy(p->name, v);
        } else if (!strcmp(k, "arrivals")) {
            if (strlen(v) >= PATHLEN)
                die("--pod: arrivals path too long");
            strcpy(p->arrivals, v);
        } else if (!strcmp(k, "workers")) {
            p->workers = (int)parse_long(v, "workers");
        } else if (!strcmp(k, "quota_us")) {
            p->quota_us = parse_long(v, "quota_us");
        } else if (!strcmp(k, "period_us")) {
            p->period_us = parse_long(v, "period_us");
        } else if (!strcmp(k, "shares")) {
            p->shares = parse_long(v, "shares");
        } else if (!strcmp(k, "weight")) {
            p->weight = parse_long(v, "weight");
            p->weight_given = 1;
        } else {
            die("--pod: unknown key '%s'", k);
        }
    }
    free(dup);
    if (!p->name[0] || !p->arrivals[0])
        die("--pod needs name= and arrivals=");
    for (int i = 0; i < npods; i++)
        if (!strcmp(pods[i].name, p->name))
            die("duplicate pod name '%s'", p->name);
    if (p->workers < 1 || p->workers > 256)
        die("pod %s: workers must be 1..256", p->name);
    if (p->quota_us < -1 || p->quota_us == 0 || (p->quota_us > 0 && p->quota_us < 1000))
        die("pod %s: quota_us must be -1 or >= 1000", p->name);
    if (p->period_us < 1000 || p->period_us > 1000000)
        die("pod %s: period_us must be 1000..1000000", p->name);
    if (p->shares < 2 || p->shares > 262144)
        die("pod %s: shares must be 2..262144", p->name);
    if (!p->weight_given)
        p->weight = 1 + ((p->shares - 2) * 9999) / 262142;
    if (p->weight < 1 || p->weight > 10000)
        die("pod %s: weight must be 1..10000", p->name);
    npods++;
}

static void load_arrivals(struct pod *p)
{
    FILE *f = fopen(p->arrivals, "r");
    if (!f)
        die("pod %s: cannot open %s: %s", p->name, p->arrivals, strerror(errno));
    size_t cap = 1024;
    p->reqs = malloc(cap * sizeof *p->reqs);
    char line[256];
    long lineno = 0;
    int64_t last = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '#' || *s == '\n' || *s == 0)
            continue;
        long long a, c;
        char extra;
        if (sscanf(s, "%lld %lld %c", &a, &c, &extra) != 2)
            die("%s:%ld: expected \"ARRIVAL_US CPU_US\"", p->arrivals, lineno);
        if (a < 0 || c < 0 || c > 60000000)
            die("%s:%ld: arrival must be >= 0 and CPU 0..60000000 us", p->arrivals, lineno);
        if (a < last)
            die("%s:%ld: arrivals not sorted", p->arrivals, lineno);
        last = a;
        if (p->nreq == cap) {
            cap *= 2;
            p->reqs = realloc(p->reqs, cap * sizeof *p->reqs);
        }
        p->reqs[p->nreq].arrival_us = a;
        p->reqs[p->nreq].cpu_us = (uint32_t)c;
        p->nreq++;
    }
    fclose(f);
    if (p->nreq > UINT32_MAX / 2)
        die("pod %s: too many requests", p->name);
    p->send_ns = malloc((p->nreq + 1) * sizeof(int64_t));
    p->start_ns = malloc((p->nreq + 1) * sizeof(int64_t));
    p->done_ns = malloc((p->nreq + 1) * sizeof(int64_t));
    p->end_ns = malloc((p->nreq + 1) * sizeof(int64_t));
    if (!p->reqs || !p->send_ns || !p->start_ns || !p->done_ns || !p->end_ns)
        die("out of memory");
    for (size_t i = 0; i < p->nreq; i++)
        p->send_ns[i] = p->start_ns[i] = p->done_ns[i] = p->end_ns[i] = -1;
}

static int parse_cpulist(const char *s, cpu_set_t *set)
{
    CPU_ZERO(set);
    const char *q = s;
    if (!*q)
        return -1;
    while (*q) {
        char *end;
        long a = strtol(q, &end, 10), b;
        if (end == q || a < 0 || a >= CPU_SETSIZE)
            return -1;
        b = a;
        q = end;
        if (*q == '-') {
            q++;
            b = strtol(q, &end, 10);
            if (end == q || b < a || b >= CPU_SETSIZE)
                return -1;
            q = end;
        }
        for (long c = a; c <= b; c++)
            CPU_SET((int)c, set);
        if (*q == ',')
            q++;
        else if (*q && *q != '\n')
            return -1;
        else
            break;
    }
    return 0;
}

/* ---------- cgroup detection ---------- */

static int has_word(const char *list, const char *word, const char *seps)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(buf, seps, &save); t; t = strtok_r(NULL, seps, &save))
        if (!strcmp(t, word))
            return 1;
    return 0;
}

static void detect_cgroups(void)
{
    FILE *f = fopen("/proc/self/mounts", "r");
    if (!f)
        skip77("cannot read /proc/self/mounts: %s", strerror(errno));
    char line[2048], v2mnt[ROOTLEN] = "", v1cpu[ROOTLEN] = "", v1acct[ROOTLEN] = "", v1cpuset[ROOTLEN] = "";
    int v1cpu_acct = 0;
    while (fgets(line, sizeof line, f)) {
        char dev[256], mnt[ROOTLEN], type[64], opts[1024];
        if (sscanf(line, "%255s %255s %63s %1023s", dev, mnt, type, opts) != 4)
            continue;
        if (!strcmp(type, "cgroup2") && !v2mnt[0]) {
            char p[PATHLEN + 32], ctl[1024];
            snprintf(p, sizeof p, "%s/cgroup.controllers", mnt);
            if (read_file(p, ctl, sizeof ctl) >= 0 && has_word(ctl, "cpu", " \n"))
                snprintf(v2mnt, sizeof v2mnt, "%s", mnt);
        } else if (!strcmp(type, "cgroup")) {
            if (has_word(opts, "cpu", ",") && !v1cpu[0]) {
                snprintf(v1cpu, sizeof v1cpu, "%s", mnt);
                v1cpu_acct = has_word(opts, "cpuacct", ",");
            } else if (has_word(opts, "cpuacct", ",") && !v1acct[0]) {
                snprintf(v1acct, sizeof v1acct, "%s", mnt);
            }
            if (has_word(opts, "cpuset", ",") && !v1cpuset[0])
                snprintf(v1cpuset, sizeof v1cpuset, "%s", mnt);
        }
    }
    fclose(f);
    if (v2mnt[0]) {
        cgv = 2;
        snprintf(cg_cpu_root, sizeof cg_cpu_root, "%s", v2mnt);
        char p[PATHLEN + 32], ctl[1024];
        snprintf(p, sizeof p, "%s/cgroup.controllers", v2mnt);
        if (read_file(p, ctl, sizeof ctl) >= 0 && has_word(ctl, "cpuset", " \n")) {
            snprintf(cg_cpuset_root, sizeof cg_cpuset_root, "%s", v2mnt);
            v2_cpuset_ok = 1;
        }
    } else if (v1cpu[0]) {
        cgv = 1;
        snprintf(cg_cpu_root, sizeof cg_cpu_root, "%s", v1cpu);
        acct_in_cpu = v1cpu_acct;
        if (!acct_in_cpu && v1acct[0])
            snprintf(cg_acct_root, sizeof cg_acct_root, "%s", v1acct);
        if (v1cpuset[0] && strcmp(v1cpuset, v1cpu) != 0)
            snprintf(cg_cpuset_root, sizeof cg_cpuset_root, "%s", v1cpuset);
        char p[PATHLEN + 32];
        snprintf(p, sizeof p, "%s/cpu.cfs_quota_us", v1cpu);
        if (!path_exists(p))
            skip77("cgroup v1 cpu controller at %s has no cpu.cfs_quota_us (kernel without CFS bandwidth control)", v1cpu);
    } else {
        skip77("no cpu cgroup controller found (neither a cgroup2 with \"cpu\" in cgroup.controllers nor a v1 cpu hierarchy)");
    }
}

static void remove_stale_children(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "kubesim-cfs-", 12) != 0)
            continue;
        char p[PATHLEN * 3];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        rmdir(p);
    }
    closedir(d);
}

/* remove empty kubesim-cfs-<pid>[-<pod>] directories left by dead cfsload runs */
static void remove_stale(const char *root)
{
    if (!root[0])
        return;
    DIR *d = opendir(root);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid;
        if (strncmp(e->d_name, "kubesim-cfs-", 12) != 0)
            continue;
        pid = strtol(e->d_name + 12, NULL, 10);
        if (pid <= 0 || (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        char p[PATHLEN * 2];
        snprintf(p, sizeof p, "%s/%s", root, e->d_name);
        if (!strchr(e->d_name + 12, '-')) /* a parent: its pods first */
            remove_stale_children(p);
        if (rmdir(p) == 0)
            fprintf(stderr, "cfsload: removed stale cgroup %s\n", p);
    }
    closedir(d);
}

static void v2_enable(const char *ctrl, int required)
{
    char p[PATHLEN + 32], buf[1024], w[32];
    snprintf(p, sizeof p, "%s/cgroup.subtree_control", cg_cpu_root);
    if (read_file(p, buf, sizeof buf) >= 0 && has_word(buf, ctrl, " \n"))
        return;
    snprintf(w, sizeof w, "+%s", ctrl);
    int e = write_file(p, w);
    if (e == 0)
        return;
    if (!required) {
        v2_cpuset_ok = 0;
        return;
    }
    if (is_perm(e))
        skip77("cannot enable the cpu controller in %s: %s (need root and a writable cgroupfs)", p, strerror(-e));
    die("cannot enable the cpu controller in %s: %s", p, strerror(-e));
}

static void probe_writable(void)
{
    char d[PATHLEN + 64], f[PATHLEN + 96];
    snprintf(d, sizeof d, "%s/kubesim-cfs-%d-probe", cg_cpu_root, (int)self_pid);
    if (mkdir(d, 0755) != 0) {
        int e = errno;
        if (is_perm(e))
            skip77("cannot create a cgroup under %s: %s (need root and a writable cgroupfs)", cg_cpu_root, strerror(e));
        die("cannot create a cgroup under %s: %s", cg_cpu_root, strerror(e));
    }
    if (cgv == 1)
        snprintf(f, sizeof f, "%s/cpu.cfs_quota_us", d);
    else
        snprintf(f, sizeof f, "%s/cpu.max", d);
    int e = path_exists(f) ? write_file(f, cgv == 1 ? "50000" : "50000 100000") : -ENOENT;
    rmdir(d);
    if (e == -ENOENT)
        skip77("%s does not exist: the kernel has no CFS bandwidth control", f);
    if (e)
        skip77("cannot write %s: %s", f, strerror(-e));
}

/* ---------- cgroup setup per pod ---------- */

static void cg_set(const char *dir, const char *file, const char *val)
{
    char p[PATHLEN + 64];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int e = write_file(p, val);
    if (e) {
        if (is_perm(e))
            skip77("cannot write '%s' to %s: %s", val, p, strerror(-e));
        die("cannot write '%s' to %s: %s", val, p, strerror(-e));
    }
}

static int cg_make(struct pod *p, int slot, const char *root)
{
    char name[NAME_MAX_LEN + 1];
    memcpy(name, p->name, sizeof name);
    snprintf(p->cg_dir[slot], PATHLEN, "%s/kubesim-cfs-%d-%s", root, (int)self_pid, name);
    snprintf(p->cg_rootprocs[slot], PATHLEN, "%s/cgroup.procs",
             (parent_made && root == cg_parent) ? cg_cpu_root : root);
    if (mkdir(p->cg_dir[slot], 0755) != 0) {
        int e = errno;
        if (is_perm(e))
            skip77("cannot create cgroup %s: %s", p->cg_dir[slot], strerror(e));
        return -e;
    }
    p->cg_made[slot] = 1;
    return 0;
}

static void setup_parent(void)
{
    char buf[64];
    if (opt_parent_shares < 2 || opt_parent_shares > 262144)
        die("--parent-shares must be 2..262144");
    snprintf(cg_parent, sizeof cg_parent, "%s/kubesim-cfs-%d", cg_cpu_root, (int)self_pid);
    if (mkdir(cg_parent, 0755) != 0) {
        int e = errno;
        if (is_perm(e))
            skip77("cannot create cgroup %s: %s", cg_parent, strerror(e));
        die("cannot create cgroup %s: %s", cg_parent, strerror(e));
    }
    parent_made = 1;
    if (cgv == 1) {
        snprintf(buf, sizeof buf, "%ld", opt_parent_shares);
        cg_set(cg_parent, "cpu.shares", buf);
    } else {
        snprintf(buf, sizeof buf, "%ld", 1 + ((opt_parent_shares - 2) * 9999) / 262142);
        cg_set(cg_parent, "cpu.weight", buf);
        cg_set(cg_parent, "cgroup.subtree_control", "+cpu");
        if (opt_cpus && v2_cpuset_ok) {
            char p[PATHLEN + 32];
            snprintf(p, sizeof p, "%s/cgroup.subtree_control", cg_parent);
            if (write_file(p, "+cpuset") != 0)
                v2_cpuset_ok = 0;
        }
    }
}

static void setup_pod_cgroups(struct pod *p)
{
    char buf[64];
    int e = cg_make(p, 0, parent_made ? cg_parent : cg_cpu_root);
    if (e)
        die("cannot create cgroup %s: %s", p->cg_dir[0], strerror(-e));
    snprintf(p->cpu_dir, sizeof p->cpu_dir, "%s", p->cg_dir[0]);
    if (cgv == 1) {
        snprintf(buf, sizeof buf, "%ld", p->period_us);
        cg_set(p->cpu_dir, "cpu.cfs_period_us", buf);
        snprintf(buf, sizeof buf, "%ld", p->quota_us);
        p->quota_set_ns = now_ns();
        cg_set(p->cpu_dir, "cpu.cfs_quota_us", buf);
        snprintf(buf, sizeof buf, "%ld", p->shares);
        cg_set(p->cpu_dir, "cpu.shares", buf);
        if (acct_in_cpu) {
            snprintf(p->acct_dir, sizeof p->acct_dir, "%s", p->cpu_dir);
            p->acct_kind = 1;
        } else if (cg_acct_root[0] && cg_make(p, 1, cg_acct_root) == 0) {
            snprintf(p->acct_dir, sizeof p->acct_dir, "%s", p->cg_dir[1]);
            p->acct_kind = 1;
        }
        if (opt_cpus && !use_affinity) {
            if (cg_make(p, 2, cg_cpuset_root) == 0) {
                char mems[256], mp[PATHLEN + 32], cp[PATHLEN + 32];
                snprintf(mp, sizeof mp, "%s/cpuset.mems", cg_cpuset_root);
                if (read_file(mp, mems, sizeof mems) < 0)
                    snprintf(mems, sizeof mems, "0");
                chomp(mems);
                snprintf(mp, sizeof mp, "%s/cpuset.mems", p->cg_dir[2]);
                snprintf(cp, sizeof cp, "%s/cpuset.cpus", p->cg_dir[2]);
                if (write_file(mp, mems) != 0 || write_file(cp, opt_cpus) != 0) {
                    rmdir(p->cg_dir[2]);
                    p->cg_made[2] = 0;
                    use_affinity = 1;
                }
            } else {
                use_affinity = 1;
            }
        }
    } else {
        if (p->quota_us > 0)
            snprintf(buf, sizeof buf, "%ld %ld", p->quota_us, p->period_us);
        else
            snprintf(buf, sizeof buf, "max %ld", p->period_us);
        p->quota_set_ns = now_ns();
        cg_set(p->cpu_dir, "cpu.max", buf);
        snprintf(buf, sizeof buf, "%ld", p->weight);
        cg_set(p->cpu_dir, "cpu.weight", buf);
        p->acct_kind = 2;
        if (opt_cpus && !use_affinity) {
            char cp[PATHLEN + 32];
            snprintf(cp, sizeof cp, "%s/cpuset.cpus", p->cpu_dir);
            if (!v2_cpuset_ok || write_file(cp, opt_cpus) != 0)
                use_affinity = 1;
        }
    }
}

static struct cstat read_cstat(const struct pod *p)
{
    struct cstat s;
    memset(&s, 0, sizeof s);
    char path[PATHLEN + 32], buf[2048];
    snprintf(path, sizeof path, "%s/cpu.stat", p->cpu_dir);
    if (read_file(path, buf, sizeof buf) < 0)
        return s;
    s.ok = 1;
    char *save = NULL;
    for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char k[64];
        long long v;
        if (sscanf(l, "%63s %lld", k, &v) != 2)
            continue;
        if (!strcmp(k, "nr_periods")) s.nr_periods = v;
        else if (!strcmp(k, "nr_throttled")) s.nr_throttled = v;
        else if (!strcmp(k, "throttled_time")) s.throttled_ns = v;          /* v1, ns */
        else if (!strcmp(k, "throttled_usec")) s.throttled_ns = v * 1000;   /* v2 */
        else if (!strcmp(k, "usage_usec")) { s.usage_ns = v * 1000; s.has_usage = 1; }
    }
    return s;
}

static int64_t read_acct(const struct pod *p)
{
    if (p->acct_kind == 1) {
        char path[PATHLEN + 32], buf[64];
        snprintf(path, sizeof path, "%s/cpuacct.usage", p->acct_dir);
        if (read_file(path, buf, sizeof buf) < 0)
            return -1;
        return strtoll(buf, NULL, 10);
    }
    if (p->acct_kind == 2) {
        struct cstat s = read_cstat(p);
        return s.has_usage ? s.usage_ns : -1;
    }
    return -1;
}

/* ---------- server (child) ---------- */

static int srv_req_r, srv_rep_w;

static void note_gap(struct reprec *out, int64_t from, int64_t to)
{
    if (out->ngaps < MAX_GAPS) {
        out->gap[out->ngaps][0] = from;
        out->gap[out->ngaps][1] = to;
    }
    out->ngaps++;
}

/* --burn vdso: spin on the vDSO clock (no system call), counting the time
 * between consecutive reads less than 20 us apart as CPU time; when that
 * estimate says half of the rest is done, check the thread CPU clock (one
 * system call).  The kernel then sees the thread mostly at its ticks (a
 * 50 ms request makes about 9 calls, the first half of it none), as it sees
 * a compute-bound request handler. */
static void burn_vdso(uint32_t cpu_us, struct reprec *out)
{
    int64_t last = out->start_ns; /* a throttle in the first system call is a gap too */
    int64_t target = clock_ns(CLOCK_THREAD_CPUTIME_ID) + (int64_t)cpu_us * 1000;
    out->ngaps = 0;
    for (;;) {
        int64_t rem = target - clock_ns(CLOCK_THREAD_CPUTIME_ID);
        if (rem <= 0)
            break;
        /* aim at half of what is left (all of it when little is left): the
         * estimate misses short interruptions, and this keeps the overshoot
         * small at the cost of about log2(cpu / 0.2 ms) system calls */
        int64_t aim = rem > 400000 ? rem / 2 : rem, acc = 0;
        while (acc < aim) {
            int64_t t = now_ns(), d = t - last;
            if (d > GAP_NS)
                note_gap(out, last, t);
            else if (d < 20000)
                acc += d;
            last = t;
        }
    }
}

/* burn cpu_us of thread CPU time; note the intervals the thread was off the
 * CPU (throttled or preempted), seen as jumps of the monotonic clock */
static void burn(uint32_t cpu_us, struct reprec *out)
{
    if (burn_vdso_mode) {
        burn_vdso(cpu_us, out);
        return;
    }
    int64_t last = out->start_ns; /* a throttle in the first system call is a gap too */
    int64_t until = clock_ns(CLOCK_THREAD_CPUTIME_ID) + (int64_t)cpu_us * 1000;
    out->ngaps = 0;
    while (clock_ns(CLOCK_THREAD_CPUTIME_ID) < until) {
        int64_t t = now_ns();
        if (t - last > GAP_NS)
            note_gap(out, last, t);
        last = t;
    }
}

/* Pin the calling worker to the k-th CPU of `allowed` (k counted from 0). */
static void pin_to_nth_cpu(const cpu_set_t *allowed, int k)
{
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, allowed) || k-- > 0)
            continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (sched_setaffinity(0, sizeof one, &one) != 0)
            _exit(9);
        return;
    }
}

static void *worker_main(void *arg)
{
    if (arg) {
        const struct worker_pin *pin = arg;
        pin_to_nth_cpu(&pin->allowed, pin->index);
    }
    for (;;) {
        struct reqrec r;
        ssize_t n = read(srv_req_r, &r, sizeof r);
        if (n == 0)
            _exit(0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            _exit(3);
        }
        if (n != (ssize_t)sizeof r)
            _exit(4);
        struct reprec out;
        memset(&out, 0, sizeof out);
        out.idx = r.idx;
        out.start_ns = now_ns();
        burn(r.cpu_us, &out);
        out.done_ns = now_ns();
        if (write_full(srv_rep_w, &out, sizeof out) != 0)
            _exit(5);
    }
    return NULL;
}

static void server_main(struct pod *p, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    /* the parent handles these and kills us; PR_SET_PDEATHSIG covers its death */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_DFL);
    /* close everything that is not ours */
    for (int i = 0; i < npods; i++) {
        struct pod *o = &pods[i];
        int fds[8] = {o->req_r, o->req_w, o->rep_r, o->rep_w, o->go_r, o->go_w, o->rdy_r, o->rdy_w};
        for (int k = 0; k < 8; k++) {
            if (fds[k] < 0)
                continue;
            if (o == p && (fds[k] == p->req_r || fds[k] == p->rep_w || fds[k] == p->go_r || fds[k] == p->rdy_w))
                continue;
            close(fds[k]);
        }
    }
    char c;
    ssize_t n;
    while ((n = read(p->go_r, &c, 1)) < 0 && errno == EINTR)
        ;
    if (n != 1)
        _exit(0); /* parent gave up */
    if (use_affinity && sched_setaffinity(0, sizeof cpus_set, &cpus_set) != 0)
        _exit(6);
    srv_req_r = p->req_r;
    srv_rep_w = p->rep_w;
    static struct worker_pin pins[256];
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    int pin = opt_pin_workers && sched_getaffinity(0, sizeof allowed, &allowed) == 0
              && p->workers <= CPU_COUNT(&allowed);
    for (int i = 0; i < p->workers; i++) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setstacksize(&at, 256 * 1024);
        if (pin) {
            pins[i].allowed = allowed;
            pins[i].index = i;
        }
        if (pthread_create(&th, &at, worker_main, pin ? &pins[i] : NULL) != 0)
            _exit(7);
        pthread_attr_destroy(&at);
    }
    c = 'R';
    if (write_full(p->rdy_w, &c, 1) != 0)
        _exit(8);
    for (;;)
        pause();
}

/* ---------- generator side ---------- */

static void *reader_main(void *arg)
{
    (void)arg;
    struct pollfd pfd[MAX_PODS];
    static char buf[MAX_PODS][sizeof(struct reprec) * 64];
    size_t have[MAX_PODS] = {0};
    for (;;) {
        if (__atomic_load_n(&reader_stop, __ATOMIC_SEQ_CST))
            break;
        int nf = 0, map[MAX_PODS];
        for (int i = 0; i < npods; i++) {
            if (pods[i].eof)
                continue;
            pfd[nf].fd = pods[i].rep_r;
            pfd[nf].events = POLLIN;
            map[nf++] = i;
        }
        if (nf == 0)
            break;
        int r = poll(pfd, (nfds_t)nf, 20);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            die("poll: %s", strerror(errno));
        }
        if (r == 0)
            continue;
        for (int k = 0; k < nf; k++) {
            if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int i = map[k];
            struct pod *p = &pods[i];
            ssize_t n = read(p->rep_r, buf[i] + have[i], sizeof buf[i] - have[i]);
            int64_t t = now_ns();
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN)
                    continue;
                die("reading replies of pod %s: %s", p->name, strerror(errno));
            }
            if (n == 0) {
                p->eof = 1;
                if (!__atomic_load_n(&reader_stop, __ATOMIC_SEQ_CST) && !__atomic_load_n(&cleaned, __ATOMIC_SEQ_CST))
                    die("server of pod %s exited unexpectedly", p->name);
                continue;
            }
            have[i] += (size_t)n;
            size_t off = 0, got = 0;
            while (have[i] - off >= sizeof(struct reprec)) {
                struct reprec rr;
                memcpy(&rr, buf[i] + off, sizeof rr);
                off += sizeof rr;
                if (rr.idx >= p->nreq)
                    die("pod %s: bad reply index %u", p->name, rr.idx);
                p->start_ns[rr.idx] = rr.start_ns - t0;
                p->done_ns[rr.idx] = rr.done_ns - t0;
                p->ngaps_total += rr.ngaps;
                if (rr.ngaps > MAX_GAPS)
                    p->ntrunc++;
                for (uint32_t g = 0; g < rr.ngaps && g < MAX_GAPS; g++) {
                    if (p->ngaps == p->gaps_cap) {
                        p->gaps_cap = p->gaps_cap ? 2 * p->gaps_cap : 256;
                        p->gaps = realloc(p->gaps, p->gaps_cap * sizeof *p->gaps);
                        if (!p->gaps)
                            die("out of memory");
                    }
                    p->gaps[p->ngaps].idx = rr.idx;
                    p->gaps[p->ngaps].from_ns = rr.gap[g][0] - t0;
                    p->gaps[p->ngaps].to_ns = rr.gap[g][1] - t0;
                    p->ngaps++;
                }
                p->end_ns[rr.idx] = t - t0;
                got++;
            }
            memmove(buf[i], buf[i] + off, have[i] - off);
            have[i] -= off;
            if (got) {
                pthread_mutex_lock(&mu);
                p->nreplies += got;
                total_replies += got;
                if (gen_done && total_replies >= total_sent)
                    pthread_cond_broadcast(&cv);
                pthread_mutex_unlock(&mu);
            }
        }
    }
    return NULL;
}

struct ev { int64_t t; int pod; uint32_t idx; };

static int ev_cmp(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    if (x->pod != y->pod) return x->pod - y->pod;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void set_rt(pthread_t th, const char **desc)
{
    struct sched_param sp;
    memset(&sp, 0, sizeof sp);
    sp.sched_priority = 50;
    if (pthread_setschedparam(th, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) == 0)
        *desc = "SCHED_FIFO:50";
    else
        *desc = "SCHED_OTHER (SCHED_FIFO refused)";
}

struct procstat { int64_t busy, idle, steal; };

static struct procstat read_procstat(void)
{
    struct procstat s = {0, 0, 0};
    char buf[4096];
    if (read_file("/proc/stat", buf, sizeof buf) < 0)
        return s;
    unsigned long long v[10] = {0};
    if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
               &v[6], &v[7]) >= 8) {
        long hz = sysconf(_SC_CLK_TCK);
        int64_t f = 1000000 / (hz > 0 ? hz : 100);
        s.busy = (int64_t)(v[0] + v[1] + v[2] + v[5] + v[6]) * f;
        s.idle = (int64_t)(v[3] + v[4]) * f;
        s.steal = (int64_t)v[7] * f;
    }
    return s;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static int64_t us_of(int64_t ns) { return ns < 0 ? -1 : ns / 1000; }

int main(int argc, char **argv)
{
    self_pid = getpid();
    int check_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_ARG() do { if (!v) { fprintf(stderr, "cfsload: %s needs an argument\n", a); usage(stderr); return 2; } i++; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--check")) check_only = 1;
        else if (!strcmp(a, "--out")) { NEED_ARG(); opt_out = v; }
        else if (!strcmp(a, "--cpus")) { NEED_ARG(); opt_cpus = v; }
        else if (!strcmp(a, "--pod")) { NEED_ARG(); parse_pod(v); }
        else if (!strcmp(a, "--settle-ms")) { NEED_ARG(); opt_settle_ms = parse_long(v, a); }
        else if (!strcmp(a, "--end-ms")) { NEED_ARG(); opt_end_ms = parse_long(v, a); }
        else if (!strcmp(a, "--max-drain-ms")) { NEED_ARG(); opt_max_drain_ms = parse_long(v, a); }
        else if (!strcmp(a, "--phase-us")) { NEED_ARG(); opt_phase_us = parse_long(v, a); }
        else if (!strcmp(a, "--no-calibrate")) opt_calibrate = 0;
        else if (!strcmp(a, "--phase-frac")) {
            NEED_ARG();
            char *end;
            opt_phase_frac = strtod(v, &end);
            if (*end || end == v || opt_phase_frac < 0 || opt_phase_frac >= 1) {
                fprintf(stderr, "cfsload: --phase-frac must be in [0, 1)\n");
                return 2;
            }
        }
        else if (!strcmp(a, "--burn")) {
            NEED_ARG();
            if (!strcmp(v, "syscall")) burn_vdso_mode = 0;
            else if (!strcmp(v, "vdso")) burn_vdso_mode = 1;
            else { fprintf(stderr, "cfsload: --burn syscall|vdso\n"); return 2; }
        }
        else if (!strcmp(a, "--parent-shares")) { NEED_ARG(); opt_parent_shares = parse_long(v, a); }
        else if (!strcmp(a, "--no-rt")) opt_rt = 0;
        else if (!strcmp(a, "--gaps")) opt_gaps = 1;
        else if (!strcmp(a, "--pin-workers")) opt_pin_workers = 1;
        else { fprintf(stderr, "cfsload: unknown argument '%s'\n", a); usage(stderr); return 2; }
#undef NEED_ARG
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    detect_cgroups();
    remove_stale(cg_cpu_root);
    remove_stale(cg_acct_root);
    remove_stale(cg_cpuset_root);
    if (cgv == 2)
        v2_enable("cpu", 1);
    probe_writable();
    if (check_only) {
        printf("cfsload: cgroup v%d cpu controller at %s is writable\n", cgv, cg_cpu_root);
        return 0;
    }
    if (!opt_out || npods == 0) {
        usage(stderr);
        return 2;
    }

    char online[256] = "";
    if (read_file("/sys/devices/system/cpu/online", online, sizeof online) > 0)
        chomp(online);
    if (opt_cpus) {
        if (parse_cpulist(opt_cpus, &cpus_set) != 0 || CPU_COUNT(&cpus_set) == 0)
            die("bad --cpus '%s'", opt_cpus);
        if (cgv == 1 && !cg_cpuset_root[0])
            use_affinity = 1;
        if (cgv == 2) {
            if (v2_cpuset_ok)
                v2_enable("cpuset", 0);
            if (!v2_cpuset_ok)
                use_affinity = 1;
        }
    }

    for (int i = 0; i < npods; i++)
        load_arrivals(&pods[i]);

    long max_period = 0;
    for (int i = 0; i < npods; i++)
        if (pods[i].period_us > max_period)
            max_period = pods[i].period_us;
    if (opt_settle_ms < 0) {
        opt_settle_ms = max_period * 25 / 10000;
        if (opt_settle_ms < 200)
            opt_settle_ms = 200;
    }

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &ca);

    /* pipes */
    for (int i = 0; i < npods; i++) {
        struct pod *p = &pods[i];
        int a[2], b[2], c[2], d[2];
        if (pipe2(a, O_CLOEXEC) || pipe2(b, O_CLOEXEC) || pipe2(c, O_CLOEXEC) || pipe2(d, O_CLOEXEC))
            die("pipe: %s", strerror(errno));
        p->req_r = a[0]; p->req_w = a[1];
        p->rep_r = b[0]; p->rep_w = b[1];
        p->go_r = c[0]; p->go_w = c[1];
        p->rdy_r = d[0]; p->rdy_w = d[1];
        fcntl(p->req_w, F_SETPIPE_SZ, 1 << 20);
        fcntl(p->rep_w, F_SETPIPE_SZ, 1 << 20);
    }

    /* cgroups, then servers */
    if (opt_parent_shares > 0)
        setup_parent();
    for (int i = 0; i < npods; i++)
        setup_pod_cgroups(&pods[i]);
    if (opt_cpus)
        cpuset_method = use_affinity ? "sched_setaffinity" : "cpuset-cgroup";
    if (use_affinity) /* one pod fell back: do it for all, drop cpuset cgroups */
        for (int i = 0; i < npods; i++)
            if (pods[i].cg_made[2]) {
                rmdir(pods[i].cg_dir[2]);
                pods[i].cg_made[2] = 0;
            }

    for (int i = 0; i < npods; i++) {
        struct pod *p = &pods[i];
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0)
            server_main(p, self_pid);
        p->pid = pid;
        close(p->req_r); p->req_r = -1;
        close(p->rep_w); p->rep_w = -1;
        close(p->go_r); p->go_r = -1;
        close(p->rdy_w); p->rdy_w = -1;
        char pidbuf[24];
        s_itoa(pid, pidbuf);
        for (int c = 0; c < MAX_CG; c++) {
            if (!p->cg_made[c])
                continue;
            char procs[PATHLEN + 32];
            snprintf(procs, sizeof procs, "%s/cgroup.procs", p->cg_dir[c]);
            int e = write_file(procs, pidbuf);
            if (e)
                die("cannot move pid %d into %s: %s", (int)pid, procs, strerror(-e));
        }
        p->moved_ns = now_ns();
        if (clock_getcpuclockid(pid, &p->proc_clock) == 0)
            p->have_proc_clock = 1;
        char go = 'G';
        if (write_full(p->go_w, &go, 1) != 0)
            die("cannot start server of pod %s", p->name);
        char rd;
        ssize_t n;
        while ((n = read(p->rdy_r, &rd, 1)) < 0 && errno == EINTR)
            ;
        if (n != 1)
            die("server of pod %s failed to start", p->name);
    }

    /* generator/reply reader outside the cgroups, real-time priority */
    const char *gen_sched = "SCHED_OTHER";
    prctl(PR_SET_TIMERSLACK, 1UL);
    if (opt_rt)
        set_rt(pthread_self(), &gen_sched);
    char my_cg[512] = "";
    read_file("/proc/self/cgroup", my_cg, sizeof my_cg);
    chomp(my_cg);

    /* settle; locate the period grid of one pod; settle again */
    sleep_ms(opt_settle_ms);
    int calib_pod = -1, calib_k = 0;
    int64_t calib_boundary = 0, calib_gap = 0, calib_cpu_us = 0;
    int ncpu_allowed = opt_cpus ? CPU_COUNT(&cpus_set) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 0; i < npods && opt_calibrate; i++) {
        int k = pods[i].workers < ncpu_allowed ? pods[i].workers : ncpu_allowed;
        if (pods[i].quota_us > 0 && pods[i].quota_us < pods[i].period_us * k) {
            calib_pod = i;
            calib_k = k;
            break;
        }
    }
    for (int attempt = 0; calib_pod >= 0 && attempt < 3; attempt++) {
        /* k requests in parallel, together well over two quotas */
        struct pod *p = &pods[calib_pod];
        calib_cpu_us = 2 * p->quota_us / calib_k + 15000;
        for (int j = 0; j < calib_k; j++) {
            struct reqrec r = {CALIB_IDX, (uint32_t)calib_cpu_us};
            if (write_full(p->req_w, &r, sizeof r) != 0)
                die("calibrating pod %s: %s", p->name, strerror(errno));
        }
        int64_t cg[MAX_GAPS * 8][2];
        int ncg = 0;
        for (int j = 0; j < calib_k; j++) {
            struct reprec rr;
            size_t got = 0;
            while (got < sizeof rr) {
                ssize_t n = read(p->rep_r, (char *)&rr + got, sizeof rr - got);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    die("calibrating pod %s: no reply", p->name);
                got += (size_t)n;
            }
            for (uint32_t g = 0; g < rr.ngaps && g < MAX_GAPS && ncg < MAX_GAPS * 8; g++, ncg++) {
                cg[ncg][0] = rr.gap[g][0];
                cg[ncg][1] = rr.gap[g][1];
            }
        }
        /* the longest gap is a throttled wait; threads sharing a CPU resume one
         * after the other, so the boundary is the earliest end of the long gaps
         * that end up to 3 ms before it */
        for (int g = 0; g < ncg; g++)
            if (cg[g][1] - cg[g][0] > calib_gap) {
                calib_gap = cg[g][1] - cg[g][0];
                calib_boundary = cg[g][1];
            }
        int64_t longest_end = calib_boundary;
        for (int g = 0; g < ncg; g++)
            if (cg[g][1] - cg[g][0] > calib_gap / 2 && cg[g][1] < calib_boundary &&
                cg[g][1] >= longest_end - 3000000)
                calib_boundary = cg[g][1];
        sleep_ms(opt_settle_ms);
        if (calib_gap >= 2000000)
            break;
        fprintf(stderr, "cfsload: calibration %d of pod %s saw no throttling (longest gap %" PRId64 " us)%s\n",
                attempt + 1, p->name, calib_gap / 1000, attempt < 2 ? "" : "; period grid unknown");
        if (attempt == 2)
            calib_pod = -1;
    }
    if ((opt_phase_us >= 0 || opt_phase_frac >= 0) && calib_pod < 0) {
        fprintf(stderr, "cfsload: no pod's period grid is known (no pod can be throttled, or --no-calibrate); "
                        "phase ignored\n");
        opt_phase_us = -1;
        opt_phase_frac = -1;
    }
    if (calib_pod >= 0 && opt_phase_frac >= 0)
        opt_phase_us = (long)(opt_phase_frac * (double)pods[calib_pod].period_us);
    pthread_t reader;
    if (pthread_create(&reader, NULL, reader_main, NULL) != 0)
        die("pthread_create: %s", strerror(errno));
    const char *rd_sched = "SCHED_OTHER";
    if (opt_rt)
        set_rt(reader, &rd_sched);
    char load_before[128] = "", load_after[128] = "";
    read_file("/proc/loadavg", load_before, sizeof load_before);
    chomp(load_before);
    struct procstat ps_before = read_procstat();
    int64_t gen_cpu_before = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < npods; i++) {
        struct pod *p = &pods[i];
        p->before = read_cstat(p);
        p->acct_before = read_acct(p);
        p->proc_cpu_before = p->have_proc_clock ? clock_ns(p->proc_clock) : -1;
    }

    /* common start */
    t0 = now_ns() + 20000000LL;
    if (calib_pod >= 0 && opt_phase_us >= 0) {
        int64_t per = (int64_t)pods[calib_pod].period_us * 1000;
        int64_t want = (int64_t)(opt_phase_us % pods[calib_pod].period_us) * 1000;
        int64_t cur = ((t0 - calib_boundary) % per + per) % per;
        t0 += (want - cur + per) % per;
    }
    for (int i = 0; i < npods; i++) {
        pods[i].grid_phase_us = -1;
        if (i == calib_pod) {
            int64_t per = (int64_t)pods[i].period_us * 1000;
            pods[i].grid_phase_us = (long)((((t0 - calib_boundary) % per + per) % per) / 1000);
        }
    }

    size_t nev = 0;
    for (int i = 0; i < npods; i++)
        nev += pods[i].nreq;
    struct ev *evs = malloc((nev + 1) * sizeof *evs);
    if (!evs)
        die("out of memory");
    nev = 0;
    int64_t last_arrival_us = 0;
    for (int i = 0; i < npods; i++)
        for (size_t k = 0; k < pods[i].nreq; k++) {
            evs[nev].t = pods[i].reqs[k].arrival_us;
            evs[nev].pod = i;
            evs[nev].idx = (uint32_t)k;
            if (evs[nev].t > last_arrival_us)
                last_arrival_us = evs[nev].t;
            nev++;
        }
    qsort(evs, nev, sizeof *evs, ev_cmp);

    /* the load generator */
    for (size_t k = 0; k < nev; k++) {
        struct ev *e = &evs[k];
        if (opt_end_ms >= 0 && e->t >= (int64_t)opt_end_ms * 1000)
            break;
        int64_t dl = t0 + e->t * 1000;
        if (now_ns() < dl)
            sleep_until(dl);
        struct pod *p = &pods[e->pod];
        struct reqrec r = {e->idx, p->reqs[e->idx].cpu_us};
        p->send_ns[e->idx] = now_ns() - t0;
        if (write_full(p->req_w, &r, sizeof r) != 0)
            die("sending to pod %s: %s", p->name, strerror(errno));
        p->nsent++;
        pthread_mutex_lock(&mu);
        total_sent++;
        pthread_mutex_unlock(&mu);
    }

    /* wait for the replies or the end */
    const char *end_reason = "all-replies";
    int64_t deadline;
    if (opt_end_ms >= 0)
        deadline = t0 + (int64_t)opt_end_ms * 1000000LL;
    else
        deadline = t0 + last_arrival_us * 1000 + (int64_t)opt_max_drain_ms * 1000000LL;
    pthread_mutex_lock(&mu);
    gen_done = 1;
    if (opt_end_ms >= 0) {
        pthread_mutex_unlock(&mu);
        sleep_until(deadline);
        end_reason = "end-ms";
    } else {
        while (total_replies < total_sent) {
            if (now_ns() >= deadline) {
                end_reason = "drain-timeout";
                break;
            }
            struct timespec ts = {deadline / 1000000000LL, deadline % 1000000000LL};
            pthread_cond_timedwait(&cv, &mu, &ts);
        }
        pthread_mutex_unlock(&mu);
    }
    int64_t t_end = now_ns();

    /* "after" readings */
    for (int i = 0; i < npods; i++) {
        struct pod *p = &pods[i];
        p->after = read_cstat(p);
        p->acct_after = read_acct(p);
        p->proc_cpu_after = p->have_proc_clock ? clock_ns(p->proc_clock) : -1;
    }
    struct procstat ps_after = read_procstat();
    int64_t gen_cpu_after = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    read_file("/proc/loadavg", load_after, sizeof load_after);
    chomp(load_after);

    __atomic_store_n(&reader_stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(reader, NULL);
    stop_servers();
    /* let the period timers fire until they go idle (two periods without use) */
    sleep_ms(max_period * 25 / 1000 + 20);
    for (int i = 0; i < npods; i++)
        pods[i].tail = read_cstat(&pods[i]);
    cleanup_all();

    /* output */
    struct utsname un;
    uname(&un);
    char slice[64] = "";
    if (read_file("/proc/sys/kernel/sched_cfs_bandwidth_slice_us", slice, sizeof slice) > 0)
        chomp(slice);
    char tmp[PATHLEN + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp", opt_out);
    FILE *f = fopen(tmp, "w");
    if (!f)
        die("cannot write %s: %s", tmp, strerror(errno));
    int64_t pods_cpu = 0;
    fprintf(f, "{\"tool\": \"cfsload\", \"format\": 1, \"cgroup\": \"v%d\", \"cgroup_root\": ", cgv);
    json_str(f, cg_cpu_root);
    fprintf(f, ",\n \"kernel\": ");
    json_str(f, un.release);
    fprintf(f, ", \"machine\": ");
    json_str(f, un.machine);
    fprintf(f, ", \"cpus\": ");
    json_str(f, opt_cpus ? opt_cpus : online);
    fprintf(f, ", \"cpus_online\": ");
    json_str(f, online);
    fprintf(f, ", \"cpuset_method\": \"%s\",\n \"cfs_bandwidth_slice_us\": %s", cpuset_method,
            slice[0] ? slice : "null");
    fprintf(f, ", \"parent_cgroup\": ");
    if (parent_made || opt_parent_shares > 0)
        json_str(f, cg_parent);
    else
        fputs("null", f);
    fprintf(f, ", \"parent_shares\": %ld", opt_parent_shares);
    fprintf(f, ", \"generator_sched\": \"%s\", \"reader_sched\": \"%s\", \"generator_cgroup\": ", gen_sched,
            rd_sched);
    json_str(f, my_cg);
    fprintf(f, ",\n \"t0_monotonic_ns\": %" PRId64 ", \"settle_ms\": %ld, \"end_reason\": \"%s\", \"wall_us\": %" PRId64
               ", \"last_arrival_us\": %" PRId64 ",\n",
            t0, opt_settle_ms, end_reason, (t_end - t0) / 1000, last_arrival_us);
    if (calib_pod >= 0)
        fprintf(f, " \"calibration\": {\"pod\": \"%s\", \"requests\": %d, \"cpu_us\": %" PRId64
                   ", \"boundary_us\": %" PRId64 ", \"gap_us\": %" PRId64 "},\n",
                pods[calib_pod].name, calib_k, calib_cpu_us, (calib_boundary - t0) / 1000, calib_gap / 1000);
    else
        fprintf(f, " \"calibration\": null,\n");
    fprintf(f, " \"phase_us\": %ld, \"burn\": \"%s\", \"pin_workers\": %s,\n", opt_phase_us,
            burn_vdso_mode ? "vdso" : "syscall", opt_pin_workers ? "true" : "false");
    fprintf(f, " \"loadavg_before\": ");
    json_str(f, load_before);
    fprintf(f, ", \"loadavg_after\": ");
    json_str(f, load_after);
    fprintf(f, ",\n \"request_fields\": [\"arrival_us\", \"start_us\", \"end_us\", \"done_us\"],\n \"pods\": [\n");
    for (int i = 0; i < npods; i++) {
        struct pod *p = &pods[i];
        int64_t cpu_used = -1;
        const char *src = "none";
        if (p->acct_before >= 0 && p->acct_after >= 0) {
            cpu_used = (p->acct_after - p->acct_before) / 1000;
            src = cgv == 1 ? "cpuacct.usage" : "cpu.stat usage_usec";
        } else if (p->proc_cpu_before >= 0 && p->proc_cpu_after >= 0) {
            cpu_used = (p->proc_cpu_after - p->proc_cpu_before) / 1000;
            src = "process cpu clock";
        }
        if (cpu_used > 0)
            pods_cpu += cpu_used;
        /* lateness of the generator */
        int64_t *late = malloc((p->nreq + 1) * sizeof *late);
        size_t nl = 0, done = 0;
        for (size_t k = 0; k < p->nreq; k++) {
            if (p->send_ns[k] >= 0)
                late[nl++] = p->send_ns[k] - p->reqs[k].arrival_us * 1000;
            if (p->end_ns[k] >= 0)
                done++;
        }
        qsort(late, nl, sizeof *late, cmp_i64);
        int64_t lmax = nl ? late[nl - 1] : 0;
        size_t pi = nl ? (size_t)((nl * 99 + 99) / 100) : 0;
        int64_t lp99 = nl ? late[pi > 0 ? pi - 1 : 0] : 0;
        size_t over1ms = 0;
        for (size_t k = 0; k < nl; k++)
            if (late[k] > 1000000)
                over1ms++;
        free(late);
        fprintf(f, "  {\"name\": ");
        json_str(f, p->name);
        fprintf(f, ", \"workers\": %d, \"quota_us\": %ld, \"period_us\": %ld, \"shares\": %ld", p->workers,
                p->quota_us, p->period_us, p->shares);
        if (cgv == 2)
            fprintf(f, ", \"weight\": %ld", p->weight);
        fprintf(f, ", \"cgroup_path\": ");
        json_str(f, p->cpu_dir);
        fprintf(f, ", \"grid_phase_us\": ");
        if (p->grid_phase_us >= 0)
            fprintf(f, "%ld", p->grid_phase_us);
        else
            fputs("null", f);
        fprintf(f, ", \"quota_set_us\": %" PRId64 ", \"moved_us\": %" PRId64 ",\n", (p->quota_set_ns - t0) / 1000,
                (p->moved_ns - t0) / 1000);
        if (p->before.ok && p->after.ok)
            fprintf(f, "   \"nr_periods\": %" PRId64 ", \"nr_throttled\": %" PRId64 ", \"throttled_time_us\": %" PRId64,
                    p->after.nr_periods - p->before.nr_periods, p->after.nr_throttled - p->before.nr_throttled,
                    (p->after.throttled_ns - p->before.throttled_ns) / 1000);
        else
            fprintf(f, "   \"nr_periods\": null, \"nr_throttled\": null, \"throttled_time_us\": null");
        if (p->before.ok && p->tail.ok)
            fprintf(f, ", \"nr_periods_tail\": %" PRId64 ", \"nr_throttled_tail\": %" PRId64
                       ", \"throttled_time_us_tail\": %" PRId64,
                    p->tail.nr_periods - p->before.nr_periods, p->tail.nr_throttled - p->before.nr_throttled,
                    (p->tail.throttled_ns - p->before.throttled_ns) / 1000);
        fprintf(f, ",\n   \"cpu_used_us\": %" PRId64 ", \"cpu_used_source\": \"%s\", \"cpu_used_process_us\": %" PRId64
                   ",\n",
                cpu_used, src,
                (p->proc_cpu_before >= 0 && p->proc_cpu_after >= 0) ? (p->proc_cpu_after - p->proc_cpu_before) / 1000
                                                                     : -1);
        fprintf(f, "   \"requests_total\": %zu, \"requests_sent\": %zu, \"requests_done\": %zu, \"send_late_max_us\": %" PRId64
                   ", \"send_late_p99_us\": %" PRId64 ", \"send_late_over_1ms\": %zu,\n",
                p->nreq, p->nsent, done, lmax / 1000, lp99 / 1000, over1ms);
        fprintf(f, "   \"requests\": [");
        for (size_t k = 0; k < p->nreq; k++)
            fprintf(f, "%s[%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "]", k ? "," : "", p->reqs[k].arrival_us,
                    us_of(p->start_ns[k]), us_of(p->end_ns[k]), us_of(p->done_ns[k]));
        fprintf(f, "]");
        fprintf(f, ",\n   \"gaps_total\": %zu, \"requests_with_gaps_truncated\": %zu", p->ngaps_total, p->ntrunc);
        if (opt_gaps) {
            fprintf(f, ",\n   \"gaps\": [");
            for (size_t k = 0; k < p->ngaps; k++)
                fprintf(f, "%s[%u,%" PRId64 ",%" PRId64 "]", k ? "," : "", p->gaps[k].idx, us_of(p->gaps[k].from_ns),
                        us_of(p->gaps[k].to_ns));
            fprintf(f, "]");
        }
        fprintf(f, "}%s\n", i + 1 < npods ? "," : "");
    }
    int64_t gen_cpu = gen_cpu_after - gen_cpu_before;
    int64_t busy = ps_after.busy - ps_before.busy;
    fprintf(f, " ],\n \"host\": {\"busy_us\": %" PRId64 ", \"idle_us\": %" PRId64 ", \"steal_us\": %" PRId64
               ", \"generator_cpu_us\": %" PRId64 ", \"other_busy_us\": %" PRId64 "}\n}\n",
            busy, ps_after.idle - ps_before.idle, ps_after.steal - ps_before.steal, gen_cpu / 1000,
            busy - pods_cpu - gen_cpu / 1000);
    if (fclose(f) != 0 || rename(tmp, opt_out) != 0)
        die("cannot write %s: %s", opt_out, strerror(errno));
    return 0;
}
