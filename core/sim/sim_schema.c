/*
 * sim_schema.c: a value that satisfies a JSON Schema, as a model fills a tool's
 * arguments or a json_schema answer: every required property present with a value
 * of its type (enum and const honoured, local $ref followed, nested objects and
 * arrays built the same way). Deterministic; bounded in depth and size so that a
 * hostile schema cannot make it loop or grow without end.
 */
#include "sim/sim_gen.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define SCHEMA_DEPTH_MAX 12
#define SCHEMA_ITEMS_MAX 4
#define SCHEMA_PROPS_MAX 64

struct schema_walk {
	const cJSON *root; /* for "#/$defs/x" and "#/definitions/x" */
	int nodes;         /* values built so far: a budget against blow-ups */
};

static cJSON *schema_value(struct schema_walk *, const cJSON *s, const char *key, int depth);

/* The schema a local "$ref" points at ("#", "#/$defs/a", "#/definitions/a/properties/b"). */
static const cJSON *
schema_deref(const struct schema_walk *w, const cJSON *s)
{
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(s, "$ref"), *at;
	const char *p;
	char part[128];
	size_t n;

	for (int hops = 0; cJSON_IsString(ref) && hops < 8; hops++) {
		p = ref->valuestring;
		if (p[0] != '#')
			return s;
		at = w->root;
		p++;
		while (*p == '/' && at != NULL) {
			p++;
			n = strcspn(p, "/");
			if (n >= sizeof part)
				return s;
			memcpy(part, p, n);
			part[n] = '\0';
			at = cJSON_GetObjectItemCaseSensitive(at, part);
			p += n;
		}
		if (!cJSON_IsObject(at))
			return s;
		s = at;
		ref = cJSON_GetObjectItemCaseSensitive(s, "$ref");
	}
	return s;
}

/* The schema's type: "type" (the first non-null one of a list), else guessed from its keys. */
static const char *
schema_type(const cJSON *s)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "type"), *e;

	if (cJSON_IsString(t))
		return t->valuestring;
	if (cJSON_IsArray(t)) {
		cJSON_ArrayForEach(e, t)
		{
			if (cJSON_IsString(e) && strcmp(e->valuestring, "null") != 0)
				return e->valuestring;
		}
		return "null";
	}
	if (cJSON_GetObjectItemCaseSensitive(s, "properties") != NULL)
		return "object";
	if (cJSON_GetObjectItemCaseSensitive(s, "items") != NULL)
		return "array";
	return "string";
}

static double
schema_number(const cJSON *s, double def)
{
	const cJSON *lo = cJSON_GetObjectItemCaseSensitive(s, "minimum");
	const cJSON *hi = cJSON_GetObjectItemCaseSensitive(s, "maximum");
	const cJSON *xlo = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMinimum");
	double v = def;

	if (cJSON_IsNumber(lo) && v < lo->valuedouble)
		v = lo->valuedouble;
	if (cJSON_IsNumber(xlo) && v <= xlo->valuedouble)
		v = xlo->valuedouble + 1;
	if (cJSON_IsNumber(hi) && v > hi->valuedouble)
		v = hi->valuedouble;
	return v;
}

static cJSON *
schema_string(const cJSON *s, const char *key)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(s, "format");
	const char *fmt = cJSON_IsString(f) ? f->valuestring : "";
	char v[160];

	if (strcmp(fmt, "date-time") == 0)
		return cJSON_CreateString("2025-01-01T00:00:00Z");
	if (strcmp(fmt, "date") == 0)
		return cJSON_CreateString("2025-01-01");
	if (strcmp(fmt, "time") == 0)
		return cJSON_CreateString("12:00:00");
	if (strcmp(fmt, "email") == 0)
		return cJSON_CreateString("sim@example.com");
	if (strcmp(fmt, "uri") == 0 || strcmp(fmt, "url") == 0)
		return cJSON_CreateString("https://example.com/sim");
	if (strcmp(fmt, "uuid") == 0)
		return cJSON_CreateString("00000000-0000-4000-8000-000000000000");
	snprintf(v, sizeof v, "sim %.120s", key != NULL ? key : "value");
	return cJSON_CreateString(v);
}

