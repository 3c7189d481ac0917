/* Runs a command with thread and memory binding refused by the kernel, as
 * in a container without the permission: a seccomp filter makes
 * sched_setaffinity, mbind and set_mempolicy fail with EPERM (everything
 * else runs as usual), then execs the command. For tests/cli_threads.sh.
 * Exits 77 where the filter cannot be installed or does not take effect.
 * usage: deny_bind COMMAND [ARGS...] */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define HT_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define HT_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* if the syscall number is nr, fail it with EPERM */
#define DENY(nr)                                                            \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),                        \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: deny_bind COMMAND [ARGS...]\n");
        return 2;
    }
#ifdef HT_AUDIT_ARCH
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, HT_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        DENY(__NR_sched_setaffinity),
        DENY(__NR_mbind),
        DENY(__NR_set_mempolicy),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
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
    fprintf(stderr, "deny_bind: no seccomp filter for this architecture\n");
    return 77;
#endif
    execvp(argv[1], argv + 1);
    fprintf(stderr, "deny_bind: cannot run %s: %s\n", argv[1], strerror(errno));
    return 127;
}
