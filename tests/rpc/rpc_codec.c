/* tests/rpc/rpc_codec.c - rpc/codec.c against protobuf-c itself: random
 * messages of every flat field kind (codec.proto, codec3.proto) pack to the
 * same bytes and decode to the same values, the one-pass decoder takes
 * every ordinary encoding, and what it is given otherwise (mutated,
 * truncated, duplicated, unknown fields, hand-made edge cases) it either
 * decodes as protobuf-c does or leaves to it. Running out of memory
 * anywhere in a decode leaks nothing; an arena that spills to malloc
 * frees what spilled.
 *
 * rpc_codec [SEED]: the seed of the random messages (default: from the
 * clock, printed). */
#include "config.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc/codec.h"
#include "rpc/conn.h"
#include "tests/rpc/codec.pb-c.h"
#include "tests/rpc/codec3.pb-c.h"
#include "tests/rpc/codec_check.h"
#include "tests/testutil.h"

#define ROUNDS	  3000u /* random messages of each kind */
#define MUTATIONS 12u	/* mutated encodings of each */

struct rng {
	uint64_t s;
};

static uint64_t next(struct rng *r)
{
	/* xorshift64* */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 2685821657736338717ull;
}

static unsigned below(struct rng *r, unsigned n)
{
	return (unsigned)(next(r) % n);
}

/* Memory a random message points into, freed after it. */
struct pool {
	void *p[64];
	unsigned n;
};

static void *pool_alloc(struct pool *pl, size_t size)
{
	void *p;

	if (pl->n == sizeof(pl->p) / sizeof(pl->p[0]) ||
	    (p = malloc(size + 1)) == NULL)
		return NULL;
	pl->p[pl->n++] = p;
	return p;
}

static void pool_free(struct pool *pl)
{
	while (pl->n > 0)
		free(pl->p[--pl->n]);
}

static uint64_t interesting(struct rng *r)
{
	static const uint64_t v[] = {0,
				     1,
				     (uint64_t)-1,
				     127,
				     128,
				     16383,
				     16384,
				     0x7fffffff,
				     0x80000000,
				     0xffffffff,
				     0x100000000ull,
				     0x7fffffffffffffffull,
				     0x8000000000000000ull};

	if (below(r, 3) == 0)
		return next(r) >> below(r, 64);
	return v[below(r, sizeof(v) / sizeof(v[0]))];
}

static void random_text(struct rng *r, struct pool *pl, char **out)
{
	unsigned len, k = below(r, 8);
	char *s;

	if (k == 0) {
		*out = NULL;
		return;
	}
	len = k == 1 ? 0 : k == 2 ? 200 + below(r, 200) : below(r, 40);
	if ((s = pool_alloc(pl, len)) == NULL) {
		*out = NULL;
		return;
	}
	for (unsigned i = 0; i < len; i++)
		s[i] = (char)(1 + below(r, 255)); /* any byte but NUL */
	s[len] = '\0';
	*out = s;
}

static void random_bytes(struct rng *r, struct pool *pl, ProtobufCBinaryData *b)
{
	unsigned k = below(r, 6);

	b->len = k == 0 ? 0 : k == 1 ? 300 : below(r, 48);
	b->data = k == 2 ? pool_alloc(pl, 1) : NULL; /* empty, not NULL */
	if (k == 2)
		b->len = 0;
	if (b->len > 0 && (b->data = pool_alloc(pl, b->len)) != NULL)
		for (size_t i = 0; i < b->len; i++)
			b->data[i] = (uint8_t)next(r);
	if (b->data == NULL)
		b->len = 0;
}

/* Give each flat field of m (initialised) a random value or none; the
 * non-flat ones of the Nested messages are set when `deep`. */
