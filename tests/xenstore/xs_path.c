/* tests/xenstore/xs_path.c - XenStore's path rules and argument checks:
 * bad arguments fail with EINVAL (never a crash), good ones reach the
 * store. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/xenstore/xtest.h"
#include "xenstore/xs.h"

/* A valid path of exactly len bytes, absolute or relative, made of names
 * of at most 100 characters (file systems limit a name to 255). */
static char *long_path(size_t len, int absolute)
{
	char *p = malloc(len + 8); /* room for a caller to append a key */
	size_t i = 0, comp = 0;

	assert_non_null(p);
	if (absolute)
		p[i++] = '/';
	while (i < len) {
		/* Never end on '/' nor put two in a row. */
		if (comp == 100 && i + 1 < len) {
			p[i++] = '/';
			comp = 0;
			continue;
		}
		p[i++] = (char)('a' + comp % 26);
		comp++;
	}
	p[len] = '\0';
	return p;
}

static void check_bad(vchan_xs *xs, const char *path)
{
	struct vchan_xs_kv kv = {.key = "k", .value = "v"};

	errno = 0;
	assert_null(vchan_xs_read(xs, path, NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(vchan_xs_rm(xs, path), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(vchan_xs_watch(xs, path, "tok"), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(vchan_xs_unwatch(xs, path, "tok"), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(vchan_xs_publish(xs, path, &kv, 1, 1), -1);
	assert_int_equal(errno, EINVAL);
}

static void test_bad_paths(void **state)
{
	static const char *const bad[] = {
	    "",		 "/a/",	  "a/",	   "//",     "/a//b",	"a//b",	 ".",
	    "..",	 "/.",	  "/..",   "/a/./b", "/a/../b", "a.b",	 "/a.b",
	    "/a b",	 "/a\tb", "/a\nb", "/a*",    "/a:b",	"/a\\b", "~",
	    "/\xc3\xa9", "/a/b/", "///",   "./a",    "a/.",
	};
	vchan_xs *xs = vchan_xs_open();
	char *p;

	(void)state;
	assert_non_null(xs);
	check_bad(xs, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad(xs, bad[i]);
	p = long_path(3073, 1);
	check_bad(xs, p);
	free(p);
	p = long_path(2049, 0);
	check_bad(xs, p);
	free(p);
	vchan_xs_close(xs);
}

/* Valid paths reach the store: missing nodes read ENOENT, rm says 0,
 * watches can be set and removed. */
static void check_good(vchan_xs *xs, const char *path)
{
	errno = 0;
	assert_null(vchan_xs_read(xs, path, NULL));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(vchan_xs_rm(xs, path), 0);
	assert_int_equal(vchan_xs_watch(xs, path, "tok"), 0);
	assert_int_equal(vchan_xs_unwatch(xs, path, "tok"), 0);
}

static void test_good_paths(void **state)
{
	static const char *const good[] = {
	    "/a",     "a",	    "/local/domain/0/x-y_z@1", "A9", "-", "@x",
	    "/_/-/@", "data/a/b/c",
	};
	vchan_xs *xs = vchan_xs_open();
	size_t len;
	char *p;

	(void)state;
	assert_non_null(xs);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		check_good(xs, good[i]);
	p = long_path(3072, 1);
	check_good(xs, p);
	free(p);
	p = long_path(2048, 0);
	check_good(xs, p);
	free(p);
	/* The root exists (and cannot be removed). */
	p = vchan_xs_read(xs, "/", &len);
	assert_non_null(p);
	assert_int_equal(len, 0);
	free(p);
	errno = 0;
	assert_int_equal(vchan_xs_rm(xs, "/"), -1);
	assert_int_equal(errno, EINVAL);
	vchan_xs_close(xs);
}

static void check_publish_einval(vchan_xs *xs, const char *dir,
				 const struct vchan_xs_kv *kv, size_t n,
				 uint32_t peer)
{
	errno = 0;
	assert_int_equal(vchan_xs_publish(xs, dir, kv, n, peer), -1);
	assert_int_equal(errno, EINVAL);
}

static void test_publish_args(void **state)
{
	static const char *const bad_keys[] = {"",   "a/b", ".", "a.b",
					       "/a", "a/",  " ", "a b"};
	char *big = malloc(4098), *dir, *v;
	struct vchan_xs_kv kv[2];
	vchan_xs *xs = vchan_xs_open();
	size_t len;

	(void)state;
	assert_non_null(xs);
	assert_non_null(big);
	kv[0].key = "ok";
	kv[0].value = "1";
	for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
		kv[1].key = bad_keys[i];
		kv[1].value = "v";
		check_publish_einval(xs, "data/pa", kv, 2, 1);
	}
	kv[1].key = NULL;
	check_publish_einval(xs, "data/pa", kv, 2, 1);
	kv[1].key = "k";
	kv[1].value = NULL;
	check_publish_einval(xs, "data/pa", kv, 2, 1);
	check_publish_einval(xs, "data/pa", NULL, 1, 1);
	check_publish_einval(xs, "data/pa", kv, 1, 0x7FF0);
	check_publish_einval(xs, "data/pa", kv, 1, UINT32_MAX);
	/* A refused publish wrote nothing, not even the good key. */
	errno = 0;
	assert_null(vchan_xs_read(xs, "data/pa/ok", NULL));
	assert_int_equal(errno, ENOENT);

	/* Values: 4096 bytes fit, 4097 do not. */
	memset(big, 'x', 4097);
	big[4097] = '\0';
	kv[1].value = big;
	check_publish_einval(xs, "data/pa", kv, 2, 1);
	big[4096] = '\0';
	assert_int_equal(vchan_xs_publish(xs, "data/pa", kv, 2, 1), 0);
	v = vchan_xs_read(xs, "data/pa/k", &len);
	assert_non_null(v);
	assert_int_equal(len, 4096);
	assert_memory_equal(v, big, 4096);
	free(v);

	/* dir + "/" + key within 3072 bytes. */
	dir = long_path(3070, 1);
	kv[0].key = "ab";
	check_publish_einval(xs, dir, kv, 1, 1);
	kv[0].key = "a";
	assert_int_equal(vchan_xs_publish(xs, dir, kv, 1, 1), 0);
	strcat(dir, "/a");
	v = vchan_xs_read(xs, dir, &len);
	assert_non_null(v);
	assert_string_equal(v, "1");
	assert_int_equal(len, 1);
	free(v);
	free(dir);
	/* And 2048 for a relative one. */
	dir = long_path(2045, 0);
	kv[0].key = "abc";
	check_publish_einval(xs, dir, kv, 1, 1);
	free(dir);

	free(big);
	vchan_xs_close(xs);
}

static void test_null_and_tokens(void **state)
{
	struct vchan_xs_kv kv = {.key = "k", .value = "v"};
	vchan_xs *xs = vchan_xs_open();
	char *path = NULL, *token = NULL, *tok;

	(void)state;
	assert_non_null(xs);
	errno = 0;
	assert_int_equal(vchan_xs_close(NULL), 0);
	assert_int_equal(errno, 0);
	errno = 0;
	assert_int_equal(vchan_xs_domid(NULL), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(vchan_xs_publish(NULL, "data/x", &kv, 1, 1), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(vchan_xs_read(NULL, "data/x", NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(vchan_xs_rm(NULL, "data/x"), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(vchan_xs_watch(NULL, "data/x", "t"), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(vchan_xs_unwatch(NULL, "data/x", "t"), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(vchan_xs_fd(NULL), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(vchan_xs_read_watch(NULL, &path, &token), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(vchan_xs_read_watch(xs, NULL, &token), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(vchan_xs_read_watch(xs, &path, NULL), -1);
	assert_int_equal(errno, EINVAL);

	/* Tokens: NULL, and path + token beyond one 4096-byte message. */
	errno = 0;
	assert_int_equal(vchan_xs_watch(xs, "data/x", NULL), -1);
	assert_int_equal(errno, EINVAL);
	tok = malloc(4096);
	assert_non_null(tok);
	memset(tok, 't', 4095);
	tok[4095] = '\0';
	errno = 0;
	assert_int_equal(vchan_xs_watch(xs, "data/x", tok), -1);
	assert_int_equal(errno, EINVAL);
	/* "data/x" + NUL + token + NUL = 4096 exactly. */
	tok[4096 - 7 - 1] = '\0';
	assert_int_equal(vchan_xs_watch(xs, "data/x", tok), 0);
	assert_int_equal(vchan_xs_read_watch(xs, &path, &token), 1);
	assert_string_equal(path, "data/x");
	assert_string_equal(token, tok);
	free(path);
	free(token);
	assert_int_equal(vchan_xs_unwatch(xs, "data/x", tok), 0);
	free(tok);
	assert_int_equal(vchan_xs_close(xs), 0);
}

static void test_environment(void **state)
{
	vchan_xs *xs;

	(void)state;
	setenv("VCHAN_DOMID", "abc", 1);
	errno = 0;
	assert_null(vchan_xs_open());
	assert_int_equal(errno, EINVAL);
	setenv("VCHAN_DOMID", "32752", 1);
	errno = 0;
	assert_null(vchan_xs_open());
	assert_int_equal(errno, EINVAL);
	setenv("VCHAN_DOMID", "12", 1);
	xs = vchan_xs_open();
	assert_non_null(xs);
	assert_int_equal(vchan_xs_domid(xs), 12);
	vchan_xs_close(xs);
	unsetenv("VCHAN_DOMID");

	setenv("VCHAN_PLATFORM", "bogus", 1);
	errno = 0;
	assert_null(vchan_xs_open());
	assert_int_equal(errno, EINVAL);
	setenv("VCHAN_PLATFORM", "sim", 1);

	/* A xenstored socket that is not there: no silent fallback. */
	setenv("XENSTORED_PATH", "/nonexistent/xenstored/socket", 1);
	errno = 0;
	assert_null(vchan_xs_open());
#ifdef HAVE_XEN
	assert_true(errno == ENOENT || errno == ECONNREFUSED);
#else
	assert_int_equal(errno, ENOSYS);
#endif
	unsetenv("XENSTORED_PATH");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_paths),
	    cmocka_unit_test(test_good_paths),
	    cmocka_unit_test(test_publish_args),
	    cmocka_unit_test(test_null_and_tokens),
	    cmocka_unit_test(test_environment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
