/* Chooses the kernel table once per process: CPU features (cpuid on
 * x86-64, getauxval(AT_HWCAP) on aarch64, since qemu-user shows the host's
 * /proc/cpuinfo), overridable with HPCTRAIN_ISA=scalar|avx2|neon.
 * The only place outside simd/<isa>/ that knows which ISAs exist. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__aarch64__)
#include <sys/auxv.h>
#include <asm/hwcap.h>
#endif

#include "hpctrain/kernels.h"
#include "table.h"
#include "../src/error.h"
#include "../src/gemm.h"

typedef struct isa_entry {
    const char *name;
    void (*init)(ht_kernels *k);
    int (*available)(void);
} isa_entry;

static int always(void) { return 1; }

#if defined(HT_HAVE_AVX2)
static int have_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

#if defined(HT_HAVE_AVX512)
/* libgcc's check also requires the OS to save the zmm state (XCR0).
 * AVX512BW for the dropout's 16-bit compare (simd/avx512/dropout.c). */
static int have_avx512(void)
{
    return have_avx2() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw");
}
#endif

#if defined(HT_HAVE_NEON)
static int have_neon(void)
{
    return (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
}
#endif

/* Best first. A new ISA is one entry here. */
static const isa_entry isas[] = {
#if defined(HT_HAVE_AVX512)
    {"avx512", ht_kernels_init_avx512, have_avx512},
#endif
#if defined(HT_HAVE_AVX2)
    {"avx2", ht_kernels_init_avx2, have_avx2},
#endif
#if defined(HT_HAVE_NEON)
    {"neon", ht_kernels_init_neon, have_neon},
#endif
    {"scalar", ht_kernels_init_scalar, always},
};
#define N_ISAS (sizeof isas / sizeof isas[0])

/* Every ISA hpctrain has kernels for, on any architecture. */
static const char *const known_names[] = {"scalar", "avx2", "avx512", "neon"};
#define N_KNOWN (sizeof known_names / sizeof known_names[0])

static ht_kernels active;
static int active_ok;
static ht_status init_status = HT_OK;
static char init_msg[200];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const isa_entry *find(const char *name)
{
    for (size_t i = 0; i < N_ISAS; i++)
        if (strcmp(isas[i].name, name) == 0)
            return &isas[i];
    return NULL;
}

static ht_status select_isa(const char *name, char *msg, size_t msglen)
{
    const isa_entry *e = NULL;
    if (name == NULL || *name == '\0') {
        for (size_t i = 0; i < N_ISAS && !e; i++)
            if (isas[i].available())
                e = &isas[i];
    } else {
        int known = 0;
        for (size_t i = 0; i < N_KNOWN; i++)
            known |= strcmp(known_names[i], name) == 0;
        if (!known) {
            ht_snprintf(msg, msglen, "HPCTRAIN_ISA=%s: unknown ISA "
                        "(expected scalar, avx2, avx512 or neon)", name);
            return HT_ERR_ISA;
        }
        e = find(name);
        if (e == NULL) {
            ht_snprintf(msg, msglen, "HPCTRAIN_ISA=%s: this build has no %s "
                        "kernels (built for another architecture)", name, name);
            return HT_ERR_ISA;
        }
        if (!e->available()) {
            ht_snprintf(msg, msglen, "HPCTRAIN_ISA=%s: this CPU lacks %s",
                        name, name);
            return HT_ERR_ISA;
        }
    }
    ht_kernels k;
    e->init(&k);
    ht_gemm_tune_blocking(&k); /* block sizes from this machine's caches */
    active = k;
    active_ok = 1;
    return HT_OK;
}

/* A bad HPCTRAIN_STREAM_STORES is kept apart from the ISA's status, so
 * that ht_isa_select (which clears the latter) cannot hide it. */
static const char *stream_bad;

static void init_once(void)
{
    init_status = select_isa(getenv("HPCTRAIN_ISA"), init_msg, sizeof init_msg);
    ht_stream_policy(NULL, &stream_bad);
}

ht_status ht_runtime_init(void)
{
    pthread_once(&once, init_once);
    if (init_status != HT_OK)
        return ht_error(init_status, "%s", init_msg);
    if (stream_bad != NULL)
        return ht_error(HT_ERR_ARG, "HPCTRAIN_STREAM_STORES=%s: expected "
                        "auto or off", stream_bad);
    return HT_OK;
}

const ht_kernels *ht_kernels_active(void)
{
    return active_ok ? &active : NULL;
}

const char *ht_isa_name(void)
{
    return ht_runtime_init() == HT_OK ? active.name : NULL;
}

ht_status ht_isa_select(const char *name)
{
    pthread_once(&once, init_once);
    char msg[200];
    if (name == NULL)
        return ht_error(HT_ERR_ARG, "ht_isa_select: NULL name");
    ht_status s = select_isa(name, msg, sizeof msg);
    if (s != HT_OK)
        return ht_error(s, "%s", msg);
    init_status = HT_OK;
    return HT_OK;
}

const char *ht_isa_known(size_t i)
{
    return i < N_KNOWN ? known_names[i] : NULL;
}

int ht_isa_available(const char *name)
{
    const isa_entry *e = name ? find(name) : NULL;
    return e != NULL && e->available();
}

ht_status ht_isa_get_info(ht_isa_info *info)
{
    ht_status s = ht_runtime_init();
    if (s != HT_OK)
        return s;
    if (info == NULL)
        return ht_error(HT_ERR_ARG, "ht_isa_get_info: NULL info");
    info->name = active.name;
    info->mr = active.mr;
    info->nr = active.nr;
    info->mc = active.mc;
    info->kc = active.kc;
    info->nc = active.nc;
    return HT_OK;
}
