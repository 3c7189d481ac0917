/* Fuzz target: the command line parser (src/cli/args.c) on arbitrary
 * argument vectors. The first byte picks the command; the rest, split at
 * NUL bytes, are the arguments (at most 64). cli_parse must return 0
 * having said nothing, or 2 having reported exactly one error, with every
 * number it accepted finite; the sanitizers catch overruns (the --arch
 * text, long values). */
#define _GNU_SOURCE /* memfd_create, in fuzz_input.h */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n_errors;

/* The executable's cli_error prints the line; here it is counted, and
 * formatted so that its arguments are read. */
void cli_error(const char *fmt, ...)
{
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    n_errors++;
    fuzz_report(0, line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { MAX_ARGS = 64 };
    static const enum cli_cmd cmds[] = {CLI_TRAIN, CLI_EVAL, CLI_INFO,
                                        CLI_BENCH, CLI_PREDICT};
    if (size < 1)
        return 0;
    const enum cli_cmd cmd = cmds[data[0] % 5];
    char *copy = malloc(size); /* the arguments, NUL-terminated */
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    char *argv[MAX_ARGS + 3] = {"hpctrain", (char *)cli_cmd_name(cmd)};
    int argc = 2;
    for (size_t i = 0; i < size - 1 && argc < MAX_ARGS + 2;) {
        argv[argc++] = copy + i;
        i += strlen(copy + i) + 1;
    }
    argv[argc] = NULL;
    cli_opts o;
    n_errors = 0;
    const int rc = cli_parse(cmd, argc, argv, 2, &o);
    FUZZ_CHECK(rc == 0 || rc == 2);
    FUZZ_CHECK(rc == 0 ? n_errors == 0 : n_errors == 1);
    if (rc == 0) {
        const ht_config *c = &o.cfg;
        FUZZ_CHECK(isfinite(c->lr) && isfinite(c->momentum) &&
                   isfinite(c->l1) && isfinite(c->l2) &&
                   isfinite(c->dropout) && isfinite(c->weight_decay));
        FUZZ_CHECK(memchr(o.arch_text, '\0', sizeof o.arch_text) != NULL);
        fuzz_report(1, "");
    }
    free(copy);
    return 0;
}
