/* rpc/codec.c - protobuf's wire format for flat messages, from a plan made
 * once per message type; the rest is left to protobuf-c.
 *
 * The rules are protobuf-c's own, so that the two never differ: which
 * fields a pack writes (a required one always; an optional scalar when its
 * has_ flag is set, an optional string when it is neither NULL nor the
 * default; a proto3 one when it is not zero or empty), in the
 * descriptor's order; how an unpack fills the message (defaults first,
 * the last of repeated occurrences wins, a string NUL-terminated, empty
 * bytes as NULL, a missing required field fails). Where protobuf-c would
 * keep something we do not model (unknown fields) or an encoding is out
 * of the ordinary (a field of another wire type, an over-long varint),
 * the decoder gives up and protobuf-c decides, so whatever it accepts,
 * protobuf-c accepts the same way. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/codec.h"

enum { WT_VARINT = 0, WT_64 = 1, WT_LEN = 2, WT_32 = 5 };

/* What a field holds, as far as the wire is concerned. */
enum kind {
	K_INT32, /* INT32, ENUM: sign-extended to 64 bits */
	K_UINT32,
	K_SINT32,
	K_INT64, /* INT64, UINT64 */
	K_SINT64,
	K_BOOL,
	K_FIXED32, /* FIXED32, SFIXED32 */
	K_FIXED64, /* FIXED64, SFIXED64 */
	K_FLOAT,
	K_DOUBLE,
	K_STRING,
	K_BYTES
};

enum label { L_REQUIRED, L_OPTIONAL, L_PROTO3 };

/* One field of a flat message type. */
struct step {
	uint32_t key;	 /* field number << 3 | wire type */
	uint32_t offset; /* of the value in the message */
	uint32_t has;	 /* of its has_ flag; 0: none */
	uint8_t kind, label;
	const void *def; /* default_value */
};

struct rpc_codec_plan {
	const ProtobufCMessageDescriptor *d;
	uint64_t required; /* steps that must be seen */
	unsigned n;
	struct step s[];
};

/* The decoder remembers the fields it saw in one 64-bit word. */
#define PLAN_MAX_FIELDS 64

/* Kind and wire type of field f, or -1 when it is not flat (repeated, in
 * a oneof, or a message). */
