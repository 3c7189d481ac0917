/* hpctrain: command dispatch and the helpers every command shares. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Writes s with its control characters escaped (\n, \r, \t, \xHH): a
 * value or file name that contains them must not break the error into
 * several lines, nor send escape sequences to the terminal. */
static void put_escaped(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\r')
            fputs("\\r", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
}

void cli_error(const char *fmt, ...)
{
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fflush(stdout);   /* keep stdout and stderr in order on a terminal */
    fputs("hpctrain: ", stderr);
    put_escaped(stderr, line);
    fputc('\n', stderr);
}

int cli_lib_error(const char *what, ht_status s)
{
    const char *msg = ht_last_error();
    if (msg == NULL || *msg == '\0')
        msg = ht_status_str(s);
    /* cli_error keeps it to one line whatever the library wrote */
    if (what && *what && strstr(msg, what) == NULL)
        cli_error("%s: %s", what, msg);
    else
        cli_error("%s", msg);
    return CLI_EXIT_RUNTIME;
}

int cli_runtime_error(ht_status s)
{
    /* ht_runtime_init's messages name the variable at fault
     * (HPCTRAIN_ISA or HPCTRAIN_STREAM_STORES); any other message is
     * about the table choice, which HPCTRAIN_ISA controls */
    const char *msg = ht_last_error();
    return cli_lib_error(msg && strncmp(msg, "HPCTRAIN_", 9) == 0
                             ? NULL : "HPCTRAIN_ISA", s);
}

int cli_lib_error_file(const char *flag, const char *path, ht_status s)
{
    const char *msg = ht_last_error();
    size_t n = strlen(path);
    /* "--resume f.ckpt: checksum mismatch" rather than naming f.ckpt twice. */
    if (msg && strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') {
        cli_error("%s %s: %s", flag, path, msg + n + 2);
        return CLI_EXIT_RUNTIME;
    }
    char what[1100];
    snprintf(what, sizeof what, "%s %s", flag, path);
    return cli_lib_error(what, s);
}

/* Checks before a run that `path` can become a file: a name, in an
 * existing writable directory, not a directory itself. */
int cli_check_out_path(const char *flag, const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (path[0] == '\0' || path[strlen(path) - 1] == '/') {
        cli_error("%s %s: not a file name", flag, path);
        return CLI_EXIT_USAGE;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cli_error("%s %s: directory %s does not exist", flag, path, dir);
        return CLI_EXIT_USAGE;
    }
    if (access(dir, W_OK) != 0) {
        cli_error("%s %s: directory %s is not writable", flag, path, dir);
        return CLI_EXIT_USAGE;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        cli_error("%s %s: is a directory", flag, path);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

void cli_format_arch(const ht_config *cfg, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i <= cfg->n_layers && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%zu", i ? "-" : "",
                         cfg->sizes[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

void cli_print_placement(const ht_model *m)
{
    char place[1024];
    ht_model_placement_describe(m, place, sizeof place);
    fputs(place, stdout);
}

int cli_threads_too_many(const char *what, const char *value, int pus)
{
    cli_error("%s%s: this process may use %d PU%s; more threads would "
              "oversubscribe them", what, value, pus, pus == 1 ? "" : "s");
    return CLI_EXIT_RUNTIME;
}

/* The library runs more threads than PUs oversubscribed (--threads) or
 * clamps them (OMP_NUM_THREADS); the CLI refuses both, the same way for
 * every command. */
int cli_check_threads(const cli_opts *o, ht_thread_choice *c)
{
    ht_status s = ht_process_threads(c);
    if (o->threads > 0) {
        char v[16];
        snprintf(v, sizeof v, " %d", o->threads);
        return o->threads > c->pus ? cli_threads_too_many("--threads", v, c->pus)
                                   : 0;
    }
    if (s != HT_OK)
        return cli_lib_error("OMP_NUM_THREADS", s);
    if (c->clamped) {
        char v[64];
        snprintf(v, sizeof v, "=\"%s\"", getenv("OMP_NUM_THREADS"));
        return cli_threads_too_many("OMP_NUM_THREADS", v, c->pus);
    }
    return 0;
}

int cli_runtime_start(const cli_opts *o, const char *cmd, int show_seed,
                      unsigned long long seed)
{
    ht_status s = ht_runtime_init();
    if (s != HT_OK)
        return cli_runtime_error(s);
    ht_thread_choice c;
    int rc = cli_check_threads(o, &c);
    if (rc)
        return rc;
    if (o->threads > 0)
        ht_set_num_threads(o->threads);
    const int n = ht_get_num_threads();
    printf("hpctrain %s: isa %s, %d thread%s", cmd, ht_isa_name(), n,
           n == 1 ? "" : "s");
    if (o->threads == 0 && !c.from_env && c.threads < c.cores)
        printf(" (one per OpenMP place: %d place%s)", c.places,
               c.places == 1 ? "" : "s");
    if (show_seed)
        printf(", seed %llu", seed);
    printf("\n");
    fflush(stdout);
    return 0;
}

int cli_open_model(const cli_opts *o, const char *cmd, ht_model **m)
{
    struct stat st;
    if (stat(o->model, &st) != 0) {
        cli_error("--model %s: cannot open: %s", o->model, strerror(errno));
        return CLI_EXIT_RUNTIME;
    }
    int rc = cli_runtime_start(o, cmd, 0, 0);
    if (rc)
        return rc;
    ht_status s = ht_model_load(o->model, m);
    return s == HT_OK ? 0 : cli_lib_error_file("--model", o->model, s);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_usage(stderr, CLI_NONE);
        return CLI_EXIT_USAGE;
    }
    const char *c = argv[1];
    if (strcmp(c, "--help") == 0 || strcmp(c, "-h") == 0 || strcmp(c, "help") == 0) {
        enum cli_cmd which = argc > 2 ? cli_cmd_from_name(argv[2]) : CLI_NONE;
        cli_usage(stdout, which);
        return CLI_EXIT_OK;
    }
    if (strcmp(c, "--version") == 0) {
        printf("hpctrain %d.%d.%d\n", HT_VERSION_MAJOR, HT_VERSION_MINOR,
               HT_VERSION_PATCH);
        return CLI_EXIT_OK;
    }
    enum cli_cmd cmd = cli_cmd_from_name(c);
    if (cmd == CLI_NONE) {
        cli_error("%s: unknown %s (see 'hpctrain --help')", c,
                  c[0] == '-' ? "flag" : "command");
        return CLI_EXIT_USAGE;
    }
    cli_opts o;
    int rc = cli_parse(cmd, argc, argv, 2, &o);
    if (rc)
        return rc;
    if (o.help) {
        cli_usage(stdout, cmd);
        return CLI_EXIT_OK;
    }
    switch (cmd) {
    case CLI_TRAIN: return cli_train(&o);
    case CLI_EVAL: return cli_eval(&o);
    case CLI_INFO: return cli_info(&o);
    case CLI_BENCH: return cli_bench(&o);
    case CLI_PREDICT: return cli_predict(&o);
    case CLI_NONE: break;
    }
    return CLI_EXIT_USAGE;
}
