/*
 * server -- a small CPU-bound HTTP service for calibrate's validation (c).
 *
 * Build:  gcc -O2 -Wall -Wextra -pthread -o server server.c -lm
 * Usage:  server PORT [MEAN_MS] [CV] [SEED]
 *
 * GET /work burns a log-normal amount of the serving thread's own CPU time
 * (mean MEAN_MS, default 4; coefficient of variation CV, default 0.5; the
 * draws come from one generator seeded with SEED, default 1) and answers 200.
 * GET /metrics answers Prometheus' text format: the counter of /work requests
 * and their latency histogram in seconds, measured from the moment the
 * request's bytes were read to the moment the answer is written.
 *
 * Each connection has its own thread (keep-alive, one request at a time), so
 * requests in service run in parallel on the machine's cores, as the threads
 * of a real server do; run the process inside a cgroup with a CPU limit to
 * see the kernel's CFS bandwidth control act on them.  The threads spin on
 * CLOCK_THREAD_CPUTIME_ID, so a request's CPU time is exact whatever the
 * scheduler does to it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const double BUCKETS[] = {0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01,
                                 0.015, 0.02,  0.03,  0.05,  0.075, 0.1,   0.15,  0.2,
                                 0.3,   0.5,   0.75,  1.0,   2.5,   5.0,   10.0};
#define NBUCKETS (sizeof BUCKETS / sizeof BUCKETS[0])

static struct {
    pthread_mutex_t lock;
    uint64_t count;
    double sum;
    uint64_t buckets[NBUCKETS];
} stats = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct {
    pthread_mutex_t lock;
    uint64_t state;
    double mu, sigma;
} work = {.lock = PTHREAD_MUTEX_INITIALIZER};

static double seconds_of(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64: a uniform in (0, 1) from the shared generator. */
static double uniform_locked(void) {
    uint64_t z = (work.state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

/* The next request's CPU time in seconds: log-normal by Box-Muller. */
static double next_work(void) {
    pthread_mutex_lock(&work.lock);
    double u1 = uniform_locked(), u2 = uniform_locked();
    pthread_mutex_unlock(&work.lock);
    double normal = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
    return exp(work.mu + work.sigma * normal);
}

static void burn(double cpu_seconds) {
    double until = seconds_of(CLOCK_THREAD_CPUTIME_ID) + cpu_seconds;
    while (seconds_of(CLOCK_THREAD_CPUTIME_ID) < until) {
    }
}

static void observe(double seconds) {
    pthread_mutex_lock(&stats.lock);
    stats.count++;
    stats.sum += seconds;
    for (size_t i = 0; i < NBUCKETS; i++)
        if (seconds <= BUCKETS[i]) stats.buckets[i]++;
    pthread_mutex_unlock(&stats.lock);
}

/* The metrics in Prometheus' text format into buf; returns the length. */
static int metrics_text(char *buf, size_t size) {
    pthread_mutex_lock(&stats.lock);
    int n = snprintf(buf, size,
                     "# TYPE http_requests_total counter\nhttp_requests_total %llu\n"
                     "# TYPE http_request_duration_seconds histogram\n",
                     (unsigned long long)stats.count);
    for (size_t i = 0; i < NBUCKETS && n < (int)size; i++)
        n += snprintf(buf + n, size - n, "http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                      BUCKETS[i], (unsigned long long)stats.buckets[i]);
    if (n < (int)size)
        n += snprintf(buf + n, size - n,
                      "http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                      "http_request_duration_seconds_sum %.9f\n"
                      "http_request_duration_seconds_count %llu\n",
                      (unsigned long long)stats.count, stats.sum, (unsigned long long)stats.count);
    pthread_mutex_unlock(&stats.lock);
    return n < (int)size ? n : (int)size - 1;
}

static int write_all(int fd, const char *p, size_t len) {
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int respond(int fd, int status, const char *body, int body_len) {
    char head[128];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n", status,
                     status == 200 ? "OK" : "Not Found", body_len);
    if (write_all(fd, head, (size_t)n) < 0) return -1;
    return write_all(fd, body, (size_t)body_len);
}

/* Serves one request whose header is in req; returns -1 when the connection is lost. */
static int serve(int fd, const char *req, double read_at) {
    static char metrics[8192];
    static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
    if (strncmp(req, "GET /work ", 10) == 0) {
        burn(next_work());
        observe(seconds_of(CLOCK_MONOTONIC) - read_at);
        return respond(fd, 200, "ok\n", 3);
    }
    if (strncmp(req, "GET /metrics ", 13) == 0) {
        pthread_mutex_lock(&metrics_lock);
        int n = metrics_text(metrics, sizeof metrics);
        int rc = respond(fd, 200, metrics, n);
        pthread_mutex_unlock(&metrics_lock);
        return rc;
    }
    return respond(fd, 404, "not found\n", 10);
}

/* A connection's thread: requests one after another until the peer closes. */
static void *connection(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    size_t have = 0;
    for (;;) {
        char *end = have ? memmem(buf, have, "\r\n\r\n", 4) : NULL;
        if (end) {
            *end = '\0';
            size_t used = (size_t)(end + 4 - buf);
            if (serve(fd, buf, seconds_of(CLOCK_MONOTONIC)) < 0) break;
            memmove(buf, buf + used, have - used);
            have -= used;
            continue;
        }
        if (have == sizeof buf) break; /* a header longer than the buffer */
        ssize_t r = read(fd, buf + have, sizeof buf - have);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        have += (size_t)r;
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 5) {
        fprintf(stderr, "usage: server PORT [MEAN_MS] [CV] [SEED]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    double mean = (argc > 2 ? atof(argv[2]) : 4.0) / 1000.0;
    double cv = argc > 3 ? atof(argv[3]) : 0.5;
    work.state = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    if (port <= 0 || port > 65535 || mean <= 0 || cv < 0) {
        fprintf(stderr, "server: PORT in 1..65535, MEAN_MS > 0 and CV >= 0\n");
        return 2;
    }
    work.sigma = sqrt(log(1.0 + cv * cv));
    work.mu = log(mean) - work.sigma * work.sigma / 2.0;

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 1024) < 0) {
        perror("server: bind/listen");
        return 1;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            perror("server: accept");
            return 1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t thread;
        if (pthread_create(&thread, &attr, connection, (void *)(intptr_t)fd) != 0) close(fd);
    }
}
