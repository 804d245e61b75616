/* examples/storage/storage-client.c - use a key-value store.
 *
 *   storage-client ADDRESS get KEY
 *   storage-client ADDRESS put KEY VALUE
 *   storage-client ADDRESS delete KEY
 *   storage-client ADDRESS list [PREFIX]
 *
 * ADDRESS: vchan:SERVER/PORT, unix:PATH, tcp:HOST:PORT or tls:HOST:PORT
 * (with --tls-ca FILE --tls-cert FILE --tls-key FILE first). Exit
 * status: 0 done, 1 key not found, 2 usage, 3 the call failed. */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "examples/storage/storage.pb-c.h"
#include "grant/grant.h"
#include "rpc/rpc.h"

/* How long a vchan server may take to publish its channel. */
#define VCHAN_WAIT_MS 5000

enum {
	EXIT_NOT_FOUND = 1,
	EXIT_USAGE = 2,
	EXIT_FAILED = 3,
};

static const char usage_text[] =
    "usage: storage-client [TLS OPTIONS] ADDRESS get KEY\n"
    "       storage-client [TLS OPTIONS] ADDRESS put KEY VALUE\n"
    "       storage-client [TLS OPTIONS] ADDRESS delete KEY\n"
    "       storage-client [TLS OPTIONS] ADDRESS list [PREFIX]\n"
    "       storage-client [TLS OPTIONS] ADDRESS - <COMMANDS\n"
    "Call the Storage service at ADDRESS: vchan:SERVER/PORT (SERVER a\n"
    "domain id or a domain's name), unix:PATH, tcp:HOST:PORT or\n"
    "tls:HOST:PORT (TLS: the server's certificate must be the CA's and\n"
    "name HOST; ours must be on the server's allow-list).\n"
    "\n"
    "TLS options (first; all three for a tls: address):\n"
    "  --tls-ca FILE   the CA certificate (PEM) that signs the server's\n"
    "                  certificate, and ours\n"
    "  --tls-cert FILE our certificate (PEM)\n"
    "  --tls-key FILE  its private key (PEM)\n"
    "\n"
    "  get KEY        print KEY's value\n"
    "  put KEY VALUE  store VALUE under KEY (answered once it is on disk)\n"
    "  delete KEY     remove KEY\n"
    "  list [PREFIX]  print the keys that start with PREFIX (default: all),\n"
    "                 one a line, sorted\n"
    "  -              the commands, one a line, from standard input, over\n"
    "                 one connection (put's VALUE is the rest of its line);\n"
    "                 stops at the first that fails, with its status\n"
    "  -h, --help     show this text\n"
    "\n"
    "A vchan server is waited for up to 5 s (its channel appears when it\n"
    "starts); a socket is tried once. Each call has a deadline of 10 s.\n"
    "Exit status: 0 done, 1 no such key (get, delete), 2 bad arguments,\n"
    "3 the server could not be reached or the call failed.\n";

static int usage(const char *why, const char *arg)
{
	if (why != NULL)
		fprintf(stderr, "storage-client: %s%s%s%s\n", why,
			arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
	fputs("usage: storage-client [TLS OPTIONS] ADDRESS get KEY | put KEY "
	      "VALUE | delete "
	      "KEY | list [PREFIX]\n"
	      "Try 'storage-client --help'.\n",
	      stderr);
	return EXIT_USAGE;
}

static int call(struct vchan_rpc_client *cli, const char *method,
		const ProtobufCMessage *req, ProtobufCMessage **rep)
{
	const ProtobufCServiceDescriptor *d = &storage__storage__descriptor;
	const ProtobufCMethodDescriptor *m =
	    protobuf_c_service_descriptor_get_method_by_name(d, method);
	int st;

	/* A vchan server offers a fresh channel only once it has seen its
	 * previous client go: a client that comes right after may find the
	 * old one, and its first call ends with "peer gone". Try again. */
	for (int i = 0;; i++) {
		st = vchan_rpc_call_sync(cli, (unsigned)(m - d->methods), req,
					 -1, rep);
		if (st != VCHAN_RPC_PEER_GONE || i == 20)
			break;
		usleep(20000);
	}

	if (st != VCHAN_RPC_OK)
		fprintf(stderr, "storage-client: %s: %s%s%s\n", method,
			vchan_rpc_status_str((enum vchan_rpc_status)st),
			*vchan_rpc_client_message(cli) ? ": " : "",
			vchan_rpc_client_message(cli));
	return st;
}

static int not_found(const char *key)
{
	fprintf(stderr, "storage-client: %s: not found\n", key);
	return EXIT_NOT_FOUND;
}

/* The command's arguments are right (argv[0] is the command). */
static int command_ok(int argc, char **argv)
{
	static const struct {
		const char *name, *args;
		int min, max;
	} cmds[] = {{"get", "KEY", 1, 1},
		    {"put", "KEY VALUE", 2, 2},
		    {"delete", "KEY", 1, 1},
		    {"list", "[PREFIX]", 0, 1}};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[0], cmds[i].name) != 0)
			continue;
		if (argc - 1 >= cmds[i].min && argc - 1 <= cmds[i].max)
			return 1;
		fprintf(stderr,
			"storage-client: %s takes %s (given %d argument%s)\n",
			cmds[i].name, cmds[i].args, argc - 1,
			argc == 2 ? "" : "s");
		usage(NULL, NULL);
		return 0;
	}
	usage("unknown command", argv[0]);
	return 0;
}

