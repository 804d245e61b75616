/* rpc/tls.c - TLS sessions of the rpc runtime on OpenSSL (see tls.h). */
#include "config.h"

#include "rpc/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "rpc/rpc.h"
#include "rpc/sock.h"

#define WHY_MAX 256

struct rpc_tls_ctx {
	SSL_CTX *ssl;
	BIO_METHOD *bio; /* the socket through sock.h */
	int server;
	char **allow; /* server: NULL-terminated; "*" any */
};

struct rpc_tls {
	struct rpc_tls_ctx *x;
	SSL *ssl;
	int fd;
	int want_write;
	/* Client: the server has accepted our certificate (see
	 * rpc_tls_handshake). */
	int accepted;
	/* The allow-list refused the client (set by verify_cb). */
	char refused[WHY_MAX];
	char why[WHY_MAX];
};

/* ---- the socket as a BIO: sock.h's calls, so no SIGPIPE ------------- */

static int bio_write(BIO *b, const char *buf, int len)
{
	ssize_t n = rpc_sock_write(BIO_get_fd(b, NULL), buf, (size_t)len);

	BIO_clear_retry_flags(b);
	if (n == 0)
		BIO_set_retry_write(b);
	return n == 0 ? -1 : (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
	ssize_t n = rpc_sock_read(BIO_get_fd(b, NULL), buf, (size_t)len);

	BIO_clear_retry_flags(b);
	if (n == 0) {
		BIO_set_retry_read(b);
		return -1;
	}
	if (n < 0 && errno == EPIPE)
		return 0; /* the end of the stream */
	return (int)n;
}

static BIO_METHOD *bio_method(void)
{
	/* The socket BIO's fd keeping and controls, our reads and writes. */
	BIO_METHOD *m = BIO_meth_new(
	    BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
	    "vchan-rpc socket");
	const BIO_METHOD *s = BIO_s_socket();

	if (m == NULL || !BIO_meth_set_write(m, bio_write) ||
	    !BIO_meth_set_read(m, bio_read) ||
	    !BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(s)) ||
	    !BIO_meth_set_create(m, BIO_meth_get_create(s)) ||
	    !BIO_meth_set_destroy(m, BIO_meth_get_destroy(s))) {
		BIO_meth_free(m);
		return NULL;
	}
	return m;
}

/* ---- the peer's names -------------------------------------------------- */

static int allowed(const struct rpc_tls_ctx *x, const char *name, size_t len)
{
	/* A name with a NUL inside is a forgery, never a match. */
	if (memchr(name, '\0', len) != NULL)
		return 0;
	for (char **a = x->allow; *a != NULL; a++)
		if (strlen(*a) == len && strncasecmp(*a, name, len) == 0)
			return 1;
	return 0;
}

/* 1 when the certificate's CN or a DNS subjectAltName is on the
 * allow-list; else 0, with its CN in `cn` for the reason. */
static int cert_allowed(const struct rpc_tls_ctx *x, X509 *cert, char *cn,
			size_t cnsize)
{
	GENERAL_NAMES *sans;
	int ok = 0, i;

	cn[0] = '\0';
	if (strcmp(x->allow[0], "*") == 0 && x->allow[1] == NULL)
		return 1;
	i = X509_NAME_get_index_by_NID(X509_get_subject_name(cert),
				       NID_commonName, -1);
	if (i >= 0) {
		ASN1_STRING *s = X509_NAME_ENTRY_get_data(
		    X509_NAME_get_entry(X509_get_subject_name(cert), i));
		int n = ASN1_STRING_length(s);

		ok = allowed(x, (const char *)ASN1_STRING_get0_data(s),
			     (size_t)n);
		snprintf(cn, cnsize, "%.*s", n > 64 ? 64 : n,
			 (const char *)ASN1_STRING_get0_data(s));
	}
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (i = 0; !ok && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);

		if (g->type == GEN_DNS)
			ok = allowed(
			    x,
			    (const char *)ASN1_STRING_get0_data(g->d.dNSName),
			    (size_t)ASN1_STRING_length(g->d.dNSName));
	}
	GENERAL_NAMES_free(sans);
	for (char *p = cn; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return ok;
}

/* OpenSSL has checked the chain up to `depth`; a server adds the
 * allow-list to the client's own certificate. */
