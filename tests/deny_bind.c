/* Runs a command with thread and memory binding refused by the kernel, as
 * in a container without the permission (the filter of deny_binding.h),
 * for tests/cli_threads.sh. Exits 77 where the filter cannot be installed
 * or does not take effect (a kernel without seccomp, an emulator).
 * usage: deny_bind COMMAND [ARGS...] */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "deny_binding.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: deny_bind COMMAND [ARGS...]\n");
        return 2;
    }
#ifdef HT_TEST_DENY_BINDING
    if (ht_test_deny_binding() != 0) {
        fprintf(stderr, "deny_bind: cannot install a seccomp filter: %s\n",
                strerror(errno));
        return 77;
    }
    /* the filter must bite: rebinding to the current CPUs is refused */
    cpu_set_t cur;
    if (sched_getaffinity(0, sizeof cur, &cur) != 0 ||
        sched_setaffinity(0, sizeof cur, &cur) == 0 || errno != EPERM) {
        fprintf(stderr, "deny_bind: the filter does not refuse "
                "sched_setaffinity here\n");
        return 77;
    }
#else
    fprintf(stderr, "deny_bind: no seccomp filter for this system\n");
    return 77;
#endif
    execvp(argv[1], argv + 1);
    fprintf(stderr, "deny_bind: cannot run %s: %s\n", argv[1], strerror(errno));
    return 127;
}
