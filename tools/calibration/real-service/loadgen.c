/*
 * loadgen -- open-loop Poisson load for calibrate's validation (c).
 *
 * Build:  gcc -O2 -Wall -Wextra -pthread -o loadgen loadgen.c -lm
 * Usage:  loadgen PORT RATE SECONDS [SEED] [LATENCIES_FILE]
 *
 * Sends GET /work to 127.0.0.1:PORT at Poisson arrival times (RATE per
 * second for SECONDS; the times drawn up front from SEED, default 7), each at
 * its time whatever the earlier ones did: the main thread releases a request
 * at its absolute deadline (clock_nanosleep on CLOCK_MONOTONIC) to a pool of
 * worker threads, each holding one keep-alive connection.  A request's
 * latency runs from its scheduled time to the last byte of the answer, so
 * time spent waiting for a free worker counts (it is reported: "late" counts
 * requests a worker took more than 1 ms after their time).
 *
 * Prints one JSON line: requests, failures, late, p50, p90, p99 and mean in
 * seconds.  With LATENCIES_FILE, every request's "SCHEDULED_S LATENCY_S" too.
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

#define WORKERS 512

static int port;
static size_t total;            /* requests in the run */
static int64_t *scheduled;      /* ns from the start, per request */
static double *latency;         /* seconds, -1 for a failure */
static struct timespec start;   /* CLOCK_MONOTONIC at t = 0 */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t released_cond = PTHREAD_COND_INITIALIZER;
static size_t released, taken;  /* requests whose time has come; taken by a worker */
static size_t late;

static int64_t ns_since_start(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(now.tv_sec - start.tv_sec) * 1000000000 + (now.tv_nsec - start.tv_nsec);
}

static void sleep_until(int64_t ns) {
    struct timespec at = start;
    at.tv_sec += ns / 1000000000;
    at.tv_nsec += ns % 1000000000;
    if (at.tv_nsec >= 1000000000) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) {
    }
}

static int connect_server(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request on fd; 0 when its whole answer came back. */
static int exchange(int fd) {
    static const char request[] = "GET /work HTTP/1.1\r\nHost: server\r\n\r\n";
    if (write(fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1)) return -1;
    char buf[1024];
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        have += (size_t)r;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        char *length = strstr(buf, "Content-Length: ");
        if (end && length && have >= (size_t)(end + 4 - buf) + (size_t)atoi(length + 16))
            return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
        if (have == sizeof buf - 1) return -1;
    }
}

static void *worker(void *arg) {
    (void)arg;
    int fd = -1;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (taken == released && released < total) pthread_cond_wait(&released_cond, &lock);
        if (taken == total) {
            pthread_mutex_unlock(&lock);
            break;
        }
        size_t i = taken++;
        pthread_mutex_unlock(&lock);
        if (ns_since_start() - scheduled[i] > 1000000) __atomic_add_fetch(&late, 1, __ATOMIC_RELAXED);
        if (fd < 0) fd = connect_server();
        if (fd >= 0 && exchange(fd) == 0) {
            latency[i] = (double)(ns_since_start() - scheduled[i]) * 1e-9;
        } else {
            latency[i] = -1;
            if (fd >= 0) close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) close(fd);
    return NULL;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: loadgen PORT RATE SECONDS [SEED] [LATENCIES_FILE]\n");
        return 2;
    }
    port = atoi(argv[1]);
    double rate = atof(argv[2]), seconds = atof(argv[3]);
    uint64_t state = argc > 4 ? strtoull(argv[4], NULL, 10) : 7;
    if (port <= 0 || port > 65535 || rate <= 0 || seconds <= 0 || rate * seconds > 1e7) {
        fprintf(stderr, "loadgen: PORT in 1..65535, RATE > 0, SECONDS > 0, at most 1e7 requests\n");
        return 2;
    }
    size_t capacity = (size_t)(rate * seconds * 2 + 100);
    scheduled = malloc(capacity * sizeof *scheduled);
    latency = malloc(capacity * sizeof *latency);
    double t = 0;
    for (;;) {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull); /* splitmix64 */
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        t += -log(((double)(z >> 11) + 0.5) / 9007199254740992.0) / rate;
        if (t >= seconds || total == capacity) break;
        scheduled[total++] = (int64_t)(t * 1e9);
    }
    pthread_t threads[WORKERS];
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int w = 0; w < WORKERS; w++) pthread_create(&threads[w], NULL, worker, NULL);
    for (size_t i = 0; i < total; i++) {
        sleep_until(scheduled[i]);
        pthread_mutex_lock(&lock);
        released = i + 1;
        pthread_cond_signal(&released_cond);
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    pthread_cond_broadcast(&released_cond);
    pthread_mutex_unlock(&lock);
    for (int w = 0; w < WORKERS; w++) pthread_join(threads[w], NULL);

    if (argc > 5) {
        FILE *f = fopen(argv[5], "w");
        if (!f) {
            perror(argv[5]);
            return 1;
        }
        for (size_t i = 0; i < total; i++) fprintf(f, "%.6f %.6f\n", scheduled[i] * 1e-9, latency[i]);
        fclose(f);
    }
    size_t ok = 0;
    double sum = 0;
    for (size_t i = 0; i < total; i++)
        if (latency[i] >= 0) {
            sum += latency[i];
            latency[ok++] = latency[i];
        }
    qsort(latency, ok, sizeof *latency, by_value);
#define Q(p) (ok ? latency[(size_t)fmin((double)ok - 1, floor((p) * (double)ok))] : 0.0)
    printf("{\"requests\": %zu, \"failures\": %zu, \"late\": %zu, \"p50\": %.6f, \"p90\": %.6f, "
           "\"p99\": %.6f, \"mean\": %.6f}\n",
           total, total - ok, late, Q(0.5), Q(0.9), Q(0.99), ok ? sum / (double)ok : 0.0);
    return 0;
}