static int classify(const ProtobufCFieldDescriptor *f, uint8_t *kind)
{
	static const struct {
		int8_t kind, wt;
	} map[] = {
	    [PROTOBUF_C_TYPE_INT32] = {K_INT32, WT_VARINT},
	    [PROTOBUF_C_TYPE_SINT32] = {K_SINT32, WT_VARINT},
	    [PROTOBUF_C_TYPE_SFIXED32] = {K_FIXED32, WT_32},
	    [PROTOBUF_C_TYPE_INT64] = {K_INT64, WT_VARINT},
	    [PROTOBUF_C_TYPE_SINT64] = {K_SINT64, WT_VARINT},
	    [PROTOBUF_C_TYPE_SFIXED64] = {K_FIXED64, WT_64},
	    [PROTOBUF_C_TYPE_UINT32] = {K_UINT32, WT_VARINT},
	    [PROTOBUF_C_TYPE_FIXED32] = {K_FIXED32, WT_32},
	    [PROTOBUF_C_TYPE_UINT64] = {K_INT64, WT_VARINT},
	    [PROTOBUF_C_TYPE_FIXED64] = {K_FIXED64, WT_64},
	    [PROTOBUF_C_TYPE_FLOAT] = {K_FLOAT, WT_32},
	    [PROTOBUF_C_TYPE_DOUBLE] = {K_DOUBLE, WT_64},
	    [PROTOBUF_C_TYPE_BOOL] = {K_BOOL, WT_VARINT},
	    [PROTOBUF_C_TYPE_ENUM] = {K_INT32, WT_VARINT},
	    [PROTOBUF_C_TYPE_STRING] = {K_STRING, WT_LEN},
	    [PROTOBUF_C_TYPE_BYTES] = {K_BYTES, WT_LEN},
	    [PROTOBUF_C_TYPE_MESSAGE] = {-1, -1},
	};

	if (f->label == PROTOBUF_C_LABEL_REPEATED ||
	    (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 ||
	    (unsigned)f->type >= sizeof(map) / sizeof(map[0]) ||
	    map[f->type].kind < 0)
		return -1;
	*kind = (uint8_t)map[f->type].kind;
	return map[f->type].wt;
}

struct rpc_codec_plan *rpc_codec_plan_new(const ProtobufCMessageDescriptor *d)
{
	struct rpc_codec_plan *pl;

	if (d == NULL || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC ||
	    d->n_fields > PLAN_MAX_FIELDS || d->message_init == NULL) {
		errno = EINVAL;
		return NULL;
	}
	pl = malloc(sizeof(*pl) + d->n_fields * sizeof(pl->s[0]));
	if (pl == NULL)
		return NULL;
	pl->d = d;
	pl->n = d->n_fields;
	pl->required = 0;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		struct step *st = &pl->s[i];
		int wt = classify(f, &st->kind);

		if (wt < 0) {
			free(pl);
			errno = EINVAL;
			return NULL;
		}
		st->key = f->id << 3 | (unsigned)wt;
		st->offset = f->offset;
		st->def = f->default_value;
		st->has = 0;
		if (f->label == PROTOBUF_C_LABEL_REQUIRED) {
			st->label = L_REQUIRED;
			pl->required |= (uint64_t)1 << i;
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
			st->label = L_OPTIONAL;
			/* An optional string has no has_ flag. */
			if (st->kind != K_STRING)
				st->has = f->quantifier_offset;
		} else {
			st->label = L_PROTO3;
		}
	}
	return pl;
}

void rpc_codec_plan_free(struct rpc_codec_plan *pl)
{
	free(pl);
}

struct rpc_codec_plan **rpc_codec_plans_new(const ProtobufCServiceDescriptor *d)
{
	size_t n = 2 * (size_t)d->n_methods;
	struct rpc_codec_plan **plans = calloc(n ? n : 1, sizeof(*plans));

	for (size_t i = 0; plans != NULL && i < n; i++) {
		const ProtobufCMethodDescriptor *m = &d->methods[i / 2];

		plans[i] = rpc_codec_plan_new(i % 2 ? m->output : m->input);
		if (plans[i] == NULL && errno == ENOMEM) {
			rpc_codec_plans_free(plans, d);
			return NULL;
		}
	}
	return plans;
}

void rpc_codec_plans_free(struct rpc_codec_plan **plans,
			  const ProtobufCServiceDescriptor *d)
{
	if (plans == NULL)
		return;
	for (size_t i = 0; i < 2 * (size_t)d->n_methods; i++)
		rpc_codec_plan_free(plans[i]);
	free(plans);
}

/* ---- packing ---- */

static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *put_fixed(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + n;
}

/* What step st of m puts on the wire, into *w, and its size on the wire
 * (tag included). Returns 0 when protobuf-c's pack does not write it: an
 * optional one without its has_ flag (a string: NULL or the default
 * itself), a proto3 one that is zero or empty. */
static size_t step_wire(const ProtobufCMessage *m, const struct step *st,
			struct rpc_codec_wire *w)
{
	const char *member = (const char *)m + st->offset;
	int p3 = st->label == L_PROTO3;
	const ProtobufCBinaryData *b;
	const char *s;
	uint32_t u32;
	int32_t i32;
	int64_t i64;
	float fl;
	double db;

