/* Ctrl-C (SIGINT) or SIGTERM during `hpctrain train`: the first one lets
 * the running epoch finish, so it is evaluated, logged and checkpointed as
 * usual, and then ends the run; the handler is one-shot (SA_RESETHAND), so
 * a second signal ends the process at once. An epoch cannot be saved half
 * done: a checkpoint holds whole epochs, and resuming one replays the
 * epoch's shuffle from its start. A SIGINT that was ignored when hpctrain
 * started (a background job of a non-interactive shell, nohup) stays
 * ignored, as the convention for such jobs is. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t got_signal;
static struct sigaction old_int, old_term;
static int armed_int, armed_term;

static void on_signal(int sig)
{
    static const char msg[] =
        "\nhpctrain: stopping after this epoch (again to stop at once)\n";
    got_signal = sig;
    /* write() is async-signal-safe; a failed write loses only the notice */
    ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)r;
}

static int arm(int sig, struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    if (sigaction(sig, NULL, old) != 0)
        return 0;
    if (sig == SIGINT && old->sa_handler == SIG_IGN)
        return 0;
    return sigaction(sig, &sa, NULL) == 0;
}

void cli_interrupt_arm(void)
{
    got_signal = 0;
    armed_int = arm(SIGINT, &old_int);
    armed_term = arm(SIGTERM, &old_term);
}

void cli_interrupt_disarm(void)
{
    if (armed_int)
        sigaction(SIGINT, &old_int, NULL);
    if (armed_term)
        sigaction(SIGTERM, &old_term, NULL);
    armed_int = armed_term = 0;
}

int cli_interrupted(void)
{
    return got_signal;
}