static int run(struct vchan_rpc_client *cli, int argc, char **argv)
{
	const char *op = argv[0];
	ProtobufCMessage *rep = NULL;
	int rc = 0;

	if (strcmp(op, "get") == 0) {
		Storage__GetRequest q = STORAGE__GET_REQUEST__INIT;
		Storage__GetReply *r;

		q.key = argv[1];
		if (call(cli, "Get", &q.base, &rep) != VCHAN_RPC_OK)
			return EXIT_FAILED;
		r = (Storage__GetReply *)rep;
		if (r->found)
			printf("%.*s\n", (int)r->value.len,
			       (const char *)r->value.data);
		else
			rc = not_found(argv[1]);
	} else if (strcmp(op, "put") == 0) {
		Storage__PutRequest q = STORAGE__PUT_REQUEST__INIT;

		q.key = argv[1];
		q.value.data = (uint8_t *)argv[2];
		q.value.len = strlen(argv[2]);
		if (call(cli, "Put", &q.base, &rep) != VCHAN_RPC_OK)
			return EXIT_FAILED;
	} else if (strcmp(op, "delete") == 0) {
		Storage__DeleteRequest q = STORAGE__DELETE_REQUEST__INIT;

		q.key = argv[1];
		if (call(cli, "Delete", &q.base, &rep) != VCHAN_RPC_OK)
			return EXIT_FAILED;
		if (!((Storage__DeleteReply *)rep)->existed)
			rc = not_found(argv[1]);
	} else {
		Storage__ListRequest q = STORAGE__LIST_REQUEST__INIT;
		Storage__ListReply *r;

		q.prefix = argc == 2 ? argv[1] : "";
		if (call(cli, "List", &q.base, &rep) != VCHAN_RPC_OK)
			return EXIT_FAILED;
		r = (Storage__ListReply *)rep;
		for (size_t i = 0; i < r->n_keys; i++)
			printf("%s\n", r->keys[i]);
	}
	protobuf_c_message_free_unpacked(rep, NULL);
	return rc;
}

/* `-`: the commands, one a line, from standard input, over one
 * connection: "get KEY", "put KEY VALUE" (VALUE is the rest of the
 * line), "delete KEY", "list [PREFIX]"; empty lines are skipped. Stops
 * at the first command that fails, with its status. */