static int verify_cb(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
	    store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct rpc_tls *t = SSL_get_app_data(ssl);
	char cn[80];

	if (!ok || !t->x->server || X509_STORE_CTX_get_error_depth(store) != 0)
		return ok;
	if (cert_allowed(t->x, X509_STORE_CTX_get_current_cert(store), cn,
			 sizeof(cn)))
		return 1;
	snprintf(t->refused, sizeof(t->refused),
		 "TLS: the client's certificate (CN \"%s\") names no client "
		 "on the allow-list",
		 cn);
	/* The client is sent a "bad certificate" alert. */
	X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
	return 0;
}

/* A client got the server's session ticket: the server has accepted us.
 * Returns 0: the session is not kept. */
static int ticket_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct rpc_tls *t = SSL_get_app_data(ssl);

	(void)sess;
	t->accepted = 1;
	return 0;
}

/* ---- contexts ---------------------------------------------------------- */

/* 0 when `path` can be opened for reading, else -1 + errno: OpenSSL's own
 * errors would not tell a missing file from a bad one. */
static int readable(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

void rpc_tls_ctx_free(struct rpc_tls_ctx *x)
{
	if (x == NULL)
		return;
	SSL_CTX_free(x->ssl);
	BIO_meth_free(x->bio);
	if (x->allow != NULL)
		for (char **a = x->allow; *a != NULL; a++)
			free(*a);
	free(x->allow);
	free(x);
}

static int copy_allow(struct rpc_tls_ctx *x, const char *const *allow)
{
	size_t n = 0;

	while (allow[n] != NULL)
		n++;
	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	x->allow = calloc(n + 1, sizeof(*x->allow));
	if (x->allow == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((x->allow[i] = strdup(allow[i])) == NULL)
			return -1;
	return 0;
}

struct rpc_tls_ctx *rpc_tls_ctx_new(const struct vchan_rpc_tls *cfg, int server)
{
	struct rpc_tls_ctx *x;
	int e;

	if (cfg == NULL || cfg->ca_file == NULL || cfg->cert_file == NULL ||
	    cfg->key_file == NULL || (server && cfg->allow == NULL)) {
		errno = EINVAL;
		return NULL;
	}
	if (readable(cfg->ca_file) < 0 || readable(cfg->cert_file) < 0 ||
	    readable(cfg->key_file) < 0)
		return NULL;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->server = server;
	if (server && copy_allow(x, cfg->allow) < 0)
		goto fail;
	x->bio = bio_method();
	x->ssl =
	    SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (x->bio == NULL || x->ssl == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	SSL_CTX_set_min_proto_version(x->ssl, TLS1_2_VERSION);
	/* A peer that closes without a close_notify has ended its stream
	 * (the frames tell whether anything is missing); partial writes
	 * from a buffer that conn.c may move between tries. */
	SSL_CTX_set_options(x->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF |
					SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(x->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
				     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* With TLS 1.3 a client has finished its handshake before the
	 * server has checked its certificate, and the server's refusal (an
	 * alert, then a close) would be lost to the reset that the client's
	 * first call meets. The server's one session ticket comes once it
	 * has accepted the client: the client writes nothing before (see
	 * rpc_tls_handshake). The ticket is never used to resume. */
	if (server) {
		SSL_CTX_set_num_tickets(x->ssl, 1);
		SSL_CTX_set_session_cache_mode(x->ssl, SSL_SESS_CACHE_OFF);
	} else {
		SSL_CTX_set_session_cache_mode(
		    x->ssl, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
		SSL_CTX_sess_set_new_cb(x->ssl, ticket_cb);
	}
	SSL_CTX_set_verify(x->ssl,
			   SSL_VERIFY_PEER |
			       (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
			   verify_cb);
	if (SSL_CTX_load_verify_locations(x->ssl, cfg->ca_file, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(x->ssl, cfg->cert_file) != 1) {
		errno = EBADMSG;
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(x->ssl, cfg->key_file,
					SSL_FILETYPE_PEM) != 1) {
		unsigned long err = ERR_peek_last_error();

		/* A key that is fine but another's is told apart. */
		errno =
		    ERR_GET_LIB(err) == ERR_LIB_X509 &&
			    (ERR_GET_REASON(err) ==
				 X509_R_KEY_VALUES_MISMATCH ||
			     ERR_GET_REASON(err) == X509_R_KEY_TYPE_MISMATCH)
			? EKEYREJECTED
			: EBADMSG;
		goto fail;
	}
	if (SSL_CTX_check_private_key(x->ssl) != 1) {
		errno = EKEYREJECTED;
		goto fail;
	}
	if (server) {
		/* Tell clients which CAs we take. */
		STACK_OF(X509_NAME) *names =
		    SSL_load_client_CA_file(cfg->ca_file);

		if (names != NULL)
			SSL_CTX_set_client_CA_list(x->ssl, names);
	}
	ERR_clear_error();
	return x;
fail:
	e = errno;
	ERR_clear_error();
	rpc_tls_ctx_free(x);
	errno = e;
	return NULL;
}

/* ---- sessions ---------------------------------------------------------- */

struct rpc_tls *rpc_tls_new(struct rpc_tls_ctx *x, int fd, const char *host)
{
	struct rpc_tls *t = calloc(1, sizeof(*t));
	BIO *b;

	if (t == NULL)
		return NULL;
	t->x = x;
	t->fd = fd;
	t->ssl = SSL_new(x->ssl);
	b = BIO_new(x->bio);
	if (t->ssl == NULL || b == NULL) {
		BIO_free(b);
		goto fail;
	}
	BIO_set_fd(b, fd, BIO_NOCLOSE);
	SSL_set_bio(t->ssl, b, b);
	SSL_set_app_data(t->ssl, t);
	if (x->server) {
		SSL_set_accept_state(t->ssl);
	} else {
		unsigned char ip[16];
		int is_ip = inet_pton(AF_INET, host, ip) == 1 ||
			    inet_pton(AF_INET6, host, ip) == 1;

		SSL_set_connect_state(t->ssl);
		if ((is_ip ? X509_VERIFY_PARAM_set1_ip_asc(
				 SSL_get0_param(t->ssl), host)
			   : SSL_set1_host(t->ssl, host) &&
				 SSL_set_tlsext_host_name(t->ssl, host)) != 1)
			goto fail;
	}
	return t;
fail:
	ERR_clear_error();
	SSL_free(t->ssl);
	free(t);
	errno = ENOMEM;
	return NULL;
}

void rpc_tls_free(struct rpc_tls *t)
{
	if (t == NULL)
		return;
	/* Our end of the stream, if the socket takes it now: the peer
	 * learns that nothing was cut off. */
	if (SSL_is_init_finished(t->ssl) && t->why[0] == '\0')
		SSL_shutdown(t->ssl);
	ERR_clear_error();
	SSL_free(t->ssl);
	free(t);
}

static const char *side(const struct rpc_tls *t)
{
	return t->x->server ? "client" : "server";
}

/* A failed operation: set t->why and errno, return -1. */
static int failed(struct rpc_tls *t, int err)
{
	unsigned long e = ERR_peek_error();
	long v = SSL_get_verify_result(t->ssl);
	int reason = ERR_GET_REASON(e), eno;

	if (err == SSL_ERROR_SYSCALL && e == 0 &&
	    !SSL_is_init_finished(t->ssl) &&
	    (errno == 0 || errno == EPIPE || errno == ECONNRESET)) {
		eno = EPROTO;
		snprintf(t->why, sizeof(t->why),
			 "TLS: the %s closed the connection during the "
			 "handshake (does it speak TLS?)",
			 side(t));
	} else if (err == SSL_ERROR_SYSCALL && e == 0) {
		/* The socket failed: errno is its error. */
		eno = errno != 0 ? errno : EPIPE;
		snprintf(t->why, sizeof(t->why),
			 "TLS: the connection failed: %s", strerror(eno));
	} else if (t->refused[0] != '\0') {
		eno = EKEYREJECTED;
		memcpy(t->why, t->refused, sizeof(t->why));
	} else if (v != X509_V_OK) {
		const char *hint = "";

		eno = EKEYREJECTED;
		if (v == X509_V_ERR_CERT_HAS_EXPIRED ||
		    v == X509_V_ERR_CERT_NOT_YET_VALID)
			eno = EKEYEXPIRED;
		if (v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
		    v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
		    v == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
		    v == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN)
			hint = " (not signed by the CA we were given)";
		if (v == X509_V_ERR_HOSTNAME_MISMATCH ||
		    v == X509_V_ERR_IP_ADDRESS_MISMATCH)
			hint = " (it does not name the host we connected to)";
		snprintf(t->why, sizeof(t->why),
			 "TLS: the %s's certificate is refused: %s%s", side(t),
			 X509_verify_cert_error_string(v), hint);
	} else if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		   reason > SSL_AD_REASON_OFFSET &&
		   reason < SSL_AD_REASON_OFFSET + 256) {
		int alert = reason - SSL_AD_REASON_OFFSET;
		const char *hint = "";

		eno = EACCES;
		if (alert == SSL_AD_UNKNOWN_CA)
			hint = ": our certificate is not signed by its CA";
		else if (alert == SSL_AD_CERTIFICATE_EXPIRED)
			hint = ": our certificate has expired";
		else if (alert == SSL_AD_BAD_CERTIFICATE && t->x->server == 0)
			hint = ": our certificate is not on its allow-list "
			       "(or is damaged)";
		else if (alert == SSL_AD_CERTIFICATE_REQUIRED)
			hint = ": we showed no certificate";
		snprintf(t->why, sizeof(t->why),
			 "TLS: the %s refused the handshake (alert \"%s\")%s",
			 side(t), SSL_alert_desc_string_long(alert), hint);
	} else {
		eno = EPROTO;
		snprintf(t->why, sizeof(t->why), "TLS: handshake failed: %s",
			 e != 0 ? ERR_reason_error_string(e)
				: "the peer speaks no TLS");
	}
	ERR_clear_error();
	errno = eno;
	return -1;
}

/* The result `r` of an SSL call: > 0 as is; 0 when it waits for the
 * socket; -1 + errno on failure or the end of the stream. */
static int result(struct rpc_tls *t, int r)
{
	int err;

	if (r > 0)
		return r;
	err = SSL_get_error(t->ssl, r);
	if (err == SSL_ERROR_WANT_READ)
		return 0;
	if (err == SSL_ERROR_WANT_WRITE) {
		t->want_write = 1;
		return 0;
	}
	if (err == SSL_ERROR_ZERO_RETURN) {
		ERR_clear_error();
		errno = EPIPE;
		return -1;
	}
	return failed(t, err);
}

int rpc_tls_handshake(struct rpc_tls *t)
{
	unsigned char b;
	size_t n;
	int r;

	if (t->accepted)
		return 1;
	t->want_write = 0;
	ERR_clear_error();
	errno = 0;
	if (!SSL_is_init_finished(t->ssl)) {
		r = result(t, SSL_do_handshake(t->ssl));
		if (r <= 0)
			return r;
	}
	/* A server, or TLS 1.2 (where the server's Finished came after its
	 * check of us): done. A TLS 1.3 client waits for the ticket that
	 * says it was accepted (or the alert that says why not), reading
	 * without taking what the server may have sent after it. */
	if (t->x->server || SSL_version(t->ssl) != TLS1_3_VERSION) {
		t->accepted = 1;
		return 1;
	}
	r = SSL_peek_ex(t->ssl, &b, 1, &n);
	if (r == 1)
		t->accepted = 1;
	if (t->accepted)
		return 1;
	return result(t, r);
}

int rpc_tls_wait_handshake(struct rpc_tls *t, int timeout_ms)
{
	struct timespec now;
	int64_t end;

	clock_gettime(CLOCK_MONOTONIC, &now);
	end = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + timeout_ms;
	for (;;) {
		struct pollfd p = {.fd = t->fd};
		int r = rpc_tls_handshake(t), left = -1;

		if (r != 0)
			return r > 0 ? 0 : -1;
		if (timeout_ms >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			left = (int)(end - ((int64_t)now.tv_sec * 1000 +
					    now.tv_nsec / 1000000));
			if (left < 0)
				left = 0;
		}
		p.events = t->want_write ? POLLOUT : POLLIN;
		r = poll(&p, 1, left);
		if (r == 0) {
			snprintf(t->why, sizeof(t->why),
				 "TLS: the handshake did not finish in time");
			errno = ETIMEDOUT;
			return -1;
		}
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

ssize_t rpc_tls_read(struct rpc_tls *t, void *buf, size_t len)
{
	size_t n = 0;
	int r;

	t->want_write = 0;
	ERR_clear_error();
	errno = 0;
	r = SSL_read_ex(t->ssl, buf, len, &n);
	if (r == 1)
		return (ssize_t)n;
	return result(t, r);
}

ssize_t rpc_tls_write(struct rpc_tls *t, const void *buf, size_t len)
{
	size_t n = 0;
	int r;

	t->want_write = 0;
	ERR_clear_error();
	errno = 0;
	r = SSL_write_ex(t->ssl, buf, len, &n);
	if (r == 1)
		return (ssize_t)n;
	return result(t, r);
}

int rpc_tls_want_write(const struct rpc_tls *t)
{
	return t->want_write;
}

const char *rpc_tls_why(const struct rpc_tls *t)
{
	return t->why;
}
