/* Runs a command with binding refused by the kernel (the filter of
 * deny_binding.h), for tests/cli_threads.sh: memory binding only with
 * --memory-only (mbind, set_mempolicy: Docker's default seccomp profile
 * without CAP_SYS_NICE), else thread binding (sched_setaffinity) too.
 * Exits 77 where the filter cannot be installed or does not take effect
 * (a kernel without seccomp, an emulator).
 * usage: deny_bind [--memory-only] COMMAND [ARGS...] */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "deny_binding.h"

int main(int argc, char **argv)
{
    int arg = 1, threads_too = 1;
    if (argc > 1 && strcmp(argv[1], "--memory-only") == 0) {
        threads_too = 0;
        arg = 2;
    }
    if (arg >= argc) {
        fprintf(stderr, "usage: deny_bind [--memory-only] COMMAND [ARGS...]\n");
        return 2;
    }
#ifdef HT_TEST_DENY_BINDING
    if (ht_test_deny_binding(threads_too) != 0) {
        fprintf(stderr, "deny_bind: cannot install a seccomp filter: %s\n",
                strerror(errno));
        return 77;
    }
    /* the filter must bite: the default memory policy is refused, and so
     * is rebinding to the current CPUs when threads are refused too */
    const int mem_refused = syscall(__NR_set_mempolicy, 0, NULL, 0UL) != 0 &&
                            errno == EPERM;
    cpu_set_t cur;
    const int cpu_ok = sched_getaffinity(0, sizeof cur, &cur) == 0;
    const int cpu_refused = cpu_ok &&
                            sched_setaffinity(0, sizeof cur, &cur) != 0 &&
                            errno == EPERM;
    if (!mem_refused || !cpu_ok || cpu_refused != threads_too) {
        fprintf(stderr, "deny_bind: the filter does not act as asked here\n");
        return 77;
    }
#else
    fprintf(stderr, "deny_bind: no seccomp filter for this system\n");
    return 77;
#endif
    execvp(argv[arg], argv + arg);
    fprintf(stderr, "deny_bind: cannot run %s: %s\n", argv[arg], strerror(errno));
    return 127;
}
