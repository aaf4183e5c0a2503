/*
 * The one program of the localhost/scratch:test image (no libc, no shell, nothing else): a way for
 * tests to exercise a container whose image has only a static binary, as scratch/distroless images
 * do. Built with `gcc -static -Os` by images/build.sh.
 *
 *   tool exit N              exit with status N
 *   tool echo WORDS...       print WORDS on stdout, separated by spaces, then a newline
 *   tool err WORDS...        the same on stderr
 *   tool write PATH TEXT...  write TEXT (words joined by spaces, no newline) to PATH, creating it
 *   tool cat PATH            copy the file at PATH to stdout
 *   tool sleep SECONDS       sleep (default signal dispositions: SIGTERM ends it)
 *   tool env NAME            print the value of the environment variable NAME (exit 1 if unset)
 *   tool time RUNS CMD...    run CMD RUNS times, one after the other, and print the median wall
 *                            time of a run in milliseconds (bench/podman.py); exits 1 when a
 *                            run fails
 *
 * Without arguments it prints its usage and exits 2; an unknown command or a failing call exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static int words(FILE *to, int argc, char **argv, int newline) {
    for (int i = 0; i < argc; i++) {
        if (i > 0) fputc(' ', to);
        fputs(argv[i], to);
    }
    if (newline) fputc('\n', to);
    return fflush(to) == 0 ? 0 : 1;
}

static int write_file(const char *path, int argc, char **argv) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "tool: %s: %s\n", path, strerror(errno));
        return 1;
    }
    words(f, argc, argv, 0);
    return fclose(f) == 0 ? 0 : 1;
}

static int cat_file(const char *path) {
    char buf[8192];
    ssize_t n;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "tool: %s: %s\n", path, strerror(errno));
        return 1;
    }
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) return 1;
    }
    close(fd);
    return n < 0 || fflush(stdout) != 0;
}

static int sleep_for(const char *seconds) {
    double s = strtod(seconds, NULL);
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
    return 0;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int time_runs(int runs, char **cmd) {
    double *ms = calloc((size_t)runs, sizeof *ms);
    if (runs < 1 || ms == NULL) return 2;
    for (int i = 0; i < runs; i++) {
        struct timespec start, end;
        int status;
        clock_gettime(CLOCK_MONOTONIC, &start);
        pid_t pid = fork();
        if (pid == 0) {
            execv(cmd[0], cmd);
            _exit(127);
        }
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || status != 0) {
            fprintf(stderr, "tool: run %d of %s failed\n", i + 1, cmd[0]);
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &end);
        ms[i] = (double)(end.tv_sec - start.tv_sec) * 1e3
                + (double)(end.tv_nsec - start.tv_nsec) / 1e6;
    }
    qsort(ms, (size_t)runs, sizeof *ms, by_value);
    double median = runs % 2 ? ms[runs / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2;
    printf("%.3f\n", median);
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs("usage: tool exit N | echo WORDS... | err WORDS... | write PATH TEXT... | "
              "cat PATH | sleep SECONDS | env NAME | time RUNS CMD...\n",
              stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "exit") == 0 && argc == 3) return atoi(argv[2]);
    if (strcmp(cmd, "echo") == 0) return words(stdout, argc - 2, argv + 2, 1);
    if (strcmp(cmd, "err") == 0) return words(stderr, argc - 2, argv + 2, 1);
    if (strcmp(cmd, "write") == 0 && argc >= 3) return write_file(argv[2], argc - 3, argv + 3);
    if (strcmp(cmd, "cat") == 0 && argc == 3) return cat_file(argv[2]);
    if (strcmp(cmd, "sleep") == 0 && argc == 3) return sleep_for(argv[2]);
    if (strcmp(cmd, "env") == 0 && argc == 3) {
        const char *value = getenv(argv[2]);
        if (value == NULL) return 1;
        puts(value);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (strcmp(cmd, "time") == 0 && argc >= 4) return time_runs(atoi(argv[2]), argv + 3);
    fprintf(stderr, "tool: unknown command or wrong arguments: %s\n", cmd);
    return 1;
}
