/* A seccomp filter that refuses memory binding as a container without
 * the permission does (Docker's default profile without CAP_SYS_NICE
 * blocks mbind and set_mempolicy), and optionally thread binding too
 * (sched_setaffinity): those calls fail with EPERM, every other call runs
 * as usual. For tests/test_topology.c (in a forked child) and
 * tests/deny_bind.c (before exec). HT_TEST_DENY_BINDING is defined where
 * the filter exists (Linux on x86-64 or aarch64). */
#ifndef HT_TEST_DENY_BINDING_H
#define HT_TEST_DENY_BINDING_H

#if defined(__linux__)
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define HT_TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define HT_TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif
#endif

#if defined(__linux__) && defined(HT_TEST_AUDIT_ARCH)
#define HT_TEST_DENY_BINDING 1
#include <errno.h>

/* Installs the filter on the calling thread (and what it execs or forks
 * later), refusing sched_setaffinity too when threads_too: 0, or -1 where
 * the kernel will not (errno says why). */
static inline int ht_test_deny_binding(int threads_too)
{
    /* a syscall number that never matches, in place of sched_setaffinity */
    const unsigned setaff = threads_too ? (unsigned)__NR_sched_setaffinity
                                        : 0xffffffffu;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, HT_TEST_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mbind, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_set_mempolicy, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, setaff, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0 ? 0 : -1;
}
#endif

#endif
