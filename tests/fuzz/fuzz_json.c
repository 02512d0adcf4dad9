/*
 * fuzz_json.c - libFuzzer harness for gt_json_parse, and through it the
 * YAML emitter: every JSON value that parses must print as YAML that reads
 * back as the same value (numbers compared by value, since YAML turns an
 * integral float into an integer).  tests/fuzz/replay.c
 * turns it into a plain program that replays corpus/<name>/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/json.h"
#include "codec/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const json_t *a, const json_t *b)
{
	json_t *x;
	size_t i;

	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return false;
		for (void *it = json_object_iter((json_t *)a); it;
		     it = json_object_iter_next((json_t *)a, it)) {
			x = json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));
			if (!x || !same(json_object_iter_value(it), x))
				return false;
		}
		return true;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		json_array_foreach(a, i, x)
			if (!same(x, json_array_get(b, i)))
				return false;
		return true;
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
	default:
		return true;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gt_buf b = GT_BUF_INIT;
	struct gt_err err;
	json_t *v = NULL, *docs = NULL;

	if (gt_json_parse((const char *)data, size, &v, &err) < 0)
		return 0;
	if (gt_yaml_from_json(v, &b) == 0) {
		if (gt_yaml_to_json(b.data, b.len, &docs, &err) < 0) {
			if (!strstr(err.msg, "nesting deeper") && !strstr(err.msg, "more than")) {
				fprintf(stderr, "YAML output does not parse: %s\n%s\n", err.msg, b.data);
				abort();
			}
		} else if (!json_is_null(v) && !same(v, json_array_get(docs, 0))) {
			fprintf(stderr, "YAML round trip changed the value:\n%s\n", b.data);
			abort();
		}
	}
	json_decref(docs);
	gt_buf_release(&b);
	json_decref(v);
	return 0;
}
