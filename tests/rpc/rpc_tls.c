/* tests/rpc/rpc_tls.c CERTDIR - tls: addresses end to end, with the
 * certificates tls_certs.sh made in CERTDIR: a good client calls Echo; a
 * client certificate of another CA, expired, or whose name is not on the
 * allow-list is refused by the server, a server certificate of another
 * CA, expired or not naming the host is refused by the client, each with
 * its own errno and a message that names the reason; missing and bad
 * files are refused when set. And plain tcp: on an address that is not
 * loopback needs vchan_rpc_options.insecure_tcp. Run by rpc_tls.sh. */
#include "config.h"

#include <arpa/inet.h>
#include <ev.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/rpc/rtest.h"

#define LIMIT_MS 20000

/* The checks here are in helpers that return nothing: a failure ends the
 * test (the harness ends a server left running). */
#undef CHECK
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr,                                        \
				"%s:%d: check failed: %s (errno %d: %s)\n",    \
				__FILE__, __LINE__, #cond, errno,              \
				strerror(errno));                              \
			exit(1);                                               \
		}                                                              \
	} while (0)

static const char *dir;

/* A file of CERTDIR. */
static const char *path(const char *name, const char *ext)
{
	static char buf[8][512];
	static int i;
	char *p = buf[i++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s%s", dir, name, ext);
	return p;
}

struct server {
	const char *addr;
	const char *cert; /* NULL: plain */
	const char *const *allow;
	int insecure;
};

static int serve(void *arg)
{
	struct server *s = arg;
	struct vchan_rpc_options o;
	struct vchan_rpc_tls t = {path("ca", ".pem"), path(s->cert, ".pem"),
				  path(s->cert, ".key"), s->allow};

	vchan_rpc_options_init(&o);
	o.insecure_tcp = s->insecure;
	return echo_serve_tls(&s->addr, 1, &o, s->cert != NULL ? &t : NULL);
}

static pid_t start(struct server *s)
{
	pid_t pid = tu_spawn(SRV_DOMID, serve, s);

	CHECK(pid > 0);
	return pid;
}

static void stop(pid_t pid)
{
	CHECK(tu_stop(pid, tu_ms(LIMIT_MS)) == 0);
}

struct outcome {
	int connect_errno; /* 0: connected */
	int status;	   /* of the Echo call, -1 when none was made */
	char msg[VCHAN_RPC_MESSAGE_MAX + 1];
};

/* Connect to `addr` with CA `ca` and certificate `cert` (NULL: no TLS
 * settings), and call Echo once. */
static void call(const char *addr, const char *ca, const char *cert,
		 struct outcome *out)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_client *cli =
	    vchan_rpc_client_new(loop, addr, &rpctest__echo__descriptor, NULL);
	Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;
	ProtobufCMessage *reply = NULL;

	CHECK(cli != NULL);
	if (cert != NULL) {
		struct vchan_rpc_tls t = {path(ca, ".pem"), path(cert, ".pem"),
					  path(cert, ".key"), NULL};

		CHECK(vchan_rpc_client_set_tls(cli, &t) == 0);
	}
	memset(out, 0, sizeof(*out));
	out->status = -1;
	if (vchan_rpc_client_connect(cli, tu_ms(LIMIT_MS)) < 0) {
		out->connect_errno = errno;
	} else {
		req.text = "over tls";
		out->status =
		    vchan_rpc_call_sync(cli, 0, &req.base, -1, &reply);
		if (out->status == VCHAN_RPC_OK)
			CHECK(strcmp(((Rpctest__EchoReply *)reply)->text,
				     "over tls") == 0);
		protobuf_c_message_free_unpacked(reply, NULL);
	}
	snprintf(out->msg, sizeof(out->msg), "%s",
		 vchan_rpc_client_message(cli));
	fprintf(stderr, "  %s as %s trusting %s: connect %s, call %d, \"%s\"\n",
		addr, cert ? cert : "-", ca, strerror(out->connect_errno),
		out->status, out->msg);
	vchan_rpc_client_free(cli);
	ev_loop_destroy(loop);
}

/* Calls that carry megabytes each way, several at once: records, partial
 * writes and reads that stop with the buffer full. */
