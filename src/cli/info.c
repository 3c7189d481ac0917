/* `hpctrain info`: CPU, kernel table, threads and the hwloc topology. */
#include <hwloc.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "hpctrain/kernels.h"
#include "cli.h"
#include "hpctrain/topology.h"

/* Drops trailing blanks: CPUID's brand string is padded to 48 bytes with
 * spaces, and some CPUs (this Zen 5 guest's) keep them. */
static void trim_right(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

/* The CPU model: hwloc's CPUModel info, else /proc/cpuinfo. */
static void cpu_model(hwloc_topology_t topo, char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    hwloc_obj_t pkg = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0);
    const char *v = NULL;
    if (pkg)
        v = hwloc_obj_get_info_by_name(pkg, "CPUModel");
    if (v == NULL)
        v = hwloc_obj_get_info_by_name(hwloc_get_root_obj(topo), "CPUModel");
    if (v) {
        snprintf(buf, len, "%s", v);
        trim_right(buf);
        return;
    }
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Model", 5) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c += 1 + (c[1] == ' ');
                c[strcspn(c, "\n")] = '\0';
                snprintf(buf, len, "%s", c);
                trim_right(buf);
                break;
            }
        }
    }
    fclose(f);
}

static void print_bytes(unsigned long long b)
{
    if (b >= (1ull << 30) && b % (1ull << 30) == 0)
        printf("%llu GiB", b >> 30);
    else if (b >= (1ull << 20) && b % (1ull << 20) == 0)
        printf("%llu MiB", b >> 20);
    else if (b >= (1ull << 30))
        printf("%.1f GiB", (double)b / (double)(1ull << 30));
    else if (b >= (1ull << 10))
        printf("%llu KiB", b >> 10);
    else
        printf("%llu B", b);
}

static void print_caches(hwloc_topology_t topo)
{
    static const struct {
        hwloc_obj_type_t type;
        const char *name;
    } levels[] = {
        {HWLOC_OBJ_L1CACHE, "L1d"}, {HWLOC_OBJ_L1ICACHE, "L1i"},
        {HWLOC_OBJ_L2CACHE, "L2"},  {HWLOC_OBJ_L3CACHE, "L3"},
        {HWLOC_OBJ_L4CACHE, "L4"},
    };
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        int n = hwloc_get_nbobjs_by_type(topo, levels[i].type);
        if (n <= 0)
            continue;
        hwloc_obj_t c = hwloc_get_obj_by_type(topo, levels[i].type, 0);
        printf("  %-4s %d x ", levels[i].name, n);
        print_bytes(c->attr->cache.size);
        if (c->attr->cache.linesize)
            printf(", %u B lines", c->attr->cache.linesize);
        if (c->attr->cache.associativity > 0)
            printf(", %d-way", c->attr->cache.associativity);
        int pus = hwloc_bitmap_weight(c->cpuset);
        if (pus > 0)
            printf(", shared by %d PU%s", pus, pus == 1 ? "" : "s");
        printf("\n");
    }
}

static void print_topology(hwloc_topology_t topo)
{
    printf("topology (hwloc %s):\n", HWLOC_VERSION);
    printf("  packages   %d\n", hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE));
    int nn = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    printf("  NUMA nodes %d\n", nn);
    for (int i = 0; i < nn; i++) {
        hwloc_obj_t n = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, i);
        char cpus[256];
        hwloc_bitmap_list_snprintf(cpus, sizeof cpus, n->cpuset);
        printf("    node %u: ", n->os_index);
        print_bytes(n->attr->numanode.local_memory);
        printf(", cpus %s\n", cpus);
    }
    printf("  cores      %d\n", hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE));
    printf("  PUs        %d\n", hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU));
    print_caches(topo);
}

/* --topology: the machine as the placement layer sees it, and the plan for
 * --threads (default: physical cores or OMP_NUM_THREADS) and --batch. The
 * threads are checked against that machine's PUs: it is this one unless
 * HWLOC_XMLFILE or HWLOC_SYNTHETIC describe another, whose plan can be
 * printed here although nothing can run on it. */
