/* examples/storage/storage-server.c - serve a key-value store.
 *
 *   storage-server [--tls-ca FILE --tls-cert FILE --tls-key FILE
 *                   --tls-allow NAMES] [--insecure-tcp] LOGFILE ADDRESS...
 *   storage-server --repair LOGFILE
 *   storage-server --repair --disk DISK
 *   storage-server --format DISK
 *
 * e.g. `VCHAN_DOMID=1 storage-server /var/lib/kv.log vchan:2/storage
 * unix:/run/kv.sock`. Stops on SIGTERM or SIGINT.
 *
 * On start the log is replayed (examples/storage/kvlog.h). A record that
 * the end of the file cuts short is an append torn by a crash, never
 * acknowledged: it is cut off. Any other damage (a checksum that does not
 * match, a malformed record, an operation this version does not know) is
 * not the server's to decide: it refuses to start, names the offset and
 * the cause, and changes nothing. `--repair` then moves every damaged part
 * aside to LOGFILE.bad (or LOGFILE.bad.N when that exists) and keeps every
 * valid record, in order; the server starts normally afterwards. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "examples/storage/service.h"
#include "grant/grant.h"
#include "rpc/rpc.h"

/* Most names --tls-allow takes. */
#define MAX_ALLOW 64

static const char usage_text[] =
    "usage: storage-server [NETWORK OPTIONS] LOGFILE ADDRESS...\n"
    "       storage-server [NETWORK OPTIONS] --disk DISK ADDRESS...\n"
    "       storage-server --repair LOGFILE\n"
    "       storage-server --repair --disk DISK\n"
    "       storage-server --format DISK\n"
    "Serve the Storage service (Get, Put, Delete, List) from LOGFILE at\n"
    "each ADDRESS: vchan:CLIENT/PORT (a channel for that client\n"
    "domain, which reaches us as vchan:OUR_DOMID/PORT; CLIENT is a domain\n"
    "id or name, a name looked up for each offer), unix:PATH,\n"
    "tcp:HOST:PORT (in the clear: loopback only, unless --insecure-tcp)\n"
    "or tls:HOST:PORT (TLS, each side showing a certificate of the CA).\n"
    "LOGFILE is created when missing. Stops on SIGTERM or SIGINT.\n"
    "\n"
    "Network options (first):\n"
    "  --tls-ca FILE     the CA certificate (PEM) that signs the clients'\n"
    "                    certificates, and ours\n"
    "  --tls-cert FILE   our certificate (PEM)\n"
    "  --tls-key FILE    its private key (PEM)\n"
    "  --tls-allow NAMES the clients let in, by the name of their\n"
    "                    certificate (CN or DNS name), comma-separated;\n"
    "                    '*': any the CA signed. Repeatable.\n"
    "  --insecure-tcp    let a tcp: address be other than loopback\n"
    "                    (127.0.0.0/8, ::1): anyone who reaches it may\n"
    "                    read and change the store\n"
    "\n"
    "On start the log is replayed. A record cut short by the end of the\n"
    "file (an append torn by a crash, never acknowledged) is cut off. Any\n"
    "other damage (a bad checksum, a malformed record, an operation this\n"
    "version does not know) stops the server with its offset and cause,\n"
    "and nothing is changed.\n"
    "\n"
    "  --disk DISK  keep the log on the block device DISK instead of in\n"
    "            a file: a disk image or a block device (in a unikernel,\n"
    "            one of the domain's disks, \"\" for the first). The log\n"
    "            has a header of its own there; a blank disk is formatted,\n"
    "            one that holds anything else is refused unchanged.\n"
    "  --format  lay out an empty log on DISK, destroying what it holds,\n"
    "            and exit; a disk holding a log with records is refused\n"
    "  --repair  move every damaged part of LOGFILE aside to LOGFILE.bad\n"
    "            (or LOGFILE.bad.N), keep every valid record, and exit;\n"
    "            with --disk DISK the same for the log on a disk, the\n"
    "            damaged parts going to the file DISK.bad (or .bad.N)\n"
    "  -h, --help  show this text\n"
    "\n"
    "Exit status: 0 stopped by a signal, repaired or formatted; 1 could not\n"
    "start, repair or format; 2 bad arguments.\n";