static void randomise(struct rng *r, struct pool *pl, ProtobufCMessage *m,
		      int deep, ProtobufCMessage *inner)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char *member = (char *)m + f->offset;
		char *q = (char *)m + f->quantifier_offset;
		uint64_t v = interesting(r);
		uint32_t u32 = (uint32_t)v;
		float fl;
		double db;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			int32_t *many;

			if (!deep || f->type != PROTOBUF_C_TYPE_INT32 ||
			    (many = pool_alloc(pl, 3 * sizeof(*many))) == NULL)
				continue;
			many[0] = -1;
			many[1] = 0;
			many[2] = 300;
			*(size_t *)q = 3;
			*(int32_t **)member = many;
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
			if (deep && f->type == PROTOBUF_C_TYPE_INT32) {
				*(uint32_t *)q = f->id;
				*(int32_t *)member = (int32_t)u32;
			}
			continue;
		}
		if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			if (deep)
				*(ProtobufCMessage **)member = inner;
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
		    f->type != PROTOBUF_C_TYPE_STRING)
			*(protobuf_c_boolean *)q = below(r, 2);
		switch (f->type) {
		case PROTOBUF_C_TYPE_STRING:
			if (f->default_value != NULL && below(r, 5) == 0)
				*(const void **)member = f->default_value;
			else
				random_text(r, pl, (char **)member);
			break;
		case PROTOBUF_C_TYPE_BYTES:
			random_bytes(r, pl, (ProtobufCBinaryData *)member);
			break;
		case PROTOBUF_C_TYPE_BOOL:
			*(protobuf_c_boolean *)member = below(r, 2);
			break;
		case PROTOBUF_C_TYPE_FLOAT:
		case PROTOBUF_C_TYPE_DOUBLE:
			/* -0.0 (zero, yet not all bits zero), NaN or
			 * infinity, or an ordinary value. */
			db = below(r, 4) == 0	? -0.0
			     : below(r, 3) == 0 ? (below(r, 2) ? NAN : INFINITY)
						: (double)(int64_t)v / 7.0;
			fl = (float)db;
			if (f->type == PROTOBUF_C_TYPE_FLOAT)
				memcpy(member, &fl, sizeof(fl));
			else
				memcpy(member, &db, sizeof(db));
			break;
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_SINT64:
		case PROTOBUF_C_TYPE_UINT64:
		case PROTOBUF_C_TYPE_SFIXED64:
		case PROTOBUF_C_TYPE_FIXED64:
			memcpy(member, &v, sizeof(v));
			break;
		default:
			memcpy(member, &u32, sizeof(u32));
			break;
		}
	}
}

/* Encodings seen, mutated and run through cc_unpack. */
struct tally {
	unsigned taken, left;
};

static int mutate_and_check(struct rng *r, const ProtobufCMessageDescriptor *d,
			    const uint8_t *enc, size_t len,
			    const uint8_t *other, size_t olen, struct tally *t)
{
	uint8_t buf[2048];
	char why[200];

	for (unsigned k = 0; k < MUTATIONS; k++) {
		size_t n = len < sizeof(buf) / 2 ? len : sizeof(buf) / 2;
		int rc;

		memcpy(buf, enc, n);
		switch (k % 6) {
		case 0: /* a byte changed */
			if (n > 0)
				buf[below(r, (unsigned)n)] ^=
				    (uint8_t)(1 + below(r, 255));
			break;
		case 1: /* cut short */
			n = n > 0 ? below(r, (unsigned)n) : 0;
			break;
		case 2: /* a byte inserted */
			if (n + 1 < sizeof(buf)) {
				size_t at = below(r, (unsigned)n + 1);

				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = (uint8_t)next(r);
				n++;
			}
			break;
		case 3: /* another encoding after it: its fields win */
			if (olen <= sizeof(buf) - n) {
				memcpy(buf + n, other, olen);
				n += olen;
			}
			break;
		case 4:			 /* an unknown field (99, varint) */
			buf[n++] = 0x98; /* 99 << 3 as a varint */
			buf[n++] = 0x06;
			buf[n++] = 0x2a;
			break;
		default: /* random bytes */
			n = below(r, 64);
			for (size_t i = 0; i < n; i++)
				buf[i] = (uint8_t)next(r);
			break;
		}
		rc = cc_unpack(d, buf, n, why, sizeof(why));
		if (rc < 0) {
			fprintf(stderr, "rpc_codec: mutation %u: %s\n", k % 6,
				why);
			return -1;
		}
		if (rc > 0)
			t->taken++;
		else
			t->left++;
	}
	return 0;
}