	if (st->has != 0 &&
	    !*(const protobuf_c_boolean *)((const char *)m + st->has))
		return 0;
	w->key = st->key;
	switch (st->kind) {
	case K_STRING:
		s = *(const char *const *)member;
		if ((st->label == L_OPTIONAL && (s == NULL || s == st->def)) ||
		    (p3 && (s == NULL || s[0] == '\0')))
			return 0;
		w->p = (const uint8_t *)s;
		w->n = s != NULL ? strlen(s) : 0;
		return varint_size(w->key) + varint_size(w->n) + w->n;
	case K_BYTES:
		b = (const ProtobufCBinaryData *)member;
		if (p3 && b->len == 0)
			return 0;
		w->p = b->data;
		w->n = b->len;
		return varint_size(w->key) + varint_size(w->n) + w->n;
	case K_FLOAT:
		memcpy(&fl, member, sizeof(fl));
		memcpy(&u32, member, sizeof(u32));
		w->v = u32;
		return p3 && fl == 0 ? 0 : varint_size(w->key) + 4; /* -0.0 */
	case K_DOUBLE:
		memcpy(&db, member, sizeof(db));
		memcpy(&w->v, member, sizeof(w->v));
		return p3 && db == 0 ? 0 : varint_size(w->key) + 8;
	case K_FIXED32:
		memcpy(&u32, member, sizeof(u32));
		w->v = u32;
		return p3 && u32 == 0 ? 0 : varint_size(w->key) + 4;
	case K_FIXED64:
		memcpy(&w->v, member, sizeof(w->v));
		return p3 && w->v == 0 ? 0 : varint_size(w->key) + 8;
	case K_INT32:
		/* A negative one as its 64-bit two's complement: 10 bytes. */
		memcpy(&i32, member, sizeof(i32));
		w->v = (uint64_t)(int64_t)i32;
		break;
	case K_UINT32:
		memcpy(&u32, member, sizeof(u32));
		w->v = u32;
		break;
	case K_SINT32:
		memcpy(&i32, member, sizeof(i32));
		w->v = (uint32_t)(i32 < 0 ? ~((uint32_t)i32 << 1)
					  : (uint32_t)i32 << 1);
		break;
	case K_SINT64:
		memcpy(&i64, member, sizeof(i64));
		w->v = i64 < 0 ? ~((uint64_t)i64 << 1) : (uint64_t)i64 << 1;
		break;
	case K_BOOL:
		w->v = *(const protobuf_c_boolean *)member != 0;
		break;
	default: /* K_INT64 */
		memcpy(&w->v, member, sizeof(w->v));
		break;
	}
	/* A varint kind: zero exactly when its wire value is. */
	return p3 && w->v == 0 ? 0 : varint_size(w->key) + varint_size(w->v);
}

size_t rpc_codec_measure(struct rpc_codec_prep *pr,
			 const struct rpc_codec_plan *pl,
			 const ProtobufCMessage *m)
{
	size_t size = 0;
	unsigned k = 0;

	pr->m = m;
	/* A handler may answer with a message of another type. */
	if (pl == NULL || m->descriptor != pl->d || m->n_unknown_fields != 0)
		goto slow;
	for (unsigned i = 0; i < pl->n; i++) {
		/* Past the last slot, a field is measured into `spare`; one
		 * that is written sends it all the slow way. */
		struct rpc_codec_wire spare;
		size_t n =
		    step_wire(m, &pl->s[i],
			      k < RPC_CODEC_PREP_FIELDS ? &pr->f[k] : &spare);

		if (n == 0)
			continue;
		if (k == RPC_CODEC_PREP_FIELDS)
			goto slow;
		size += n;
		k++;
	}
	pr->n = k;
	return pr->size = size;
slow:
	pr->n = RPC_CODEC_PREP_FIELDS + 1;
	return pr->size = protobuf_c_message_get_packed_size(m);
}