static cJSON *
schema_object(struct schema_walk *w, const cJSON *s, int depth)
{
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required"), *r, *p;
	cJSON *o = cJSON_CreateObject();
	int n = 0;

	if (cJSON_IsArray(req) && cJSON_GetArraySize(req) > 0) {
		cJSON_ArrayForEach(r, req)
		{
			if (!cJSON_IsString(r) || n++ >= SCHEMA_PROPS_MAX ||
			    cJSON_GetObjectItemCaseSensitive(o, r->valuestring) != NULL)
				continue;
			p = cJSON_GetObjectItemCaseSensitive(props, r->valuestring);
			cJSON_AddItemToObject(o, r->valuestring,
			    p != NULL ? schema_value(w, p, r->valuestring, depth + 1)
			              : cJSON_CreateString("sim"));
		}
		return o;
	}
	/* Nothing required: fill every property, as a helpful model would. */
	cJSON_ArrayForEach(p, props)
	{
		if (p->string == NULL || n++ >= SCHEMA_PROPS_MAX)
			break;
		cJSON_AddItemToObject(o, p->string, schema_value(w, p, p->string, depth + 1));
	}
	return o;
}

static cJSON *
schema_value(struct schema_walk *w, const cJSON *s, const char *key, int depth)
{
	const cJSON *v, *items;
	const char *type;
	cJSON *a;
	int n;

	if (depth > SCHEMA_DEPTH_MAX || ++w->nodes > 4096 || !cJSON_IsObject(s))
		return cJSON_CreateNull();
	s = schema_deref(w, s);
	if ((v = cJSON_GetObjectItemCaseSensitive(s, "const")) != NULL)
		return cJSON_Duplicate(v, 1);
	v = cJSON_GetObjectItemCaseSensitive(s, "enum");
	if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0)
		return cJSON_Duplicate(cJSON_GetArrayItem(v, 0), 1);
	if ((v = cJSON_GetObjectItemCaseSensitive(s, "anyOf")) != NULL ||
	    (v = cJSON_GetObjectItemCaseSensitive(s, "oneOf")) != NULL ||
	    (v = cJSON_GetObjectItemCaseSensitive(s, "allOf")) != NULL) {
		/* The first alternative that is not null. */
		const cJSON *alt, *pick = NULL;

		cJSON_ArrayForEach(alt, v)
		{
			if (pick == NULL || strcmp(schema_type(schema_deref(w, pick)), "null") == 0)
				pick = alt;
		}
		if (pick != NULL)
			return schema_value(w, pick, key, depth + 1);
	}
	type = schema_type(s);
	if (strcmp(type, "object") == 0)
		return schema_object(w, s, depth);
	if (strcmp(type, "array") == 0) {
		a = cJSON_CreateArray();
		items = cJSON_GetObjectItemCaseSensitive(s, "items");
		v = cJSON_GetObjectItemCaseSensitive(s, "minItems");
		n = cJSON_IsNumber(v) && v->valuedouble > 1 ? (int)v->valuedouble : 1;
		if (n > SCHEMA_ITEMS_MAX)
			n = SCHEMA_ITEMS_MAX;
		v = cJSON_GetObjectItemCaseSensitive(s, "maxItems");
		if (cJSON_IsNumber(v) && v->valuedouble < n)
			n = v->valuedouble < 0 ? 0 : (int)v->valuedouble;
		for (int i = 0; i < n; i++)
			cJSON_AddItemToArray(a,
			    items != NULL ? schema_value(w, items, key, depth + 1)
			                  : cJSON_CreateString("sim"));
		return a;
	}
	if (strcmp(type, "integer") == 0) {
		double x = schema_number(s, 1);

		/* whole already beyond 2^53; converting those to an integer type is undefined */
		return cJSON_CreateNumber(x > -9e15 && x < 9e15 ? (double)(long long)x : x);
	}
	if (strcmp(type, "number") == 0)
		return cJSON_CreateNumber(schema_number(s, 1.5));
	if (strcmp(type, "boolean") == 0)
		return cJSON_CreateTrue();
	if (strcmp(type, "null") == 0)
		return cJSON_CreateNull();
	return schema_string(s, key);
}

cJSON *
sim_schema_example(const cJSON *schema)
{
	struct schema_walk w = {schema, 0};

	if (!cJSON_IsObject(schema))
		return cJSON_CreateObject();
	return schema_value(&w, schema, NULL, 0);
}
