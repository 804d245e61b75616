/* tests/rpc/echo_server.c - the Echo service the rpc tests call. */
#include "config.h"

#include <ev.h>
#include <stdlib.h>

#include "tests/rpc/rtest.h"

/* A delayed answer, kept in a list so that a server stopped with answers
 * still due frees them. */
struct later {
	ev_timer timer;
	Rpctest__EchoReply_Closure closure;
	void *closure_data;
	char *text;
	uint32_t seq, reply_size;
	struct later **list, *next, *prev;
};

struct echo_ctx {
	Rpctest__Echo_Service svc; /* first: handlers get it back */
	struct ev_loop *loop;
	struct later *later;
};

static void reply_now(Rpctest__EchoReply_Closure closure, void *data,
		      const char *text, uint32_t seq, uint32_t reply_size)
{
	Rpctest__EchoReply r = RPCTEST__ECHO_REPLY__INIT;
	uint8_t *blob = NULL;

	if (reply_size > 0) {
		blob = malloc(reply_size);
		if (blob == NULL) {
			closure(NULL, data);
			return;
		}
		for (uint32_t i = 0; i < reply_size; i++)
			blob[i] = (uint8_t)(i * 7 + seq);
		r.blob.data = blob;
		r.blob.len = reply_size;
	}
	r.text = (char *)text;
	r.seq = seq;
	closure(&r, data);
	free(blob);
}

static void later_unlink(struct later *l)
{
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		*l->list = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
}

static void later_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct later *l = w->data;

	(void)loop;
	(void)revents;
	later_unlink(l);
	reply_now(l->closure, l->closure_data, l->text, l->seq, l->reply_size);
	free(l->text);
	free(l);
}

static void do_echo(Rpctest__Echo_Service *service,
		    const Rpctest__EchoRequest *in,
		    Rpctest__EchoReply_Closure closure, void *data)
{
	struct echo_ctx *e = (struct echo_ctx *)service;
	struct later *l;

	if (in->delay_ms == 0) {
		reply_now(closure, data, in->text, in->seq, in->reply_size);
		return;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL || (l->text = strdup(in->text)) == NULL) {
		free(l);
		closure(NULL, data);
		return;
	}
	l->closure = closure;
	l->closure_data = data;
	l->seq = in->seq;
	l->reply_size = in->reply_size;
	l->list = &e->later;
	l->next = e->later;
	if (e->later != NULL)
		e->later->prev = l;
	e->later = l;
	ev_timer_init(&l->timer, later_cb, in->delay_ms / 1000.0, 0.);
	l->timer.data = l;
	ev_timer_start(e->loop, &l->timer);
}

static void do_fail(Rpctest__Echo_Service *service,
		    const Rpctest__EchoRequest *in,
		    Rpctest__EchoReply_Closure closure, void *data)
{
	(void)service;
	(void)in;
	closure(NULL, data);
}

static void term_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

int echo_serve(const char *const *addrs, size_t n,
	       const struct vchan_rpc_options *opts)
{
	return echo_serve_tls(addrs, n, opts, NULL);
}

int echo_serve_tls(const char *const *addrs, size_t n,
		   const struct vchan_rpc_options *opts,
		   const struct vchan_rpc_tls *tls)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct echo_ctx e = {.svc = RPCTEST__ECHO__INIT(do_)};
	struct vchan_rpc_server *srv;
	ev_signal sig;

	if (loop == NULL)
		return 1;
	e.loop = loop;
	srv = vchan_rpc_server_new(loop, opts);
	if (srv == NULL || vchan_rpc_server_add_service(srv, &e.svc.base) < 0)
		return 1;
	if (tls != NULL && vchan_rpc_server_set_tls(srv, tls) < 0) {
		fprintf(stderr, "set_tls: %s\n", strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		if (vchan_rpc_server_listen(srv, addrs[i]) < 0) {
			fprintf(stderr, "listen %s: %s\n", addrs[i],
				strerror(errno));
			return 1;
		}
	ev_signal_init(&sig, term_cb, SIGTERM);
	ev_signal_start(loop, &sig);
	ev_run(loop, 0);
	ev_signal_stop(loop, &sig);
	vchan_rpc_server_free(srv);
	while (e.later != NULL) {
		struct later *l = e.later;

		later_unlink(l);
		ev_timer_stop(loop, &l->timer);
		free(l->text);
		free(l);
	}
	ev_loop_destroy(loop);
	return 0;
}

void rt_tmp_path(char *buf, size_t size, const char *name)
{
	const char *d = getenv("VCHAN_TEST_TMP");

	snprintf(buf, size, "%s/%s", d != NULL ? d : "/tmp", name);
}