size_t rpc_codec_write(const struct rpc_codec_prep *pr, uint8_t *out)
{
	uint8_t *p = out;

	if (pr->n > RPC_CODEC_PREP_FIELDS)
		return protobuf_c_message_pack(pr->m, out);
	for (unsigned k = 0; k < pr->n; k++) {
		const struct rpc_codec_wire *w = &pr->f[k];

		p = put_varint(p, w->key);
		switch (w->key & 7) {
		case WT_VARINT:
			p = put_varint(p, w->v);
			break;
		case WT_32:
			p = put_fixed(p, w->v, 4);
			break;
		case WT_64:
			p = put_fixed(p, w->v, 8);
			break;
		default:
			p = put_varint(p, w->n);
			if (w->n > 0)
				memcpy(p, w->p, w->n);
			p += w->n;
			break;
		}
	}
	return (size_t)(p - out);
}

/* ---- unpacking ---- */

static void *sys_alloc(void *data, size_t size)
{
	(void)data;
	return malloc(size);
}

static void sys_free(void *data, void *p)
{
	(void)data;
	free(p);
}

/* Read a varint of more than one byte, at most `max`, at *pp (before
 * `end`): its low 64 bits to *v and, to *nz (when not NULL), whether any
 * bit of it is set, beyond the 64th too (protobuf-c's bool). Advances
 * *pp. Returns 0, or -1 when it does not end within `max` bytes and the
 * data. */
static int get_long_varint(const uint8_t **pp, const uint8_t *end, unsigned max,
			   uint64_t *v, int *nz)
{
	const uint8_t *p = *pp;
	uint64_t x = 0;
	unsigned any = 0;

	for (unsigned i = 0; i < max && p < end; i++) {
		uint8_t b = *p++;

		x |= (uint64_t)(b & 0x7f) << (7 * i);
		any |= b & 0x7fu;
		if ((b & 0x80) == 0) {
			*pp = p;
			*v = x;
			if (nz != NULL)
				*nz = any != 0;
			return 0;
		}
	}
	return -1;
}

/* As get_long_varint, with the one-byte case (tags, lengths, small
 * numbers: most) inline. */
static inline int get_varint(const uint8_t **pp, const uint8_t *end,
			     unsigned max, uint64_t *v, int *nz)
{
	if (*pp < end && **pp < 0x80) {
		*v = **pp;
		if (nz != NULL)
			*nz = **pp != 0;
		(*pp)++;
		return 0;
	}
	return get_long_varint(pp, end, max, v, nz);
}