static void big_calls(const char *addr)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_client *cli =
	    vchan_rpc_client_new(loop, addr, &rpctest__echo__descriptor, NULL);
	struct vchan_rpc_tls t = {path("ca", ".pem"), path("client", ".pem"),
				  path("client", ".key"), NULL};
	Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;
	size_t size = 3u << 20;
	uint8_t *blob = calloc(1, size);

	CHECK(cli != NULL && blob != NULL);
	CHECK(vchan_rpc_client_set_tls(cli, &t) == 0);
	req.blob.data = blob;
	req.blob.len = size;
	req.reply_size = (uint32_t)size;
	for (int i = 0; i < 4; i++) {
		ProtobufCMessage *reply = NULL;
		Rpctest__EchoReply *r;

		req.seq = (uint32_t)i;
		CHECK(vchan_rpc_call_sync(cli, 0, &req.base, tu_ms(LIMIT_MS),
					  &reply) == VCHAN_RPC_OK);
		r = (Rpctest__EchoReply *)reply;
		CHECK(r->seq == (uint32_t)i && r->blob.len == size);
		for (size_t j = 0; j < size; j += 4093)
			CHECK(r->blob.data[j] == (uint8_t)(j * 7 + (size_t)i));
		protobuf_c_message_free_unpacked(reply, NULL);
	}
	free(blob);
	vchan_rpc_client_free(cli);
	ev_loop_destroy(loop);
}

/* The client is refused by the server, and told why. */
static void refused_by_server(const char *addr, const char *cert,
			      const char *why)
{
	struct outcome o;

	call(addr, "ca", cert, &o);
	CHECK(o.connect_errno == EACCES);
	CHECK(strstr(o.msg, why) != NULL);
}

static void client_side(void)
{
	char addr[64];
	int port = 20000 + (int)(getpid() % 20000);
	const char *const allow[] = {"client-a", NULL};
	struct server s = {addr, "server", allow, 0};
	struct outcome o;
	pid_t pid;

	snprintf(addr, sizeof(addr), "tls:127.0.0.1:%d", port);
	pid = start(&s);
	call(addr, "ca", "client", &o); /* by its CN */
	CHECK(o.connect_errno == 0 && o.status == VCHAN_RPC_OK);
	call(addr, "ca", "client-san", &o); /* by its DNS name */
	CHECK(o.connect_errno == 0 && o.status == VCHAN_RPC_OK);
	big_calls(addr);
	refused_by_server(addr, "client-other", "not signed by its CA");
	refused_by_server(addr, "client-expired",
			  "our certificate has expired");
	refused_by_server(addr, "client-b", "not on its allow-list");
	/* The client trusts another CA than the server's. */
	call(addr, "otherca", "client-other", &o);
	CHECK(o.connect_errno == EKEYREJECTED && o.status == -1);
	CHECK(strstr(o.msg, "not signed by the CA we were given") != NULL);
	/* No TLS settings; plain TCP to a TLS server. */
	call(addr, "ca", NULL, &o);
	CHECK(o.connect_errno == ENOKEY);
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%d", port);
	call(addr, "ca", NULL, &o);
	CHECK(o.connect_errno != 0 || o.status != VCHAN_RPC_OK);
	stop(pid);
	fprintf(stderr, "ok   good clients call, bad ones are refused\n");

	/* Servers the client refuses. */
	snprintf(addr, sizeof(addr), "tls:127.0.0.1:%d", port);
	s.cert = "server-expired";
	pid = start(&s);
	call(addr, "ca", "client", &o);
	CHECK(o.connect_errno == EKEYEXPIRED);
	CHECK(strstr(o.msg, "server's certificate is refused: certificate "
			    "has expired") != NULL);
	stop(pid);
	s.cert = "server-other";
	pid = start(&s);
	call(addr, "ca", "client", &o);
	CHECK(o.connect_errno == EKEYREJECTED);
	CHECK(strstr(o.msg, "not signed by the CA we were given") != NULL);
	stop(pid);
	/* A certificate of our CA, but for another name (client-b's). */
	s.cert = "client-b";
	pid = start(&s);
	call(addr, "ca", "client", &o);
	CHECK(o.connect_errno == EKEYREJECTED);
	CHECK(strstr(o.msg, "does not name the host") != NULL);
	stop(pid);
	/* TLS to a plain TCP server. */
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%d", port);
	s.cert = NULL;
	pid = start(&s);
	snprintf(addr, sizeof(addr), "tls:127.0.0.1:%d", port);
	call(addr, "ca", "client", &o);
	CHECK(o.connect_errno == EPROTO);
	CHECK(strstr(o.msg, "does it speak TLS?") != NULL);
	stop(pid);
	fprintf(stderr, "ok   bad servers are refused\n");
}