static int run_lines(struct vchan_rpc_client *cli)
{
	char line[8192];
	unsigned n = 0;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *argv[3], *p = line, *nl = strchr(line, '\n');
		int argc = 0, rc;

		n++;
		if (nl != NULL)
			*nl = '\0';
		else if (!feof(stdin)) {
			fprintf(stderr,
				"storage-client: line %u: longer than %zu "
				"bytes\n",
				n, sizeof(line) - 2);
			return EXIT_USAGE;
		}
		if (*p == '\0')
			continue;
		/* The command, then its key, then the rest as one value. */
		while (p != NULL && argc < 3) {
			argv[argc++] = p;
			p = argc < 3 ? strchr(p, ' ') : NULL;
			if (p != NULL)
				*p++ = '\0';
		}
		if (!command_ok(argc, argv)) {
			fprintf(stderr, "storage-client: (line %u)\n", n);
			return EXIT_USAGE;
		}
		rc = run(cli, argc, argv);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Connect, or say why not: a vchan server is waited for (it publishes its
 * channel when it starts); a socket is tried once, so that a wrong path or
 * a server that is down shows at once, as what it is. */
static int reach(struct vchan_rpc_client *cli, const char *addr)
{
	int is_vchan = strncmp(addr, "vchan:", 6) == 0;
	int e;

	if (vchan_rpc_client_connect(cli, is_vchan ? VCHAN_WAIT_MS : 0) == 0)
		return 0;
	/* A TCP handshake still under way after no time at all: give it
	 * the time a vchan server gets. */
	if (!is_vchan && errno == ETIMEDOUT &&
	    vchan_rpc_client_connect(cli, VCHAN_WAIT_MS) == 0)
		return 0;
	e = errno;
	if (e == ENOENT && strncmp(addr, "unix:", 5) == 0)
		fprintf(stderr, "storage-client: %s: no such socket\n", addr);
	else if (e == ECONNREFUSED && !is_vchan)
		fprintf(stderr,
			"storage-client: %s: connection refused (no server "
			"listens there)\n",
			addr);
	else if (e == ECONNREFUSED)
		fprintf(stderr,
			"storage-client: %s: connection refused (the "
			"server's channel is gone)\n",
			addr);
	else if (e == ENOKEY)
		fprintf(stderr,
			"storage-client: %s: a tls: address needs --tls-ca, "
			"--tls-cert and --tls-key\n",
			addr);
	else if (*vchan_rpc_client_message(cli) != '\0')
		/* A TLS handshake that failed: the reason, in a sentence. */
		fprintf(stderr, "storage-client: %s: %s\n", addr,
			vchan_rpc_client_message(cli));
	else if (e == ETIMEDOUT && is_vchan)
		fprintf(stderr,
			"storage-client: %s: no server (none published this "
			"channel within %d s)\n",
			addr, VCHAN_WAIT_MS / 1000);
	else
		fprintf(stderr, "storage-client: %s: cannot connect: %s\n",
			addr, strerror(e));
	return -1;
}

/* What to look at when the TLS settings are refused with `e`. */
static const char *tls_hint(int e)
{
	if (e == EINVAL)
		return " (--tls-ca, --tls-cert and --tls-key are all needed)";
	if (e == ENOENT || e == EACCES)
		return " (a file of --tls-ca, --tls-cert or --tls-key)";
	if (e == EBADMSG)
		return " (a file holds no PEM certificate or key)";
	if (e == EKEYREJECTED)
		return " (the key is not the certificate's)";
	return "";
}

/* Take the TLS options at argv[1...] into `tls`. Returns how many
 * arguments they were, or -1 after saying what is wrong. */
static int tls_options(int argc, char **argv, struct vchan_rpc_tls *tls)
{
	int i = 1;

	for (; i < argc && strncmp(argv[i], "--tls-", 6) == 0; i += 2) {
		if (i + 1 >= argc) {
			usage("no value after", argv[i]);
			return -1;
		}
		if (strcmp(argv[i], "--tls-ca") == 0)
			tls->ca_file = argv[i + 1];
		else if (strcmp(argv[i], "--tls-cert") == 0)
			tls->cert_file = argv[i + 1];
		else if (strcmp(argv[i], "--tls-key") == 0)
			tls->key_file = argv[i + 1];
		else {
			usage("unknown option", argv[i]);
			return -1;
		}
	}
	return i - 1;
}

int main(int argc, char **argv)
{
	struct vchan_rpc_tls tls = {0};
	struct ev_loop *loop;
	struct vchan_rpc_client *cli;
	int rc, k;

	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	k = tls_options(argc, argv, &tls);
	if (k < 0)
		return EXIT_USAGE;
	argv += k;
	argc -= k;
	if (argc >= 2 && argv[1][0] == '-')
		return usage("unknown option", argv[1]);
	if (argc < 3)
		return usage(argc < 2 ? "no ADDRESS" : "no command", NULL);
	if (!(argc == 3 && strcmp(argv[2], "-") == 0) &&
	    !command_ok(argc - 2, argv + 2))
		return EXIT_USAGE;
	/* A bad platform environment is one line, naming the variable. */
	if (strncmp(argv[1], "vchan:", 6) == 0 && vchan_platform_check() < 0)
		return EXIT_FAILED;
	loop = ev_loop_new(EVFLAG_AUTO);
	if (loop == NULL)
		return EXIT_FAILED;
	cli = vchan_rpc_client_new(loop, argv[1], &storage__storage__descriptor,
				   NULL);
	if (cli == NULL) {
		fprintf(stderr,
			"storage-client: bad address '%s': expected "
			"vchan:SERVER/PORT, unix:PATH, tcp:HOST:PORT or "
			"tls:HOST:PORT\n",
			argv[1]);
		ev_loop_destroy(loop);
		return EXIT_USAGE;
	}
	if (k > 0 && vchan_rpc_client_set_tls(cli, &tls) < 0) {
		int e = errno;

		fprintf(stderr,
			"storage-client: cannot use the TLS settings: %s%s\n",
			strerror(e), tls_hint(e));
		vchan_rpc_client_free(cli);
		ev_loop_destroy(loop);
		return EXIT_FAILED;
	}
	if (reach(cli, argv[1]) < 0)
		rc = EXIT_FAILED;
	else if (argc == 3 && strcmp(argv[2], "-") == 0)
		rc = run_lines(cli);
	else
		rc = run(cli, argc - 2, argv + 2);
	vchan_rpc_client_free(cli);
	ev_loop_destroy(loop);
	return rc;
}