/* One random message of descriptor d (deep: with its non-flat fields
 * set): packs the same, decodes the same (by the one-pass decoder when
 * flat), and its mutations decode the same. */
static int one(struct rng *r, const ProtobufCMessageDescriptor *d, int deep,
	       uint8_t *prev, size_t *prev_len, struct tally *t)
{
	struct pool mem = {0};
	ProtobufCMessage *m = calloc(1, d->sizeof_message);
	ProtobufCMessage *inner = NULL;
	struct rpc_codec_plan *plan;
	uint8_t *enc = NULL;
	size_t len;
	char why[200];
	int rc = -1, flat;

	if (m == NULL)
		return -1;
	d->message_init(m);
	if (deep && d == &codectest__nested2__descriptor) {
		/* A Flat2 with its required fields inside. */
		Codectest__Flat2 *f2 = pool_alloc(&mem, sizeof(*f2));

		if (f2 != NULL) {
			codectest__flat2__init(f2);
			f2->r_string = "inner";
			inner = &f2->base;
		}
	} else if (deep) {
		Codectest3__Flat3 *f3 = pool_alloc(&mem, sizeof(*f3));

		if (f3 != NULL) {
			codectest3__flat3__init(f3);
			f3->seq = 9;
			inner = &f3->base;
		}
	}
	randomise(r, &mem, m, deep, inner);
	/* Flat: a type with no repeated, sub-message or oneof fields at
	 * all. The others have no plan. */
	plan = rpc_codec_plan_new(d);
	flat = plan != NULL;
	rpc_codec_plan_free(plan);
	if (flat != (d == &codectest__flat2__descriptor ||
		     d == &codectest3__flat3__descriptor)) {
		fprintf(stderr, "rpc_codec: %s: %s plan\n", d->name,
			flat ? "a" : "no");
		goto out;
	}
	if (cc_pack(m, why, sizeof(why)) < 0) {
		fprintf(stderr, "rpc_codec: pack: %s\n", why);
		goto out;
	}
	len = protobuf_c_message_get_packed_size(m);
	if ((enc = malloc(len + 1)) == NULL)
		goto out;
	protobuf_c_message_pack(m, enc);
	rc = cc_unpack(d, enc, len, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "rpc_codec: unpack: %s\n", why);
		goto out;
	}
	/* Every ordinary encoding of a flat type takes the fast way. */
	if (rc != flat) {
		fprintf(stderr,
			"rpc_codec: %s: the one-pass decoder %s a message\n",
			d->name, rc ? "took" : "left");
		rc = -1;
		goto out;
	}
	rc = mutate_and_check(r, d, enc, len, prev, *prev_len, t);
	if (len <= 1024) {
		memcpy(prev, enc, len);
		*prev_len = len;
	}
out:
	free(enc);
	free(m);
	pool_free(&mem);
	return rc < 0 ? -1 : 0;
}

static int random_messages(uint64_t seed)
{
	const ProtobufCMessageDescriptor *ds[] = {
	    &codectest__flat2__descriptor, &codectest3__flat3__descriptor,
	    &codectest__nested2__descriptor, &codectest3__nested3__descriptor};
	struct rng r = {seed | 1};
	struct tally t = {0, 0};
	uint8_t prev[1024];

	for (unsigned k = 0; k < 4; k++) {
		size_t prev_len = 0;

		for (unsigned i = 0; i < ROUNDS; i++) {
			int deep = k >= 2 && (i & 1);

			if (one(&r, ds[k], deep, prev, &prev_len, &t) < 0) {
				fprintf(stderr, "rpc_codec: %s, round %u\n",
					ds[k]->name, i);
				return -1;
			}
		}
	}
	printf("rpc_codec: mutated encodings: %u decoded in one pass, %u "
	       "left to protobuf-c\n",
	       t.taken, t.left);
	/* Both ways are exercised, or the comparison proves nothing. */
	return t.taken > 100 && t.left > 100 ? 0 : -1;
}

/* Hand-made encodings: each decodes as protobuf-c decodes it, and the
 * one-pass decoder takes it or not as said. */