/* Settings that cannot be used are refused when set. */
static void bad_files(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_server *srv = vchan_rpc_server_new(loop, NULL);
	struct vchan_rpc_client *cli = vchan_rpc_client_new(
	    loop, "tls:localhost:1", &rpctest__echo__descriptor, NULL);
	const char *const allow[] = {"client-a", NULL}, *const none[] = {NULL};
	struct vchan_rpc_tls t = {path("ca", ".pem"), path("client", ".pem"),
				  path("client", ".key"), allow};

	CHECK(srv != NULL && cli != NULL);
	CHECK(vchan_rpc_server_listen(srv, "tls:127.0.0.1:1") < 0 &&
	      errno == ENOKEY);
	t.ca_file = path("missing", ".pem");
	CHECK(vchan_rpc_client_set_tls(cli, &t) < 0 && errno == ENOENT);
	CHECK(vchan_rpc_server_set_tls(srv, &t) < 0 && errno == ENOENT);
	t.ca_file = path("ca", ".pem");
	t.key_file = path("missing", ".key");
	CHECK(vchan_rpc_client_set_tls(cli, &t) < 0 && errno == ENOENT);
	t.key_file = path("ca", ".cnf"); /* no PEM */
	CHECK(vchan_rpc_client_set_tls(cli, &t) < 0 && errno == EBADMSG);
	t.key_file = path("client-b", ".key"); /* another's key */
	CHECK(vchan_rpc_client_set_tls(cli, &t) < 0 && errno == EKEYREJECTED);
	t.key_file = path("client", ".key");
	t.cert_file = NULL;
	CHECK(vchan_rpc_client_set_tls(cli, &t) < 0 && errno == EINVAL);
	t.cert_file = path("client", ".pem");
	t.allow = none;
	CHECK(vchan_rpc_server_set_tls(srv, &t) < 0 && errno == EINVAL);
	t.allow = NULL;
	CHECK(vchan_rpc_server_set_tls(srv, &t) < 0 && errno == EINVAL);
	CHECK(vchan_rpc_client_set_tls(cli, &t) == 0);
	CHECK(vchan_rpc_client_set_tls(cli, &t) < 0 && errno == EBUSY);
	vchan_rpc_client_free(cli);
	vchan_rpc_server_free(srv);
	ev_loop_destroy(loop);
	fprintf(stderr, "ok   missing and bad files are refused\n");
}

/* An IPv4 address of this machine that is not loopback, or "". */
static void local_address(char *buf, size_t size)
{
	struct ifaddrs *ifs, *i;

	buf[0] = '\0';
	if (getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i != NULL && buf[0] == '\0'; i = i->ifa_next) {
		const struct sockaddr_in *in =
		    (const struct sockaddr_in *)i->ifa_addr;

		if (in != NULL && in->sin_family == AF_INET &&
		    (ntohl(in->sin_addr.s_addr) >> 24) != 127)
			inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t)size);
	}
	freeifaddrs(ifs);
}

/* Listen at `host` in the clear, with or without the opt-in. */
static int try_listen(const char *host, int insecure)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_options o;
	struct vchan_rpc_server *srv;
	char addr[128];
	int r, e;

	vchan_rpc_options_init(&o);
	o.insecure_tcp = insecure;
	srv = vchan_rpc_server_new(loop, &o);
	CHECK(srv != NULL);
	snprintf(addr, sizeof(addr), "tcp:%s:%d", host,
		 20000 + (int)((getpid() + 7) % 20000));
	r = vchan_rpc_server_listen(srv, addr);
	e = errno;
	vchan_rpc_server_free(srv);
	ev_loop_destroy(loop);
	errno = e;
	return r;
}

static void plain_tcp(void)
{
	char here[64], addr[128];
	const char *loopbacks[] = {"127.0.0.1", "127.1.2.3", "localhost",
				   "[::1]"};
	struct server s = {addr, NULL, NULL, 1};
	struct outcome o;
	pid_t pid;

	for (size_t i = 0; i < sizeof(loopbacks) / sizeof(*loopbacks); i++) {
		int r = try_listen(loopbacks[i], 0);

		/* ::1 may be missing (no IPv6): anything but EPERM. */
		CHECK(r == 0 ||
		      (strcmp(loopbacks[i], "[::1]") == 0 && errno != EPERM));
	}
	CHECK(try_listen("0.0.0.0", 0) < 0 && errno == EPERM);
	CHECK(try_listen("[::]", 0) < 0 && errno == EPERM);
	CHECK(try_listen("0.0.0.0", 1) == 0);
	fprintf(stderr, "ok   tcp: loopback allowed, the wildcard needs "
			"insecure_tcp\n");
	local_address(here, sizeof(here));
	if (here[0] == '\0') {
		fprintf(stderr, "  no address but loopback here: the wildcard "
				"address stood for one\n");
		return;
	}
	CHECK(try_listen(here, 0) < 0 && errno == EPERM);
	snprintf(addr, sizeof(addr), "tcp:%s:%d", here,
		 20000 + (int)((getpid() + 13) % 20000));
	pid = start(&s);
	call(addr, "ca", NULL, &o);
	CHECK(o.connect_errno == 0 && o.status == VCHAN_RPC_OK);
	stop(pid);
	fprintf(stderr, "ok   tcp:%s: refused, and served with insecure_tcp\n",
		here);
}

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	dir = argv[1];
	bad_files();
	plain_tcp();
	client_side();
	return 0;
}
