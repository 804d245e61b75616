/* tests/vchan/vchan_port.c - channels by port name:
 * - vchan_path builds /local/domain/<owner>/data/vchan/<peer>/<port>,
 *   with VCHAN_DOMID_SELF standing for our own id, and refuses bad port
 *   names, reserved ids and buffers too small;
 * - a server made with vchan_server_create_port publishes its keys at that
 *   path, a client made with vchan_client_connect_port finds it there, and
 *   data goes both ways;
 * - while that server lives, waiting or connected, no other server may
 *   take its path (EADDRINUSE, its keys untouched); once closed, one may;
 * - the port functions refuse bad names and reserved ids with EINVAL. */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "tests/vchan/vtest.h"
#include "xenstore/xs.h"

#define LIMIT_MS 20000
#define PORT	 "port_test-1@x"

/* Port names vchan_path and the port functions must refuse. */
static const char *const bad_names[] = {
    "", "a/b", "/abs", "a.b", "a b", "trail/", "é", "a\tb",
};

static int path_is(uint32_t owner, uint32_t peer, const char *port,
		   const char *want)
{
	char buf[VCHAN_PATH_MAX];

	CHECK(vchan_path(buf, sizeof(buf), owner, peer, port) ==
	      (int)strlen(want));
	CHECK(strcmp(buf, want) == 0);
	return 0;
}

/* Explicit domain ids: no store is needed. */
static int paths(void)
{
	char buf[VCHAN_PATH_MAX], name[VCHAN_PORT_MAX + 2];
	const char want[] = "/local/domain/3/data/vchan/5/x";

	CHECK(path_is(3, 5, "x", want) == 0);
	CHECK(path_is(0, 32751, "a-Z_9@",
		      "/local/domain/0/data/vchan/32751/a-Z_9@") == 0);
	/* Exactly the right size fits; one byte less does not. */
	CHECK(vchan_path(buf, sizeof(want), 3, 5, "x") ==
	      (int)sizeof(want) - 1);
	errno = 0;
	CHECK(vchan_path(buf, sizeof(want) - 1, 3, 5, "x") == -1 &&
	      errno == ENAMETOOLONG);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		errno = 0;
		CHECK(vchan_path(buf, sizeof(buf), 3, 5, bad_names[i]) == -1 &&
		      errno == EINVAL);
	}
	errno = 0;
	CHECK(vchan_path(buf, sizeof(buf), 3, 5, NULL) == -1 &&
	      errno == EINVAL);
	errno = 0;
	CHECK(vchan_path(NULL, 0, 3, 5, "x") == -1 && errno == EINVAL);
	/* Ids above DOMID_SELF are reserved and name no domain. */
	errno = 0;
	CHECK(vchan_path(buf, sizeof(buf), VCHAN_DOMID_SELF + 1, 5, "x") ==
		  -1 &&
	      errno == EINVAL);
	errno = 0;
	CHECK(vchan_path(buf, sizeof(buf), 3, UINT32_MAX, "x") == -1 &&
	      errno == EINVAL);
	/* The longest name fits in VCHAN_PATH_MAX, one more byte is refused. */
	memset(name, 'n', sizeof(name) - 1);
	name[VCHAN_PORT_MAX] = '\0';
	CHECK(vchan_path(buf, sizeof(buf), 32751, 32751, name) > 0);
	name[VCHAN_PORT_MAX] = 'n';
	name[VCHAN_PORT_MAX + 1] = '\0';
	errno = 0;
	CHECK(vchan_path(buf, sizeof(buf), 3, 5, name) == -1 &&
	      errno == EINVAL);
	return 0;
}

/* The port functions refuse what vchan_path refuses, before touching any
 * backend. */
static int bad_ports(void)
{
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		errno = 0;
		CHECK(vchan_server_create_port(CLI_DOMID, bad_names[i], 0, 0) ==
			  NULL &&
		      errno == EINVAL);
		errno = 0;
		CHECK(vchan_client_connect_port(SRV_DOMID, bad_names[i], 0) ==
			  NULL &&
		      errno == EINVAL);
	}
	errno = 0;
	CHECK(vchan_server_create_port(CLI_DOMID, NULL, 0, 0) == NULL &&
	      errno == EINVAL);
	errno = 0;
	CHECK(vchan_client_connect_port(SRV_DOMID, NULL, 0) == NULL &&
	      errno == EINVAL);
	errno = 0;
	CHECK(vchan_server_create_port(VCHAN_DOMID_SELF, "x", 0, 0) == NULL &&
	      errno == EINVAL);
	errno = 0;
	CHECK(vchan_client_connect_port(VCHAN_DOMID_SELF, "x", 0) == NULL &&
	      errno == EINVAL);
	errno = 0;
	CHECK(vchan_client_connect_port(SRV_DOMID, "x", -2) == NULL &&
	      errno == EINVAL);
	return 0;
}

struct ctx {
	struct tu_chan pipe; /* to the parent */
};

/* Every way of creating a server at `path` (port name `port`) fails with
 * EADDRINUSE, and leaves the event-channel key as it was. */