struct edge {
	const char *what;
	const ProtobufCMessageDescriptor *d;
	const char *bytes;
	size_t len;
	int taken;
};

#define E(what, d, s, taken)                                                   \
	{                                                                      \
		what, d, s, sizeof(s) - 1, taken                               \
	}

static int edges(void)
{
	const ProtobufCMessageDescriptor *f2 = &codectest__flat2__descriptor;
	const ProtobufCMessageDescriptor *f3 = &codectest3__flat3__descriptor;
	const struct edge e[] = {
	    E("empty proto3", f3, "", 1),
	    E("empty proto2: required fields missing", f2, "", 0),
	    E("int32 -1 in 10 bytes", f3,
	      "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 1),
	    E("int32 from a 64-bit varint: low bits", f3,
	      "\x08\x80\x80\x80\x80\x10", 1),
	    E("bool set only past bit 64", f3,
	      "\x68\x80\x80\x80\x80\x80\x80\x80\x80\x80\x02", 1),
	    E("bool 0 in 2 bytes", f3, "\x68\x80\x00", 1),
	    E("varint of 11 bytes", f3,
	      "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 0),
	    E("varint cut short", f3, "\x08\xff", 0),
	    E("field number 0", f3, "\x00\x01", 0),
	    E("tag with an empty first byte", f3, "\x80\x01\x01", 0),
	    E("tag of 2 bytes (field 2047)", f3, "\xf8\x7f\x05", 1),
	    E("unknown field", f3, "\xf8\x01\x05", 0),
	    E("wrong wire type", f3, "\x0d\x01\x02\x03\x04", 0),
	    E("group", f3, "\x0b\x0c", 0),
	    E("string longer than the data", f3, "\x7a\x05\x61\x62", 0),
	    E("string with a NUL inside", f3, "\x7a\x03\x61\x00\x62", 1),
	    E("empty bytes", f3, "\x82\x01\x00", 1),
	    E("fixed32 cut short", f3, "\x3d\x01\x02\x03", 0),
	    E("fixed64", f3, "\x49\x01\x02\x03\x04\x05\x06\x07\x08", 1),
	    E("string twice: the last wins", f3, "\x7a\x01\x61\x7a\x01\x62", 1),
	    E("length of 6 bytes", f3, "\x7a\x81\x80\x80\x80\x80\x00\x61", 0),
	    E("proto2 required only", f2, "\x08\x05\x8a\x01\x00\x92\x01\x00",
	      1),
	    E("proto2 field 536870911", f2,
	      "\x08\x05\x8a\x01\x00\x92\x01\x00\xf8\xff\xff\xff\x0f\x01", 1),
	    E("proto2 enum -5 (10 bytes)", f2,
	      "\x08\x05\x8a\x01\x00\x92\x01\x00"
	      "\x70\xfb\xff\xff\xff\xff\xff\xff\xff\xff\x01",
	      1),
	    E("proto2 enum value unknown to it", f2,
	      "\x08\x05\x8a\x01\x00\x92\x01\x00\x70\x63", 1),
	    E("proto2 one required missing", f2, "\x08\x05\x8a\x01\x00", 0),
	};
	char why[200];
	int rc = 0;

	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		int got = cc_unpack(e[i].d, (const uint8_t *)e[i].bytes,
				    e[i].len, why, sizeof(why));

		if (got < 0) {
			fprintf(stderr, "rpc_codec: %s: %s\n", e[i].what, why);
			rc = -1;
		} else if (got != e[i].taken) {
			fprintf(stderr,
				"rpc_codec: %s: %s by the one-pass "
				"decoder\n",
				e[i].what, got ? "taken" : "not taken");
			rc = -1;
		}
	}
	return rc;
}

/* An allocator that fails from its `fail_at`-th allocation on. */
struct failing {
	ProtobufCAllocator a;
	unsigned count, fail_at, live;
};

static void *failing_alloc(void *data, size_t size)
{
	struct failing *f = data;
	void *p;

	if (f->count++ >= f->fail_at || (p = malloc(size)) == NULL)
		return NULL;
	f->live++;
	return p;
}

static void failing_free(void *data, void *p)
{
	struct failing *f = data;

	f->live--;
	free(p);
}

/* Out of memory at each allocation in turn: NULL and nothing held, until
 * there is enough. */
static int out_of_memory(const struct rpc_codec_plan *pl)
{
	/* a_string twice, a_bytes, seq: four allocations and the message */
	static const uint8_t enc[] = {0x7a, 0x02, 'h',	'i',  0x7a,
				      0x01, 'x',  0x82, 0x01, 0x02,
				      1,    2,	  0xf8, 0x7f, 3};

	for (unsigned k = 0; k <= 10; k++) {
		struct failing f = {
		    {failing_alloc, failing_free, NULL}, 0, k, 0};
		ProtobufCMessage *m;
		Codectest3__Flat3 *f3;

		f.a.allocator_data = &f;
		m = rpc_codec_flat_unpack(pl, &f.a, sizeof(enc), enc);
		if (m == NULL && f.live != 0) {
			fprintf(stderr,
				"rpc_codec: %u allocations held after "
				"failing at %u\n",
				f.live, k);
			return -1;
		}
		if (m == NULL)
			continue;
		f3 = (Codectest3__Flat3 *)m;
		if (k != 4 || strcmp(f3->a_string, "x") != 0 ||
		    f3->a_bytes.len != 2 || f3->seq != 3) {
			fprintf(stderr,
				"rpc_codec: decoded at %u allocations\n", k);
			return -1;
		}
		protobuf_c_message_free_unpacked(m, &f.a);
		return f.live == 0 ? 0 : -1;
	}
	return -1;
}

/* A message too large for an arena spills to malloc and is freed, also
 * when the one-pass decoder gives up after it spilled. */
static int arena_spill(const struct rpc_codec_plan *pl)
{
	const ProtobufCMessageDescriptor *d = &codectest3__flat3__descriptor;
	struct vchan_rpc_arena ar;
	uint8_t big[1200];
	ProtobufCMessage *m;
	char why[200];

	/* 1,100 bytes of string: more than the arena holds. */
	big[0] = 0x7a;
	big[1] = 0xcc; /* 1100 = 0x44c */
	big[2] = 0x08;
	memset(big + 3, 'a', 1100);
	m = vchan_rpc_arena_unpack(&ar, pl, d, 1103, big);
	if (m == NULL || ar.spilled == 0 ||
	    strlen(((Codectest3__Flat3 *)m)->a_string) != 1100) {
		fprintf(stderr, "rpc_codec: arena: no spilled message\n");
		vchan_rpc_arena_free(&ar, m);
		return -1;
	}
	vchan_rpc_arena_free(&ar, m);
	/* Spilled, then an unknown field: protobuf-c decodes it again. */
	big[1103] = 0xf8;
	big[1104] = 0x01;
	big[1105] = 0x05;
	m = vchan_rpc_arena_unpack(&ar, pl, d, 1106, big);
	if (m == NULL || m->n_unknown_fields != 1) {
		fprintf(stderr, "rpc_codec: arena: unknown field lost\n");
		vchan_rpc_arena_free(&ar, m);
		return -1;
	}
	vchan_rpc_arena_free(&ar, m);
	return cc_unpack(d, big, 1106, why, sizeof(why)) == 0 ? 0 : -1;
}

static int memory(void)
{
	struct rpc_codec_plan *pl =
	    rpc_codec_plan_new(&codectest3__flat3__descriptor);
	int rc = pl != NULL && out_of_memory(pl) == 0 && arena_spill(pl) == 0
		     ? 0
		     : -1;

	rpc_codec_plan_free(pl);
	return rc;
}

int main(int argc, char **argv)
{
	struct tu_scenarios r = {0};
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0)
				 : (uint64_t)time(NULL) * 2654435761u;

	fprintf(stderr, "rpc_codec: seed %llu\n", (unsigned long long)seed);
	TU_SCENARIO(&r, "random messages", random_messages(seed));
	TU_SCENARIO(&r, "edge cases", edges());
	TU_SCENARIO(&r, "memory", memory());
	return tu_scenarios_done(&r);
}
