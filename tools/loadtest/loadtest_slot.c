/* loadtest_slot: the parent's view of one load child, supervised as an explicit state x event
 * table (as s6-supervise writes its own): what happens when, say, a child dies after its last
 * report, or the run stops while a child is finishing, is one cell below.
 *
 *                  REPORT     FINAL        STOP       EXIT_CLEAN  EXIT_BAD  GRACE_OVER
 *   RUNNING        merge      merge>FIN    stop>STOP  crash       crash     -
 *   STOPPING       merge      merge>FIN    -          crash       crash     kill
 *   FINISHING      -          -            -          done        crash     kill
 *   DONE/CRASHED   -          -            -          -           -         -
 *
 * RUNNING: loading (or connecting); STOPPING: told to stop, its last report not in yet;
 * FINISHING: its last report is in (after a stop, or its -n share spent), its exit not yet.
 * A child that exits without its last report crashed, whatever its exit code: its counts up to
 * its last report are kept. GRACE_OVER comes 3 s after the run stopped. */
#include <signal.h>

#include "loadtest.h"

typedef void (*action_t)(lt_slot_t *s, const lt_stats_t *report);

static void ignore(lt_slot_t *s, const lt_stats_t *report)
{
    (void)s;
    (void)report;
}

static void merge(lt_slot_t *s, const lt_stats_t *report)
{
    lt_stats_merge(&s->view.stats, report);
    s->on_report(s, report);
}

static void merge_final(lt_slot_t *s, const lt_stats_t *report)
{
    merge(s, report);
    s->state = LT_SLOT_FINISHING;
}

static void stop(lt_slot_t *s, const lt_stats_t *report)
{
    (void)report;
    s->state = LT_SLOT_STOPPING;
    if (s->chan != NULL)
        uvproc_channel_send_new(s->chan, json_pack("{s:s}", "t", "stop"), NULL, NULL);
}

static void done(lt_slot_t *s, const lt_stats_t *report)
{
    (void)report;
    s->state = LT_SLOT_DONE;
    s->view.outcome = LT_CHILD_DONE;
}

static void crash(lt_slot_t *s, const lt_stats_t *report)
{
    (void)report;
    s->state = LT_SLOT_CRASHED;
    s->view.outcome = LT_CHILD_CRASHED;
    s->on_crash(s);
}

static void kill_it(lt_slot_t *s, const lt_stats_t *report)
{
    (void)report;
    if (s->proc != NULL)
        uvproc_kill(s->proc, SIGKILL);
}

static const action_t table[LT_SLOT_STATES][LT_SLOT_EVENTS] = {
    [LT_SLOT_RUNNING] = {[LT_EV_REPORT] = merge,
                         [LT_EV_FINAL] = merge_final,
                         [LT_EV_STOP] = stop,
                         [LT_EV_EXIT_CLEAN] = crash,
                         [LT_EV_EXIT_BAD] = crash,
                         [LT_EV_GRACE_OVER] = ignore},
    [LT_SLOT_STOPPING] = {[LT_EV_REPORT] = merge,
                          [LT_EV_FINAL] = merge_final,
                          [LT_EV_STOP] = ignore,
                          [LT_EV_EXIT_CLEAN] = crash,
                          [LT_EV_EXIT_BAD] = crash,
                          [LT_EV_GRACE_OVER] = kill_it},
    [LT_SLOT_FINISHING] = {[LT_EV_REPORT] = ignore,
                           [LT_EV_FINAL] = ignore,
                           [LT_EV_STOP] = ignore,
                           [LT_EV_EXIT_CLEAN] = done,
                           [LT_EV_EXIT_BAD] = crash,
                           [LT_EV_GRACE_OVER] = kill_it},
    [LT_SLOT_DONE] = {ignore, ignore, ignore, ignore, ignore, ignore},
    [LT_SLOT_CRASHED] = {ignore, ignore, ignore, ignore, ignore, ignore},
};

void lt_slot_event(lt_slot_t *s, lt_slot_event_t ev, const lt_stats_t *report)
{
    table[s->state][ev](s, report);
}