static int usage(const char *why, const char *arg)
{
	fprintf(stderr, "storage-server: %s%s%s%s\n", why, arg ? " '" : "",
		arg ? arg : "", arg ? "'" : "");
	fputs("usage: storage-server [OPTIONS] LOGFILE ADDRESS... | "
	      "[OPTIONS] --disk DISK ADDRESS... | --repair [--disk] LOGFILE "
	      "| --format DISK\n"
	      "Try 'storage-server --help'.\n",
	      stderr);
	return 2;
}

/* Take the network options at argv[1...] into `tls` (its allow-list in
 * `allow`, MAX_ALLOW + 1 entries) and `net`, splitting the values of
 * --tls-allow in place. Returns how many arguments they were, or -1 after
 * saying what is wrong. */
static int net_options(int argc, char **argv, struct vchan_rpc_tls *tls,
		       const char **allow, struct storage_net *net)
{
	size_t na = 0;
	int i = 1;

	while (i < argc) {
		const char *opt = argv[i];
		char *v = argv[i + 1], *next;

		if (strcmp(opt, "--insecure-tcp") == 0) {
			net->insecure_tcp = 1;
			i++;
			continue;
		}
		if (strncmp(opt, "--tls-", 6) != 0)
			break;
		if (i + 1 >= argc) {
			usage("no value after", opt);
			return -1;
		}
		if (strcmp(opt, "--tls-ca") == 0) {
			tls->ca_file = v;
		} else if (strcmp(opt, "--tls-cert") == 0) {
			tls->cert_file = v;
		} else if (strcmp(opt, "--tls-key") == 0) {
			tls->key_file = v;
		} else if (strcmp(opt, "--tls-allow") == 0) {
			for (; v != NULL; v = next) {
				next = strchr(v, ',');
				if (next != NULL)
					*next++ = '\0';
				if (*v == '\0')
					continue;
				if (na == MAX_ALLOW) {
					usage("too many names in", opt);
					return -1;
				}
				allow[na++] = v;
			}
		} else {
			usage("unknown option", opt);
			return -1;
		}
		i += 2;
	}
	allow[na] = NULL;
	if (tls->ca_file != NULL || tls->cert_file != NULL ||
	    tls->key_file != NULL || na > 0) {
		tls->allow = na > 0 ? allow : NULL;
		net->tls = tls;
	}
	return i - 1;
}

int main(int argc, char **argv)
{
	struct vchan_rpc_tls tls = {0};
	const char *allow[MAX_ALLOW + 1];
	struct storage_net net = {0};
	int disk = 0, k;

	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "--repair") == 0) {
		if (argc == 4 && strcmp(argv[2], "--disk") == 0)
			return storage_repair_disk(argv[3]);
		if (argc != 3)
			return usage("--repair takes one LOGFILE", NULL);
		return storage_repair(argv[2]);
	}
	if (argc >= 2 && strcmp(argv[1], "--format") == 0) {
		if (argc != 3)
			return usage("--format takes one DISK", NULL);
		return storage_format(argv[2]);
	}
	k = net_options(argc, argv, &tls, allow, &net);
	if (k < 0)
		return 2;
	argv += k;
	argc -= k;
	if (argc >= 2 && strcmp(argv[1], "--disk") == 0) {
		if (argc < 4)
			return usage(argc < 3 ? "--disk needs a DISK"
					      : "no ADDRESS to serve at",
				     NULL);
		disk = 1;
		argv++;
		argc--;
	} else if (argc >= 2 && argv[1][0] == '-') {
		return usage("unknown option", argv[1]);
	}
	if (argc < 3)
		return usage(argc < 2 ? "no LOGFILE and ADDRESS"
				      : "no ADDRESS to serve at",
			     NULL);
	/* A bad platform environment is one line, naming the variable. */
	for (int i = 2; i < argc; i++)
		if (strncmp(argv[i], "vchan:", 6) == 0 &&
		    vchan_platform_check() < 0)
			return 1;
	return storage_serve((const char *const *)argv + 2, (size_t)argc - 2,
			     argv[1], disk, &net);
}