static int taken(vchan_xs *xs, const char *path, const char *port)
{
	char key[VCHAN_PATH_MAX + 16];
	char *before, *after;

	snprintf(key, sizeof(key), "%s/event-channel", path);
	before = vchan_xs_read(xs, key, NULL);
	CHECK(before != NULL);
	errno = 0;
	CHECK(vchan_server_create_port(CLI_DOMID, port, 1024, 1024) == NULL &&
	      errno == EADDRINUSE);
	errno = 0;
	CHECK(vchan_server_create(CLI_DOMID, path, 1024, 1024) == NULL &&
	      errno == EADDRINUSE);
	errno = 0;
	CHECK(vchan_server_create_orders(CLI_DOMID, path, 12, 12) == NULL &&
	      errno == EADDRINUSE);
	after = vchan_xs_read(xs, key, NULL);
	CHECK(after != NULL && strcmp(before, after) == 0);
	free(before);
	free(after);
	return 0;
}

/* Our own id stands for VCHAN_DOMID_SELF, on either side. */
static int self_paths(void)
{
	CHECK(path_is(VCHAN_DOMID_SELF, CLI_DOMID, "p",
		      "/local/domain/3/data/vchan/5/p") == 0);
	CHECK(path_is(CLI_DOMID, VCHAN_DOMID_SELF, "p",
		      "/local/domain/5/data/vchan/3/p") == 0);
	CHECK(path_is(VCHAN_DOMID_SELF, VCHAN_DOMID_SELF, "p",
		      "/local/domain/3/data/vchan/3/p") == 0);
	return 0;
}

static int server(void *arg)
{
	struct ctx *c = arg;
	char path[VCHAN_PATH_MAX], key[VCHAN_PATH_MAX + 16], buf[4];
	char go = 1;
	struct vchan *ch;
	vchan_xs *xs;
	char *v;

	CHECK(self_paths() == 0);
	ch = vchan_server_create_port(CLI_DOMID, PORT, 1024, 2048);
	CHECK(ch != NULL);
	/* The keys are where the documented layout puts them. */
	vt_path(path, sizeof(path), PORT);
	xs = vchan_xs_open();
	CHECK(xs != NULL);
	snprintf(key, sizeof(key), "%s/ring-ref", path);
	v = vchan_xs_read(xs, key, NULL);
	CHECK(v != NULL);
	free(v);
	snprintf(key, sizeof(key), "%s/event-channel", path);
	v = vchan_xs_read(xs, key, NULL);
	CHECK(v != NULL);
	free(v);
	CHECK(taken(xs, path, PORT) == 0);
	CHECK(tu_send(&c->pipe, 1, &go, 1) == 0);
	CHECK(vchan_recv(ch, buf, 4) == 4 && memcmp(buf, "ping", 4) == 0);
	CHECK(taken(xs, path, PORT) == 0);
	CHECK(vchan_send(ch, "pong", 4) == 4);
	CHECK(vchan_read(ch, buf, 1) == -1 && errno == EPIPE);
	CHECK(vchan_close(ch) == 0);
	/* Closing removed the path. */
	snprintf(key, sizeof(key), "%s/ring-ref", path);
	CHECK(vchan_xs_read(xs, key, NULL) == NULL && errno == ENOENT);
	/* The path is free again. */
	ch = vchan_server_create_port(CLI_DOMID, PORT, 1024, 1024);
	CHECK(ch != NULL);
	CHECK(vchan_close(ch) == 0);
	vchan_xs_close(xs);
	return 0;
}

static int client(void *arg)
{
	struct ctx *c = arg;
	struct vchan *ch;
	char go, buf[4];

	/* Nobody serves this port: nothing to wait for. */
	errno = 0;
	CHECK(vchan_client_connect_port(SRV_DOMID, "absent", 0) == NULL &&
	      errno == ETIMEDOUT);
	CHECK(tu_recv(&c->pipe, 1, &go, 1) == 0);
	ch = vchan_client_connect_port(SRV_DOMID, PORT, 5000);
	CHECK(ch != NULL);
	CHECK(vchan_read_size(ch) == 2048 && vchan_write_size(ch) == 1024);
	CHECK(vchan_send(ch, "ping", 4) == 4);
	CHECK(vchan_recv(ch, buf, 4) == 4 && memcmp(buf, "pong", 4) == 0);
	CHECK(vchan_close(ch) == 0);
	return 0;
}

static int run_pair(void)
{
	struct ctx c;
	pid_t s, k;
	int rs, rc;
	char go;

	CHECK(tu_chan_init(&c.pipe) == 0);
	s = tu_spawn(SRV_DOMID, server, &c);
	k = tu_spawn(CLI_DOMID, client, &c);
	CHECK(s > 0 && k > 0);
	/* The server says (through us) when the client may come. */
	CHECK(tu_recv(&c.pipe, 0, &go, 1) == 0);
	CHECK(tu_send(&c.pipe, 0, &go, 1) == 0);
	rc = tu_wait(k, LIMIT_MS);
	rs = tu_wait(s, LIMIT_MS);
	tu_chan_close(&c.pipe);
	return rs == 0 && rc == 0 ? 0 : 1;
}

int main(void)
{
	struct tu_scenarios r = {0};

	TU_SCENARIO(&r, "paths", paths());
	TU_SCENARIO(&r, "bad ports", bad_ports());
	TU_SCENARIO(&r, "server and client", run_pair());
	return tu_scenarios_done(&r);
}