static uint64_t get_fixed(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Store n bytes at p in string or bytes step st at `member`: a copy from
 * `a`; the value it had goes back to `a` unless it is the default. Returns
 * 0, or -1 when out of memory. */
static int set_bytes(ProtobufCAllocator *a, const struct step *st, char *member,
		     const uint8_t *p, size_t n)
{
	if (st->kind == K_STRING) {
		char **s = (char **)member,
		     *c = a->alloc(a->allocator_data, n + 1);

		if (c == NULL)
			return -1;
		if (*s != NULL && *s != st->def)
			a->free(a->allocator_data, *s);
		memcpy(c, p, n);
		c[n] = '\0';
		*s = c;
	} else {
		ProtobufCBinaryData *b = (ProtobufCBinaryData *)member;
		const ProtobufCBinaryData *def = st->def;
		uint8_t *c = NULL;

		if (n > 0 && (c = a->alloc(a->allocator_data, n)) == NULL)
			return -1;
		if (b->data != NULL && (def == NULL || b->data != def->data))
			a->free(a->allocator_data, b->data);
		if (n > 0)
			memcpy(c, p, n);
		b->data = c;
		b->len = n;
	}
	return 0;
}

/* Decode the value of step st at *pp into `member`. Returns 0, or -1 to
 * leave the whole to protobuf-c. */
static int get_value(ProtobufCAllocator *a, const struct step *st, char *member,
		     const uint8_t **pp, const uint8_t *end)
{
	uint64_t v;
	uint32_t u;
	protobuf_c_boolean b;
	int nz;

	switch (st->kind) {
	case K_FIXED32:
	case K_FLOAT:
		if (end - *pp < 4)
			return -1;
		u = (uint32_t)get_fixed(*pp, 4);
		memcpy(member, &u, sizeof(u));
		*pp += 4;
		return 0;
	case K_FIXED64:
	case K_DOUBLE:
		if (end - *pp < 8)
			return -1;
		v = get_fixed(*pp, 8);
		memcpy(member, &v, sizeof(v));
		*pp += 8;
		return 0;
	case K_STRING:
	case K_BYTES:
		if (get_varint(pp, end, 5, &v, NULL) < 0 || v > INT_MAX ||
		    v > (uint64_t)(end - *pp) ||
		    set_bytes(a, st, member, *pp, (size_t)v) < 0)
			return -1;
		*pp += v;
		return 0;
	default:
		break;
	}
	if (get_varint(pp, end, 10, &v, &nz) < 0)
		return -1;
	/* 32-bit kinds take the low 32 bits, as protobuf-c does. */
	u = (uint32_t)v;
	switch (st->kind) {
	case K_SINT32:
		u = (u >> 1) ^ (0u - (u & 1));
		memcpy(member, &u, sizeof(u));
		break;
	case K_SINT64:
		v = (v >> 1) ^ (0u - (v & 1));
		memcpy(member, &v, sizeof(v));
		break;
	case K_INT64:
		memcpy(member, &v, sizeof(v));
		break;
	case K_BOOL:
		b = nz;
		memcpy(member, &b, sizeof(b));
		break;
	default: /* K_INT32, K_UINT32 */
		memcpy(member, &u, sizeof(u));
		break;
	}
	return 0;
}

/* The step whose key (field number and wire type) is `key`, looked for at
 * `from` first (fields usually come in order), or pl->n. A field of the
 * right number but another wire type is not found. */
static unsigned find_step(const struct rpc_codec_plan *pl, uint64_t key,
			  unsigned from)
{
	if (from < pl->n && pl->s[from].key == key)
		return from;
	for (unsigned i = 0; i < pl->n; i++)
		if (pl->s[i].key == key)
			return i;
	return pl->n;
}

ProtobufCMessage *rpc_codec_flat_unpack(const struct rpc_codec_plan *pl,
					ProtobufCAllocator *a, size_t len,
					const uint8_t *data)
{
	ProtobufCAllocator sys = {sys_alloc, sys_free, NULL};
	const uint8_t *p = data, *end = data + len;
	ProtobufCMessage *m;
	uint64_t seen = 0;
	unsigned next = 0;

	if (a == NULL)
		a = &sys;
	if (len > 0 && data == NULL)
		return NULL;
	m = a->alloc(a->allocator_data, pl->d->sizeof_message);
	if (m == NULL)
		return NULL;
	pl->d->message_init(m);
	while (p < end) {
		const struct step *st;
		uint64_t key;
		unsigned i;

		/* protobuf-c refuses a first byte without field-number
		 * bits. An unknown field, or one of another wire type: for
		 * protobuf-c (it keeps the one, refuses the other). */
		if ((*p & 0xf8) == 0 ||
		    get_varint(&p, end, 5, &key, NULL) < 0 ||
		    (i = find_step(pl, key, next)) == pl->n)
			goto fail;
		st = &pl->s[i];
		if (get_value(a, st, (char *)m + st->offset, &p, end) < 0)
			goto fail;
		if (st->has != 0)
			*(protobuf_c_boolean *)((char *)m + st->has) = 1;
		seen |= (uint64_t)1 << i;
		next = i + 1;
	}
	if ((seen & pl->required) != pl->required)
		goto fail;
	return m;
fail:
	protobuf_c_message_free_unpacked(m, a);
	return NULL;
}

ProtobufCMessage *rpc_codec_unpack(const struct rpc_codec_plan *pl,
				   const ProtobufCMessageDescriptor *d,
				   ProtobufCAllocator *a, size_t len,
				   const uint8_t *data)
{
	ProtobufCMessage *m =
	    pl != NULL ? rpc_codec_flat_unpack(pl, a, len, data) : NULL;

	return m != NULL ? m : protobuf_c_message_unpack(d, a, len, data);
}
