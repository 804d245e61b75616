/* tests/testutil_check.c - the child and scenario helpers of testutil do
 * what the other tests rely on: statuses as documented, a deadline that
 * kills, stop and kill, and scenarios that end the children they leave
 * (only theirs) and go on after a failure. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testutil.h"

#define CHECK TU_CHECK

static int exit_3(void *arg)
{
	(void)arg;
	return 3;
}

static int wait_forever(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 1;
}

/* Stops itself, then ends when SIGTERM comes: returns 7. */
static int stopped_until_term(void *arg)
{
	sigset_t set;
	int sig;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGSTOP);
	return sigwait(&set, &sig) == 0 && sig == SIGTERM ? 7 : 1;
}

/* A process that is gone: no such process, or a zombie of ours not yet
 * reaped (which the helpers never leave). */
static int gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

static int statuses(void)
{
	pid_t p = tu_spawn(1, exit_3, NULL);

	CHECK(p > 0);
	CHECK(tu_wait(p, tu_ms(30000)) == 3);
	CHECK(gone(p));
	return 0;
}

static int deadline_kills(void)
{
	pid_t p = tu_spawn(1, wait_forever, NULL);

	CHECK(p > 0);
	CHECK(tu_wait(p, 50) == -1);
	CHECK(gone(p));
	return 0;
}

static int stop_continues_and_terminates(void)
{
	pid_t p = tu_spawn(1, stopped_until_term, NULL);
	siginfo_t si;

	CHECK(p > 0);
	/* Stopped for sure before tu_stop (WNOWAIT: the state stays). */
	CHECK(waitid(P_PID, (id_t)p, &si, WSTOPPED | WNOWAIT) == 0);
	CHECK(tu_stop(p, tu_ms(30000)) == 7);
	return 0;
}

/* The -1 of a failed tu_spawn reaches neither waitpid nor kill. */
static int bad_pids(void)
{
	int st;

	CHECK(tu_wait(-1, 10) == -1 && errno == EINVAL);
	CHECK(tu_stop(-1, 10) == -1 && tu_kill(0, 10) == -1);
	CHECK(tu_ended(-1, &st) == -1);
	return 0;
}

static int kill_and_ended(void)
{
	pid_t p = tu_spawn(1, wait_forever, NULL);
	siginfo_t si;
	int st = -1;

	CHECK(p > 0);
	CHECK(tu_ended(p, &st) == 0);
	CHECK(tu_kill(p, tu_ms(30000)) == 128 + SIGKILL);
	p = tu_spawn(1, exit_3, NULL);
	CHECK(p > 0);
	CHECK(waitid(P_PID, (id_t)p, &si, WEXITED | WNOWAIT) == 0);
	CHECK(tu_ended(p, &st) == 1 && st == 3);
	CHECK(gone(p));
	return 0;
}

static pid_t leftover;

static int leave_a_child(void)
{
	leftover = tu_spawn(1, wait_forever, NULL);
	CHECK(leftover > 0);
	return 0;
}

/* A scenario that leaves a child fails, and the child is ended; one
 * started before the scenario is not its to end; the scenarios after a
 * failed one still run. */
static int scenarios(void)
{
	struct tu_scenarios r = {0};
	pid_t before = tu_spawn(1, wait_forever, NULL);

	CHECK(before > 0);
	fprintf(stderr, "(two scenarios that fail on purpose follow)\n");
	CHECK(TU_SCENARIO(&r, "leaves a child", leave_a_child()) == 1);
	CHECK(gone(leftover));
	CHECK(!gone(before));
	CHECK(TU_SCENARIO(&r, "fails", 1) == 1);
	CHECK(TU_SCENARIO(&r, "passes", 0) == 0);
	CHECK(r.run == 3 && r.failed == 2);
	CHECK(tu_scenarios_done(&r) == 1);
	CHECK(tu_kill(before, tu_ms(30000)) == 128 + SIGKILL);
	return 0;
}

int main(void)
{
	struct tu_scenarios r = {0};

	TU_SCENARIO(&r, "statuses", statuses());
	TU_SCENARIO(&r, "deadline kills", deadline_kills());
	TU_SCENARIO(&r, "stop", stop_continues_and_terminates());
	TU_SCENARIO(&r, "kill and ended", kill_and_ended());
	TU_SCENARIO(&r, "bad pids", bad_pids());
	TU_SCENARIO(&r, "scenarios", scenarios());
	return tu_scenarios_done(&r);
}
