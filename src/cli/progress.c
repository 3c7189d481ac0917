/* The in-epoch progress bar: a carriage-return line on a terminal, nothing
 * on a pipe (CI logs get only the per-epoch lines). */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define BAR_WIDTH 30
#define REDRAW_S 0.1

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_init(cli_progress *p, int quiet)
{
    p->enabled = !quiet && isatty(STDOUT_FILENO);
    p->epoch = p->epochs = 0;
    p->t0 = p->last = 0;
    p->drawn = 0;
}

void cli_progress_begin(cli_progress *p, int epoch, int epochs)
{
    p->epoch = epoch;
    p->epochs = epochs;
    p->t0 = cli_now();
    p->last = 0;
    p->drawn = 0;
}

void cli_progress_cb(size_t done, size_t total, double loss, void *user)
{
    cli_progress *p = user;
    if (!p->enabled || total == 0)
        return;
    double now = cli_now();
    if (done < total && now - p->last < REDRAW_S)
        return;
    p->last = now;
    double frac = (double)done / (double)total;
    int fill = (int)(frac * BAR_WIDTH);
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[BAR_WIDTH] = '\0';
    double el = now - p->t0;
    printf("\repoch %d/%d [%s] %3.0f%%  %8.0f samples/s  loss %.4f ",
           p->epoch, p->epochs, bar, 100.0 * frac,
           el > 0 ? (double)done / el : 0.0, loss);
    fflush(stdout);
    p->drawn = 1;
}

void cli_progress_end(cli_progress *p)
{
    if (p->enabled && p->drawn) {
        /* Clear the bar so the epoch line replaces it. */
        printf("\r%*s\r", BAR_WIDTH + 60, "");
        fflush(stdout);
    }
    p->drawn = 0;
}