static int print_plan(const cli_opts *o)
{
    ht_topology *t = NULL;
    ht_status s = ht_topology_load(&t);
    if (s != HT_OK)
        return cli_lib_error("hwloc", s);
    int threads = o->threads;
    if (threads == 0) {
        ht_thread_choice c;
        s = ht_topology_default_threads(t, &c);
        if (s != HT_OK) {
            ht_topology_free(t);
            return cli_lib_error("OMP_NUM_THREADS", s);
        }
        if (c.clamped) {
            ht_topology_free(t);
            char v[64];
            snprintf(v, sizeof v, "=\"%s\"", getenv("OMP_NUM_THREADS"));
            return cli_threads_too_many("OMP_NUM_THREADS", v, c.pus);
        }
        threads = c.threads;
    }
    ht_plan *p = NULL;
    s = ht_plan_compute(t, threads, o->cfg.batch, &p);
    if (s != HT_OK) {
        ht_topology_free(t);
        return cli_lib_error("--threads", s);
    }
    size_t need = ht_topology_describe(t, NULL, 0) + ht_plan_describe(p, NULL, 0);
    char *buf = malloc(need + 2);
    if (!buf) {
        ht_plan_free(p);
        ht_topology_free(t);
        cli_error("out of memory");
        return CLI_EXIT_RUNTIME;
    }
    size_t n = ht_topology_describe(t, buf, need + 2);
    ht_plan_describe(p, buf + n, need + 2 - n);
    fputs(buf, stdout);
    free(buf);
    ht_plan_free(p);
    ht_topology_free(t);
    return 0;
}

/* --model: what a checkpoint holds. It is loaded before anything is
 * printed, so that a bad file gives one line and nothing else; loading
 * checks the CRC and, for format 3, the stored weights hash against the
 * weights, so a loaded format-3 model's hash is the stored one. */
static void print_checkpoint(const char *path, const ht_model *m)
{
    static const char *const opt[] = {"sgd", "adam", "adamw"};
    const unsigned version = ht_model_checkpoint_version(m);
    const ht_config *c = ht_model_config(m);
    char arch[256];
    cli_format_arch(c, arch, sizeof arch);
    size_t params = 0;
    for (size_t l = 0; l < c->n_layers; l++)
        params += (c->sizes[l] + 1) * c->sizes[l + 1];
    printf("checkpoint: %s (format version %u)\n", path, version);
    printf("  model:  %s, loss %s, %s, batch %zu, %zu parameters\n", arch,
           c->loss == HT_LOSS_MSE ? "mse" : "xent", opt[c->optimizer],
           c->batch, params);
    printf("  state:  epoch %d, step %llu\n", ht_model_epoch(m),
           (unsigned long long)ht_model_step(m));
    if (version >= 3)
        printf("  weights hash %016llx (stored in the file; the loaded weights "
               "match it)\n", (unsigned long long)ht_model_hash(m));
    else
        printf("  weights hash %016llx (computed; format %u stores none)\n",
               (unsigned long long)ht_model_hash(m), version);
}

int cli_info(const cli_opts *o)
{
    ht_isa_info isa;
    ht_status s = ht_isa_get_info(&isa);
    if (s != HT_OK)
        return cli_runtime_error(s);
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0) {
        cli_error("hwloc: cannot initialise a topology");
        return CLI_EXIT_RUNTIME;
    }
    if (hwloc_topology_load(topo) != 0) {
        hwloc_topology_destroy(topo);
        cli_error("hwloc: cannot load the machine topology");
        return CLI_EXIT_RUNTIME;
    }
    /* the same rule as train's, unless the plan asked for is another
     * machine's: print_plan checks against that one */
    ht_thread_choice c;
    int rc = hwloc_topology_is_thissystem(topo) || !o->topology
                 ? cli_check_threads(o, &c) : 0;
    ht_model *ckpt = NULL;
    if (rc == 0 && o->model) {
        ht_status ls = ht_model_load(o->model, &ckpt);
        if (ls != HT_OK)
            rc = cli_lib_error_file("--model", o->model, ls);
    }
    if (rc) {
        hwloc_topology_destroy(topo);
        return rc;
    }
    char model[256];
    cpu_model(topo, model, sizeof model);
    printf("hpctrain %d.%d.%d\n", HT_VERSION_MAJOR, HT_VERSION_MINOR,
           HT_VERSION_PATCH);
    printf("cpu:      %s\n", model);
    printf("isa:      %s (available:", isa.name);
    for (size_t i = 0; ht_isa_known(i); i++)
        if (ht_isa_available(ht_isa_known(i)))
            printf(" %s", ht_isa_known(i));
    printf("; override with HPCTRAIN_ISA)\n");
    printf("kernel:   MR %d  NR %d  MC %zu  KC %zu  NC %zu\n", isa.mr, isa.nr,
           isa.mc, isa.kc, isa.nc);
    printf("threads:  %d\n", ht_get_num_threads());
    size_t stream_min = 0;
    if (ht_stream_policy(&stream_min, NULL))
        printf("stores:   non-temporal for outputs of %zu KiB or more "
               "(auto; HPCTRAIN_STREAM_STORES=off for never)\n",
               stream_min >> 10);
    else
        printf("stores:   never non-temporal (HPCTRAIN_STREAM_STORES=off)\n");
    print_topology(topo);
    hwloc_topology_destroy(topo);
    if (ckpt) {
        print_checkpoint(o->model, ckpt);
        ht_model_free(ckpt);
    }
    if (o->topology) {
        fflush(stdout);
        return print_plan(o);
    }
    return 0;
}
