/* New-connection rate, both ends in C (so neither is the bottleneck a Python client would be).
 *   connrate server PORT              accept and close at once, forever
 *   connrate client HOST PORT SECONDS THREADS   prints {"conn_s": N, "errors": E}
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target;
static double deadline;
static long done_total, errors_total;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *client(void *arg) {
    (void)arg;
    long done = 0, errors = 0;
    char buf[16];
    while (now() < deadline) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) { errors++; continue; }
        if (connect(fd, (struct sockaddr *)&target, sizeof target) == 0 && read(fd, buf, sizeof buf) >= 0)
            done++;
        else
            errors++;
        close(fd);
    }
    pthread_mutex_lock(&lock);
    done_total += done;
    errors_total += errors;
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void *acceptor(void *arg) {
    int listener = *(int *)arg;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd >= 0) close(fd);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "server") == 0) {
        int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 4096)) {
            perror("listen");
            return 1;
        }
        pthread_t threads[4];
        for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, acceptor, &listener);
        pthread_join(threads[0], NULL);
        return 0;
    }
    if (argc != 6 || strcmp(argv[1], "client") != 0) {
        fprintf(stderr, "usage: connrate server PORT | connrate client HOST PORT SECONDS THREADS\n");
        return 2;
    }
    target.sin_family = AF_INET;
    target.sin_port = htons(atoi(argv[3]));
    inet_pton(AF_INET, argv[2], &target.sin_addr);
    int n = atoi(argv[5]);
    double seconds = atof(argv[4]), start = now();
    deadline = start + seconds;
    pthread_t *threads = calloc(n, sizeof *threads);
    for (int i = 0; i < n; i++) pthread_create(&threads[i], NULL, client, NULL);
    for (int i = 0; i < n; i++) pthread_join(threads[i], NULL);
    printf("{\"conn_s\": %ld, \"errors\": %ld}\n", (long)(done_total / (now() - start)), errors_total);
    return 0;
}
